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


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return register


def get_handler(kind: str) -> Handler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise LookupError(f"No handler registered for job kind {kind!r}") from None


def known_kinds() -> list[str]:
    return sorted(_HANDLERS)
