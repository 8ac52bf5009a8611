"""Celery tasks of the jobs app: plain jobs, resumable jobs, and the sweep that continues the
work of workers that died."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.signals import worker_ready

from twinadmin.jobs.leases import interrupted_jobs_resume, jobs_sweep, resumable_job_run
from twinadmin.jobs.services import RETRY_DELAY_MAX_SECONDS, JobRetry, job_execute

log = logging.getLogger(__name__)
MAX_RETRIES = 5


@shared_task(name="jobs.run_job", acks_late=False)
def run_job(job_id: int) -> str:
    """Run a saved Job. acks_late stays off here: generic kinds are not all idempotent; kinds that
    are (erasure) are registered resumable and run through `run_resumable_job`."""
    return job_execute(job_id=job_id).status


# acks_late + reject_on_worker_lost: the message is acknowledged only once the job has run, so
# a worker killed mid-job leaves it to be delivered again; and the sweep hands it on anyway once
# its lease lapses. Safe because resumable jobs are idempotent and continue from checkpoints.
# An error the kind retries (`job_handler(retry_on=)`, a vector index's transient errors that
# outlived the adapter's own retries) sends the job back to pending and Celery delivers it again
# with exponential backoff and jitter; other failures are recorded on the rows and retried by a
# person, who sees why.
@shared_task(
    bind=True,
    name="jobs.run_resumable_job",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(JobRetry,),
    retry_backoff=2,
    retry_backoff_max=RETRY_DELAY_MAX_SECONDS,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def run_resumable_job(self: Task, job_id: int) -> str:
    # On the last try the error is recorded as a failure instead of handed back.
    job = resumable_job_run(job_id=job_id, may_retry=self.request.retries < MAX_RETRIES)
    return job.status if job is not None else "missing"


@shared_task(name="jobs.sweep", acks_late=False, ignore_result=True)
def sweep() -> dict[str, list[int]]:
    """Beat, every JOB_SWEEP_SECONDS: continue what dead workers left behind."""
    return jobs_sweep()


@worker_ready.connect
def resume_interrupted_jobs(**_: object) -> None:
    """A worker (re)started: continue what a killed worker left behind, without waiting for beat."""
    try:
        resumed = interrupted_jobs_resume()
    except Exception:  # never keep a worker from starting
        log.exception("could not look for interrupted jobs")
        return
    if resumed:
        log.warning("re-enqueued interrupted jobs %s", resumed)
