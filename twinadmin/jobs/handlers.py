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
ContinueHook = Callable[["Job", "Job"], None]
CancelHook = Callable[["Job", Any, str], None]
# What a finished job produced, as (label, url) for its page to link to, or None.
ProducesFn = Callable[["Job"], "tuple[str, str] | None"]
_HANDLERS: dict[str, Handler] = {}
_RETRYABLE: set[str] = set()
_RESUMABLE: dict[str, ContinueHook | None] = {}
_NOT_CANCELLABLE: set[str] = set()
_RETRY_ON: dict[str, tuple[type[BaseException], ...]] = {}
_ON_CANCEL: dict[str, CancelHook] = {}
_PRODUCES: dict[str, ProducesFn] = {}


def job_handler(
    kind: str,
    *,
    retryable: bool = False,
    cancellable: bool = True,
    resumable: bool = False,
    on_continue: ContinueHook | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    on_cancel: CancelHook | None = None,
    produces: ProducesFn | None = None,
) -> Callable[[Handler], Handler]:
    """`retryable`: running the kind again with the same params is safe and useful (reads,
    reports), so the jobs page offers Retry on a failed or cancelled one. Kinds with their own
    resume/retry flow (migrations, erasure) leave it off and are retried from their own pages.

    `cancellable=False`: a job of the kind exists only because someone approved it elsewhere
    (an approved erasure), so the jobs page must not undo that decision from the side; Cancel
    refuses such jobs, whatever their status.

    `resumable=True`: the handler is idempotent and checkpoints on its app's rows, holds a lease
    (leases.py) and runs through the acks_late task; a job whose worker died is continued by a
    new job, and `on_continue(old, new)` points the app's rows at the new one.

    `retry_on`: errors (a vector index's transient ones) after which a resumable job goes back
    to pending and Celery delivers it again with backoff (jobs.tasks); the handler continues
    from its checkpoints. `on_cancel(job, actor, reason)`: the owning app's own cancel, called
    when the jobs page cancels a pending job of the kind, so its rows say so too.
    `produces(job)`: the page of what a finished job produced (a report, the refreshed overview),
    which the job's page links to instead of leaving the user on raw result fields."""

    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        if resumable:
            _RESUMABLE[kind] = on_continue
        if retryable:
            _RETRYABLE.add(kind)
        _RETRY_ON[kind] = retry_on
        if on_cancel is not None:
            _ON_CANCEL[kind] = on_cancel
        if produces is not None:
            _PRODUCES[kind] = produces
        if cancellable:
            _NOT_CANCELLABLE.discard(kind)
        else:
            _NOT_CANCELLABLE.add(kind)
        return fn

    return register


def is_retryable(kind: str) -> bool:
    return kind in _RETRYABLE


def is_cancellable(kind: str) -> bool:
    """Kinds without a handler here (jobs rows another app drives itself) stay cancellable."""
    return kind not in _NOT_CANCELLABLE


def get_handler(kind: str) -> Handler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise LookupError(f"No handler registered for job kind {kind!r}") from None


def known_kinds() -> list[str]:
    return sorted(_HANDLERS)


def is_resumable(kind: str) -> bool:
    return kind in _RESUMABLE


def retry_on(kind: str) -> tuple[type[BaseException], ...]:
    return _RETRY_ON.get(kind, ())


def produced_by(job: Job) -> tuple[str, str] | None:
    """(label, url) of what the finished job produced, when its kind says."""
    fn = _PRODUCES.get(job.kind)
    return fn(job) if fn is not None and job.status == job.Status.SUCCEEDED else None


def cancel_hook(kind: str) -> CancelHook | None:
    return _ON_CANCEL.get(kind)


def resumable_kinds() -> tuple[str, ...]:
    return tuple(sorted(_RESUMABLE))


def continue_hook(kind: str) -> ContinueHook | None:
    return _RESUMABLE.get(kind)
