from __future__ import annotations

import logging
import traceback
from typing import Any

from django.db import transaction
from django.utils import timezone

from twinadmin.audit.services import audit_record
from twinadmin.jobs.handlers import get_handler, is_cancellable, is_retryable
from twinadmin.jobs.models import Job

log = logging.getLogger(__name__)


def job_create(*, kind: str, params: dict[str, Any] | None = None, user=None, enqueue: bool = True) -> Job:
    """Save a pending job and, once the transaction commits, hand it to the workers."""
    get_handler(kind)  # refuse unknown kinds before anything is written
    job = Job.objects.create(kind=kind, params=params or {}, created_by=user if user and user.pk else None)
    if enqueue:
        from twinadmin.jobs.tasks import run_job

        transaction.on_commit(lambda: run_job.delay(job.pk))
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


def job_execute(*, job_id: int) -> Job:
    """Claim and run one job in this process (the worker task and the commands both call this)."""
    if not job_claim(job_id=job_id):
        log.info("job %s not claimed (already taken or finished)", job_id)
        return Job.objects.get(pk=job_id)
    job = Job.objects.get(pk=job_id)
    try:
        result = get_handler(job.kind)(job)
    except Exception as exc:  # recorded on the row; the page shows it
        log.exception("job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=5)}",
            finished_at=timezone.now(),
        )
    else:
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.SUCCEEDED, result=result or {}, finished_at=timezone.now()
        )
    job.refresh_from_db()
    return job


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
