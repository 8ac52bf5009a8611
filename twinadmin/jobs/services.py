from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import traceback
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from twinadmin.audit.services import audit_record
from twinadmin.jobs.handlers import (
    Handler,
    cancel_hook,
    get_handler,
    is_cancellable,
    is_resumable,
    is_retryable,
    retry_on,
)
from twinadmin.jobs.leases import (
    LeaseLost,
    job_enqueue,
    job_lease_live,
    lease_held,
    lease_prepare,
    lease_release,
    lease_renew,
    lease_seconds,
)
from twinadmin.jobs.models import Job

log = logging.getLogger(__name__)


# How long a page's "start a job" button is idempotent for (see job_create's `once_within`).
BUTTON_ONCE_SECONDS = 10.0


def job_create(
    *,
    kind: str,
    params: dict[str, Any] | None = None,
    user=None,
    enqueue: bool = True,
    once_within: float | None = None,
) -> Job:
    """Save a pending job and, once the transaction commits, hand it to the workers.

    `once_within` (seconds): a button pressed twice (a double click, a form sent again) starts
    one job: the same user's unfinished job of this kind and params, created that recently, is
    returned instead of a new one. The user's row is locked meanwhile (on PostgreSQL), so two
    requests at the same moment see each other."""
    get_handler(kind)  # refuse unknown kinds before anything is written
    if once_within is not None and user is not None and user.pk:
        with transaction.atomic():
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            recent = (
                Job.objects.filter(
                    kind=kind,
                    params=params or {},
                    created_by=user,
                    status__in=(Job.Status.PENDING, Job.Status.RUNNING),
                    created_at__gte=timezone.now() - dt.timedelta(seconds=once_within),
                )
                .order_by("-pk")
                .first()
            )
            if recent is not None:
                return recent
            return job_create(kind=kind, params=params, user=user, enqueue=enqueue)
    job = Job.objects.create(kind=kind, params=params or {}, created_by=user if user and user.pk else None)
    if is_resumable(kind):
        lease_prepare(job)
    if enqueue:
        job_enqueue(job)
    return job


def job_claim(*, job_id: int) -> bool:
    """PENDING -> RUNNING with one conditional UPDATE: of two workers that got the same message,
    exactly one sees a row count of 1 and does the work."""
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.PENDING).update(
        status=Job.Status.RUNNING, started_at=timezone.now(), error=""
    )
    return claimed == 1


def job_progress(job: Job, *, done: int, total: int | None = None, message: str = "") -> None:
    job.progress_done = done
    if total is not None:
        job.progress_total = total
    if message:
        job.message = message[:500]
    Job.objects.filter(pk=job.pk).update(
        progress_done=job.progress_done, progress_total=job.progress_total, message=job.message
    )


class JobCancelled(Exception):
    """Raised by a handler that stopped because someone cancelled its work: the job ends
    cancelled (not failed), with this message."""


class JobPaused(Exception):
    """Raised by a handler that stopped at a point it was asked to stop at (a staged migration
    run `until` a phase): the job goes back to pending, with its lease released, marked paused
    (`params["paused"]`), until someone runs it again."""


class JobRetry(Exception):
    """The job went back to pending after an error its kind retries (`job_handler(retry_on=)`):
    the task raises this for Celery's autoretry to deliver it again, with backoff."""


# The longest backoff before Celery delivers a retried job again (the task's retry_backoff_max).
# A job sent back to pending counts as sent until then, so the sweep does not take the retry
# Celery holds for a lost message.
RETRY_DELAY_MAX_SECONDS = 60


# What this process's run of a job may hand back to Celery for another try (see `job_execute`).
_retry_on: ContextVar[tuple[type[BaseException], ...]] = ContextVar("job_retry_on", default=())


def job_will_retry(exc: BaseException) -> bool:
    """Inside a handler: True when `exc`, raised out of the handler, sends the job back to
    pending for another delivery (its kind retries it and retries are left), so the handler
    records "retrying" rather than a failure."""
    return isinstance(exc, _retry_on.get())


