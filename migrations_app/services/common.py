"""What the migration services share: the run's names and the refusal they raise."""

from __future__ import annotations

import logging

from migrations_app.models import NamespaceMigration
from twinadmin.jobs.models import Job

log = logging.getLogger(__name__)

Run = NamespaceMigration
Status = NamespaceMigration.Status
Phase = NamespaceMigration.Phase
JOB_KIND = "namespace_migration"

_JOB_STATUS = {
    Status.QUEUED: Job.Status.PENDING,
    Status.RUNNING: Job.Status.RUNNING,
    Status.ROLLING_BACK: Job.Status.RUNNING,
    Status.SUCCEEDED: Job.Status.SUCCEEDED,
    Status.ROLLED_BACK: Job.Status.SUCCEEDED,
    Status.FAILED: Job.Status.FAILED,
    Status.CANCELLED: Job.Status.CANCELLED,
}


class MigrationStateError(ValueError):
    """The run is not in a state that allows this action; nothing was changed."""
