"""Job kinds owned by the erasure app. Both are resumable (twinadmin.jobs.leases): idempotent,
checkpointed on the TwinDeletion / ErasureRequest / ErasureNamespace rows, so a job whose worker
died is continued by a new job, which these hooks make the rows point at."""

from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.erasure.services import (
    KIND_DELETE_TWIN,
    KIND_ERASE_CREATOR,
    erasure_execute,
    twin_deletion_execute,
)
from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.models import Job

RESUMABLE_KINDS = (KIND_DELETE_TWIN, KIND_ERASE_CREATOR)


def _deletion_continues(old: Job, new: Job) -> None:
    TwinDeletion.objects.filter(job=old).update(job=new)


def _erasure_continues(old: Job, new: Job) -> None:
    ErasureRequest.objects.filter(job=old).update(job=new)


job_handler(KIND_DELETE_TWIN, resumable=True, on_continue=_deletion_continues)(twin_deletion_execute)
job_handler(KIND_ERASE_CREATOR, cancellable=False, resumable=True, on_continue=_erasure_continues)(
    erasure_execute
)
