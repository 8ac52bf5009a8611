"""Job kinds owned by the erasure app. Both run through the acks_late task (tasks.py), since
they are idempotent and resumable."""

from twinadmin.erasure.services import (
    KIND_DELETE_TWIN,
    KIND_ERASE_CREATOR,
    erasure_execute,
    twin_deletion_execute,
)
from twinadmin.jobs.handlers import job_handler

RESUMABLE_KINDS = (KIND_DELETE_TWIN, KIND_ERASE_CREATOR)

job_handler(KIND_DELETE_TWIN)(twin_deletion_execute)
job_handler(KIND_ERASE_CREATOR, cancellable=False)(erasure_execute)
