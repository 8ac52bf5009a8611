"""Celery tasks of the erasure app."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

from twinadmin.erasure.jobs import RESUMABLE_KINDS
from twinadmin.erasure.leases import interrupted_jobs_resume, resumable_job_run

log = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost: the message is acknowledged only once the job has run, so
# a worker killed mid-job leaves it to be delivered again. Safe because every erasure job is
# idempotent and continues from its checkpoints (leases.py). No autoretry: failures are recorded
# on the rows, and a failed request is retried by a person, who sees why it failed.
@shared_task(name="erasure.run_job", acks_late=True, reject_on_worker_lost=True)
def run_resumable_job(job_id: int) -> str:
    job = resumable_job_run(job_id=job_id)
    return job.status if job is not None else "missing"


@worker_ready.connect
def resume_interrupted_jobs(**_: object) -> None:
    """A worker (re)started: continue what a killed worker left behind."""
    try:
        resumed = interrupted_jobs_resume(kinds=RESUMABLE_KINDS)
    except Exception:  # never keep a worker from starting
        log.exception("could not look for interrupted erasure jobs")
        return
    if resumed:
        log.warning("re-enqueued interrupted erasure jobs %s", resumed)
