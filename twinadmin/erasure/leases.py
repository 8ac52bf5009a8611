"""Resumable jobs: a lease on top of the jobs app's atomic claim.

`job_execute` claims a job with PENDING -> RUNNING, which stops two deliveries of one message
from both doing the work. It cannot tell a job whose worker died from one still running, so a
killed worker would leave its job RUNNING for ever. Erasure jobs are idempotent and checkpointed
(their state lives on the TwinDeletion / ErasureRequest / ErasureNamespace rows), so once their
runner has gone quiet someone else may continue them:

- the runner holds a lease (`JobLease`) and renews it at every checkpoint;
- `resumable_job_run` (the acks_late Celery task and the commands call it) takes over a RUNNING
  job whose lease has expired: one conditional UPDATE on the lease decides who; the old job is
  closed as failed ("continued by job N") and a new job, with its own correlation id, continues
  the same request from its checkpoints;
- a worker that starts re-enqueues interrupted jobs (`interrupted_jobs_resume`), delayed until
  their leases run out, because the broker may not redeliver an unacknowledged message for a
  long time (Redis: the visibility timeout, an hour by default).

A stalled runner that wakes up after its lease was taken fails its next `lease_renew`
(`LeaseLost`) and stops; the final writes of a job happen in a transaction that renews the lease
first, so it can never close a request another runner is working on. Closing the old job rather
than reusing it keeps the stalled runner's bookkeeping (job_execute marks its job failed or
succeeded) away from the job that continues the work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from twinadmin.erasure.models import ErasureRequest, JobLease, TwinDeletion
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_execute

log = logging.getLogger(__name__)

# Longer than one vector-layer call may take with its retries (RetryPolicy.deadline, 300 s),
# since the lease is renewed between calls, not during one.
DEFAULT_LEASE_SECONDS = 330
_runner_label: ContextVar[str | None] = ContextVar("erasure_runner_label", default=None)


class LeaseLost(RuntimeError):
    """Another runner took this job over: stop; it continues from the checkpoints."""


def lease_seconds() -> float:
    return float(getattr(settings, "ERASURE_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def runner_label() -> str:
    """Who executes: `cli:<command>` in a command's own process, else the worker's host."""
    return _runner_label.get() or f"worker@{socket.gethostname()}"


def _owner() -> str:
    return f"{runner_label()}:{os.getpid()}:{threading.get_ident()}"


def _until() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=lease_seconds())


@contextlib.contextmanager
def running_as(label: str | None) -> Iterator[None]:
    token = _runner_label.set(label)
    try:
        yield
    finally:
        _runner_label.reset(token)


def lease_prepare(job: Job) -> None:
    """Create the job's lease, already expired: until a runner acquires it, anyone may."""
    JobLease.objects.get_or_create(job=job, defaults={"expires_at": timezone.now()})


def lease_acquire(job: Job) -> None:
    """Called by a handler right after `job_execute` claimed the job for this process."""
    JobLease.objects.update_or_create(job=job, defaults={"owner": _owner(), "expires_at": _until()})


def lease_renew(job: Job) -> None:
    """Extend the lease, or raise LeaseLost when another runner has taken the job over. Inside
    a transaction the UPDATE also locks the lease row until commit, which holds a concurrent
    take-over back: use it to fence a job's final writes."""
    if JobLease.objects.filter(job=job, owner=_owner(), continued_by=None).update(expires_at=_until()) != 1:
        successor = JobLease.objects.filter(job=job).values_list("continued_by", flat=True).first()
        raise LeaseLost(f"job {job.pk} was taken over (continued by job {successor})")


def lease_release(job: Job) -> None:
    JobLease.objects.filter(job=job, owner=_owner()).update(expires_at=timezone.now())


def job_take_over(*, job_id: int) -> Job | None:
    """For a RUNNING job whose lease expired, return the new job that continues its work (for
    exactly one caller: a conditional UPDATE decides); None when there is nothing to take."""
    now = timezone.now()
    with transaction.atomic():
        old = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).first()
        if old is None:
            return None
        # No lease at all: the runner died between its claim and acquiring the lease.
        started = old.started_at or now
        JobLease.objects.get_or_create(
            job=old, defaults={"expires_at": started + dt.timedelta(seconds=lease_seconds())}
        )
        if (
            JobLease.objects.filter(job=old, expires_at__lt=now, continued_by=None).update(owner=_owner())
            != 1
        ):
            return None
        new = Job.objects.create(
            kind=old.kind, params={**old.params, "continues_job": old.pk}, created_by=old.created_by
        )
        lease_prepare(new)
        JobLease.objects.filter(job=old).update(continued_by=new)
        Job.objects.filter(pk=old.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.FAILED,
            finished_at=now,
            error=f"Its runner stopped renewing the lease (killed or stalled); continued by job {new.pk}.",
        )
        ErasureRequest.objects.filter(job=old).update(job=new)
        TwinDeletion.objects.filter(job=old).update(job=new)
    log.warning("job %s: lease expired; continued by job %s (%s)", old.pk, new.pk, _owner())
    return new


def resumable_job_run(*, job_id: int, runner: str | None = None) -> Job | None:
    """Run a job here: claim it if pending, continue it if its runner has gone quiet, else leave
    it (finished, or running elsewhere with a live lease). Returns the job that ran, if any."""
    with running_as(runner):
        job = Job.objects.filter(pk=job_id).first()
        if job is None:
            return None
        if job.status == Job.Status.RUNNING:
            successor = job_take_over(job_id=job_id)
            if successor is None:
                log.info("job %s is running elsewhere with a live lease", job_id)
                return job
            job = successor
        return job_execute(job_id=job.pk)


def job_enqueue(job: Job, *, countdown: float | None = None) -> None:
    """Hand a job to the workers once the surrounding transaction commits."""
    from twinadmin.erasure.tasks import run_resumable_job

    def send() -> None:
        if countdown:
            run_resumable_job.apply_async((job.pk,), countdown=countdown)
        else:
            run_resumable_job.delay(job.pk)

    transaction.on_commit(send)


def interrupted_jobs_resume(*, kinds: tuple[str, ...]) -> list[int]:
    """Re-enqueue every unfinished job of `kinds`: running ones (a worker may have died under
    them) delayed until their lease expires, pending ones at once (their message may have been
    lost). Extra deliveries are harmless: the claim and the take-over let one through."""
    now = timezone.now()
    unfinished = list(Job.objects.filter(kind__in=kinds, status__in=[Job.Status.PENDING, Job.Status.RUNNING]))
    leases = dict(JobLease.objects.filter(job__in=unfinished).values_list("job_id", "expires_at"))
    for job in unfinished:
        countdown = None
        if job.status == Job.Status.RUNNING:
            expires = leases.get(job.pk) or now
            countdown = max(0.0, (expires - now).total_seconds()) + 1.0
        job_enqueue(job, countdown=countdown)
    return [job.pk for job in unfinished]
