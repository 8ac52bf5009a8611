"""Writes of the migrations app: plans, runs, cancel / resume / roll back, backups.

A run is carried by a job of the jobs app (`migration_job` is its handler, `migration_execute`
runs it in this process for the commands): claimed once however often it is delivered, fenced
by its lease, continued by a new job when its worker dies.
"""

from migrations_app.pipeline import RollbackRefused
from migrations_app.planning import PlanError
from migrations_app.services.actions import (
    migration_cancel,
    migration_cancel_for_creator,
    migration_resume,
    migration_rollback,
    migrations_still_running,
)
from migrations_app.services.backup_records import backup_delete, backups_for_creator
from migrations_app.services.common import JOB_KIND, MigrationStateError
from migrations_app.services.runs import (
    migration_create,
    migration_enqueue,
    migration_execute,
    migration_job,
    migration_preview,
    remaining_phases,
    run_verified,
)

__all__ = [
    "JOB_KIND",
    "remaining_phases",
    "run_verified",
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
    "migration_job",
    "migration_preview",
    "migration_resume",
    "migration_rollback",
    "migrations_still_running",
]
