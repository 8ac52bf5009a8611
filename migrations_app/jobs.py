"""The job kind owned by the migrations app: a run's job (services.runs.migration_job), resumable
like every kind whose work is checkpointed on its rows (twinadmin.jobs.leases)."""

from __future__ import annotations

import contextlib
from typing import Any

from migrations_app.models import NamespaceMigration
from migrations_app.services import JOB_KIND, MigrationStateError, migration_cancel, migration_job
from migrations_app.services.runs import _audit_run
from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.leases import runner_label
from twinadmin.jobs.models import Job
from twinadmin.vectors import RateLimited, TransientError


def _run_continues(old: Job, new: Job) -> None:
    """A worker died under the run's job and another one takes it over: the run follows."""
    run = NamespaceMigration.objects.filter(job=old).first()
    if run is None:
        return
    NamespaceMigration.objects.filter(pk=run.pk).update(job=new, attempt=run.attempt + 1)
    _audit_run(
        run,
        "migration.run.continue",
        actor=runner_label(),
        outcome="info",
        details={"from_job": old.pk, "job": new.pk, "attempt": run.attempt + 1, "phase": run.phase},
    )


def _run_cancelled(job: Job, actor: Any, reason: str) -> None:
    """The jobs page cancelled the run's pending job: the run is cancelled with it."""
    run = NamespaceMigration.objects.filter(job=job).first()
    if run is None:
        return
    with contextlib.suppress(MigrationStateError):  # finished meanwhile
        migration_cancel(run=run, actor=actor, reason=reason)


job_handler(
    JOB_KIND,
    resumable=True,
    on_continue=_run_continues,
    retry_on=(TransientError, RateLimited),
    on_cancel=_run_cancelled,
)(migration_job)