def job_execute(*, job_id: int, handler: Handler | None = None, may_retry: bool = False) -> Job:
    """Claim and run one job in this process (the worker tasks and the commands call this).

    The lifecycle, the same for every kind: PENDING -> RUNNING (one conditional UPDATE decides
    between duplicate deliveries); a resumable kind then holds a lease while it runs
    (leases.py), released at the end; the handler's outcome decides the end: its result
    (SUCCEEDED), `JobCancelled` (CANCELLED), `JobPaused` (back to PENDING), an error its kind
    retries while `may_retry` (back to PENDING, and `JobRetry` raised for Celery's autoretry),
    `LeaseLost` (nothing: the job that took over owns the work and the take-over closed this
    row), anything else (FAILED, with the error). `handler`: run this instead of the kind's
    registered handler (a command passing its own index and progress bar)."""
    if not job_claim(job_id=job_id):
        log.info("job %s not claimed (already taken or finished)", job_id)
        return Job.objects.get(pk=job_id)
    job = Job.objects.get(pk=job_id)
    if Job.PAUSED in job.params:  # run on purpose again: no longer paused
        job.params = {k: v for k, v in job.params.items() if k != Job.PAUSED}
        Job.objects.filter(pk=job.pk).update(params=job.params)
    retried = retry_on(job.kind) if may_retry else ()
    token = _retry_on.set(retried)
    try:
        with lease_held(job) if is_resumable(job.kind) else contextlib.nullcontext():
            result = (handler or get_handler(job.kind))(job)
    except LeaseLost as exc:
        log.warning("job %s stopped: %s", job.pk, exc)
    except JobCancelled as exc:
        _job_end(job, Job.Status.CANCELLED, message=str(exc) or "cancelled")
    except JobPaused as exc:
        _job_requeue(job, message=str(exc) or "paused", paused=True)
    except DatabaseError as exc:
        if not _database_lost():
            _job_failed(job, exc)
        elif may_retry and is_resumable(job.kind) and _job_requeue_after_database_loss(job, exc):
            raise JobRetry(f"database connection lost: {exc}") from exc
        else:  # still cut off: the lease lapses and the sweep hands the work on
            raise
    except retried as exc:
        _job_requeue(
            job,
            message=f"retrying after {type(exc).__name__}: {exc}",
            due_within=RETRY_DELAY_MAX_SECONDS,
        )
        raise JobRetry(str(exc)) from exc
    except Exception as exc:  # recorded on the row; the page shows it
        _job_failed(job, exc)
    else:
        _job_end(job, Job.Status.SUCCEEDED, result=result or {})
    finally:
        _retry_on.reset(token)
    job.refresh_from_db()
    return job


def _job_failed(job: Job, exc: BaseException) -> None:
    log.exception("job %s (%s) failed", job.pk, job.kind)
    _job_end(job, Job.Status.FAILED, error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=5)}")


def _database_lost() -> bool:
    """The error came from a connection that is gone (PostgreSQL restarted, the network cut),
    not from the query: nothing could be written with it, so nothing was half-written either."""
    try:
        return not connection.is_usable()
    except Exception:
        return True


def _job_requeue_after_database_loss(job: Job, exc: BaseException) -> bool:
    """A resumable job whose database connection died under it: wait (within its lease) for the
    database to come back, then send the job back to pending for Celery to deliver again, with
    backoff; it continues from its checkpoints as the same job. False when the database stayed
    away for the whole lease or another runner took the job over meanwhile: the sweep's
    take-over continues it as a new job then. Django does not reconnect inside a task by
    itself, hence the explicit close."""
    deadline = time.monotonic() + lease_seconds() / 2
    while True:
        connection.close()
        try:
            with transaction.atomic():
                lease_renew(job)  # still ours; locks out a take-over until we are done
                _job_requeue(
                    job,
                    message=f"retrying: lost its database connection ({type(exc).__name__})",
                    due_within=RETRY_DELAY_MAX_SECONDS,
                )
                lease_release(job)
            log.warning("job %s: database connection lost (%s); retrying", job.pk, exc)
            return True
        except LeaseLost:
            return False
        except DatabaseError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


