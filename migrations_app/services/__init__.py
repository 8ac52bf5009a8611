"""Writes of the migrations app: plans, runs, cancel / resume / roll back, backups.

Runs execute phase by phase (`migration_phase_execute`): the Celery chain calls it once per
phase, `migration_execute` calls it in this process for the commands. Either way a phase first
claims the run with a conditional UPDATE (the attempt must match, no live runner may hold it),
so duplicate deliveries do the work once and a stale delivery after a resume does nothing.
"""

from migrations_app.pipeline import RollbackRefused
from migrations_app.planning import PlanError
from migrations_app.services.actions import (
    migration_cancel,
    migration_cancel_for_creator,
    migration_resume,
    migration_rollback,
    migration_runs_sweep,
    migrations_still_running,
)
from migrations_app.services.backup_records import backup_delete, backups_for_creator
from migrations_app.services.common import JOB_KIND, MigrationStateError
from migrations_app.services.runs import (
    migration_create,
    migration_enqueue,
    migration_execute,
    migration_phase_execute,
    migration_preview,
    new_runner_token,
    remaining_phases,
    run_claim,
    run_verified,
    runner_is_gone,
)

__all__ = [
    "JOB_KIND",
    "new_runner_token",
    "remaining_phases",
    "run_claim",
    "run_verified",
    "runner_is_gone",
    "MigrationStateError",
    "PlanError",
    "RollbackRefused",
    "backup_delete",
    "backups_for_creator",
    "migration_cancel",
    "migration_cancel_for_creator",
    "migration_create",
    "migration_enqueue",
    "migration_execute",
    "migration_phase_execute",
    "migration_preview",
    "migration_resume",
    "migration_rollback",
    "migration_runs_sweep",
    "migrations_still_running",
]
