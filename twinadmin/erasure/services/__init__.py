"""Deleting twins and erasing creators: filing, four-eyes approval, and the jobs that do the work.

Split by phase because each phase makes a different promise: a twin deletion (twin_deletion.py)
touches one namespace; a creator erasure is decided by people (requests.py), carried out by a
resumable job (execute.py) and checked afterwards by anyone (remnants.py); common.py holds what
they share. Callers import from here, never from the phase modules, so the layout can change
without them.

Every destructive job writes an audit entry before (intent, counts) and after (outcome,
verification), all with the job's correlation id. Jobs are idempotent and checkpointed on the
rows, so a re-run, a retry or a take-over after a killed worker ends in the same verified state
(leases.py).
"""

from .common import (
    KIND_DELETE_TWIN,
    KIND_ERASE_CREATOR,
    MAX_VERIFY_PASSES,
    ErasureError,
    ErasureForbidden,
    ErasureIncomplete,
)
from .execute import erasure_execute
from .remnants import creator_remnants
from .requests import (
    erasure_from_shell,
    erasure_needs_retry,
    erasure_request_approve,
    erasure_request_file,
    erasure_request_reject,
    erasure_request_retry,
    erasure_scope_live,
)
from .twin_deletion import TwinAlreadyDeleted, twin_deletion_execute, twin_deletion_request

__all__ = [
    "KIND_DELETE_TWIN",
    "KIND_ERASE_CREATOR",
    "MAX_VERIFY_PASSES",
    "ErasureError",
    "TwinAlreadyDeleted",
    "ErasureForbidden",
    "ErasureIncomplete",
    "creator_remnants",
    "erasure_execute",
    "erasure_from_shell",
    "erasure_needs_retry",
    "erasure_request_approve",
    "erasure_request_file",
    "erasure_request_reject",
    "erasure_request_retry",
    "erasure_scope_live",
    "twin_deletion_execute",
    "twin_deletion_request",
]
