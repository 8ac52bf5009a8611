"""Registry of job kinds. An app registers the service that does a kind's work:

    @job_handler("refresh_index")
    def refresh_index_job(job: Job) -> dict: ...

The handler gets the claimed Job, may call `job_progress`, and returns the result dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twinadmin.jobs.models import Job

Handler = Callable[["Job"], dict[str, Any]]
_HANDLERS: dict[str, Handler] = {}
_RETRYABLE: set[str] = set()


def job_handler(kind: str, *, retryable: bool = False) -> Callable[[Handler], Handler]:
    """`retryable`: running the kind again with the same params is safe and useful (reads,
    reports), so the jobs page offers Retry on a failed or cancelled one. Kinds with their own
    resume/retry flow (migrations, erasure) leave it off and are retried from their own pages."""

    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        if retryable:
            _RETRYABLE.add(kind)
        return fn

    return register


def is_retryable(kind: str) -> bool:
    return kind in _RETRYABLE


def get_handler(kind: str) -> Handler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise LookupError(f"No handler registered for job kind {kind!r}") from None


def known_kinds() -> list[str]:
    return sorted(_HANDLERS)