def _job_end(job: Job, status: str, **fields: Any) -> None:
    """The end of a run of the job, unless something else ended it meanwhile (a take-over)."""
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=status, finished_at=timezone.now(), **fields
    )


def _job_requeue(job: Job, *, message: str, paused: bool = False, due_within: float | None = None) -> None:
    """Back to pending. A paused job is marked so in its params: the sweep leaves it alone
    (nobody lost its message; someone runs it on purpose later). `due_within`: seconds within
    which a message for it (Celery's retry) falls due, recorded as its `sent_at`."""
    params = {**job.params, Job.PAUSED: True} if paused else job.params
    extra = {"sent_at": timezone.now() + dt.timedelta(seconds=due_within)} if due_within is not None else {}
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.PENDING, message=message[:500], params=params, **extra
    )


def job_abandon(*, job_id: int, message: str) -> bool:
    """Close a job whose owning app stopped its work (a cancelled migration run): pending, or
    running with nobody renewing its lease. A job with a live runner is left to stop at its own
    checkpoint. No audit entry here: the app audits its own action."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (Job.Status.PENDING, Job.Status.RUNNING):
            return False
        if job.status == Job.Status.RUNNING and job_lease_live(job_id=job_id):
            return False
        Job.objects.filter(pk=job_id).update(
            status=Job.Status.CANCELLED, finished_at=timezone.now(), message=message[:500]
        )
    return True


class JobNotCancellable(ValueError):
    pass


def job_cancel(*, job_id: int, actor: Any, reason: str) -> Job:
    """Cancel a job that has not started, saying who and why; running jobs check their own
    cancellation points. Kinds registered `cancellable=False` are refused whatever their status.

    Every attempt with a reason is audited, a refused one too (outcome "failure"), so the log
    shows who tried to stop what. The row lock and the conditional UPDATE make the check and the
    change one step: a worker claiming the job at the same moment either wins (the cancel is
    refused: it is running) or waits and then finds it cancelled."""
    reason = (reason or "").strip()
    if not reason:
        raise JobNotCancellable("Give a reason for cancelling the job. Nothing was changed.")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        before = job.status
        refusal = _cancel_refusal(job)
        if refusal is None:
            Job.objects.filter(pk=job.pk, status=Job.Status.PENDING).update(
                status=Job.Status.CANCELLED, finished_at=timezone.now()
            )
            hook = cancel_hook(job.kind)
            if hook is not None:  # the owning app's rows say so too (a queued migration run)
                hook(job, actor, reason)
        audit_record(
            actor=actor,
            action="job.cancel",
            target_type="job",
            target_id=str(job.pk),
            outcome="failure" if refusal else "success",
            details={
                "kind": job.kind,
                "status_before": before,
                "reason": reason,
                **({"refused": refusal} if refusal else {}),
            },
            correlation_id=job.correlation_id,
        )
    if refusal:
        raise JobNotCancellable(refusal)
    job.refresh_from_db()
    return job


def _cancel_refusal(job: Job) -> str | None:
    """Why this job may not be cancelled, or None when it may."""
    if not is_cancellable(job.kind):
        return (
            f"Job {job.pk} ({job.kind}) cannot be cancelled: an approved erasure cannot be cancelled; "
            "it runs to the end, and a failed one is retried from its erasure request. Nothing was changed."
        )
    if job.status != Job.Status.PENDING:
        return f"Job {job.pk} is {job.status}; only a pending job can be cancelled. Nothing was changed."
    return None


class JobNotRetryable(ValueError):
    pass


def job_retry(*, job_id: int, user=None) -> Job:
    """Run a failed or cancelled job of a retryable kind again, as a new job with the same params
    (the old row stays as it ended, for the record)."""
    job = Job.objects.get(pk=job_id)
    if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise JobNotRetryable(f"Job {job.pk} is {job.status}; only failed or cancelled jobs are retried.")
    if not is_retryable(job.kind):
        raise JobNotRetryable(f"Jobs of kind {job.kind!r} are resumed or retried from their own page.")
    return job_create(kind=job.kind, params={**job.params, "retry_of": job.pk}, user=user)
