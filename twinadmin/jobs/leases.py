"""Resumable jobs: one lifecycle for every job whose work is idempotent and checkpointed
(migrations, erasures, twin deletions, erasure drills).

`job_execute` claims a job with PENDING -> RUNNING, which stops two deliveries of one message
from both doing the work. It cannot tell a job whose worker died from one still running, so a
killed worker would leave its job RUNNING for ever. For kinds registered `resumable=True` (their
state lives on the owning app's rows, checkpointed as they go), once the runner has gone quiet
someone else continues them:

- the runner holds a lease (`JobLease`, JOB_LEASE_SECONDS) and renews it at every checkpoint;
  a lost lease is the fence: `lease_renew` raises `LeaseLost` and the stale runner stops, and
  the final writes of a job happen in a transaction that renews the lease first, so it can never
  close work another runner has taken over;
- `resumable_job_run` (the acks_late Celery task and the commands call it) takes over a RUNNING
  job whose lease has lapsed: one conditional UPDATE on the lease decides who; the old job is
  closed as failed ("continued by job N") and a new job continues the same work from its
  checkpoints; the kind's `on_continue` hook points the owning app's rows at the new job;
- nobody has to ask: the beat task `jobs.sweep` (every JOB_SWEEP_SECONDS) re-enqueues every
  running job whose lease has lapsed and every pending job whose message may have been lost
  (`Job.sent_at` older than JOB_RESEND_AFTER_SECONDS: a broker restarted empty), once per loss;
  a worker that starts does the same at once. So a job
  whose worker was killed continues by itself within about lease + sweep seconds.

Closing the old job rather than reusing it keeps the stalled runner's bookkeeping (job_execute
marks its job failed or succeeded) away from the job that continues the work.
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
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from twinadmin.jobs.handlers import Handler, continue_hook, get_handler, is_resumable, resumable_kinds
from twinadmin.jobs.models import Job, JobLease
from twinadmin.lib.concurrency import context_value

log = logging.getLogger(__name__)

# Renewed at every checkpoint. A call that outlasts it (the adapter riding out a 429 storm) may
# see its job taken over meanwhile: the fence makes that safe (the stale runner stops at its
# next renewal; deletes and upserts are idempotent), at the cost of some work done twice.
_runner_label: ContextVar[str | None] = ContextVar("job_runner_label", default=None)
# The resumable jobs this thread is running, outermost first (a drill, then its erasure).
# (job id, lease owner): a command runs its steps' jobs under another runner label.
_held: ContextVar[tuple[tuple[int, str], ...]] = ContextVar("jobs_held", default=())


class LeaseLost(RuntimeError):
    """Another runner took this job over: stop; it continues from the checkpoints."""


def lease_seconds() -> float:
    return float(settings.JOB_LEASE_SECONDS)


def runner_label() -> str:
    """Who executes: `cli:<command>` in a command's own process, else the worker's host."""
    return _runner_label.get() or f"worker@{socket.gethostname()}"


def _owner() -> str:
    return f"{runner_label()}:{os.getpid()}:{threading.get_ident()}"


def _until() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=lease_seconds())


def running_as(label: str | None) -> contextlib.AbstractContextManager[None]:
    return context_value(_runner_label, label)


def lease_prepare(job: Job) -> None:
    """Create the job's lease, already expired: until a runner acquires it, anyone may."""
    JobLease.objects.get_or_create(job=job, defaults={"expires_at": timezone.now()})


def lease_acquire(job: Job) -> None:
    """Called by `job_execute` right after it claimed a resumable job for this process."""
    JobLease.objects.update_or_create(job=job, defaults={"owner": _owner(), "expires_at": _until()})


def lease_renew(job: Job) -> None:
    """Extend the lease, or raise LeaseLost when another runner has taken the job over. Inside
    a transaction the UPDATE also locks the lease row until commit, which holds a concurrent
    take-over back: use it to fence a job's final writes.

    A job run inside another one in this process (a drill runs a twin deletion and an erasure)
    renews the enclosing jobs' leases too: their runner is alive while the inner job works, and
    an enclosing job taken over stops the inner one as well."""
    if JobLease.objects.filter(job=job, owner=_owner(), continued_by=None).update(expires_at=_until()) != 1:
        successor = JobLease.objects.filter(job=job).values_list("continued_by", flat=True).first()
        raise LeaseLost(f"job {job.pk} was taken over (continued by job {successor})")
    for pk, owner in _held.get():
        if pk == job.pk:
            continue
        held = JobLease.objects.filter(job_id=pk, owner=owner, continued_by=None)
        if held.update(expires_at=_until()) != 1:
            raise LeaseLost(f"job {pk}, which encloses job {job.pk}, was taken over")


def lease_release(job: Job) -> None:
    JobLease.objects.filter(job=job, owner=_owner()).update(expires_at=timezone.now())


@contextlib.contextmanager
def lease_held(job: Job) -> Iterator[None]:
    """Hold the job's lease while the block runs (`job_execute` wraps a resumable kind's
    handler in it); jobs run inside the block renew it too (see `lease_renew`)."""
    lease_acquire(job)
    token = _held.set((*_held.get(), (job.pk, _owner())))
    try:
        yield
    finally:
        _held.reset(token)
        lease_release(job)


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
            error=(
                f"Its runner stopped renewing the lease (killed, stalled or cut off from the database); "
                f"continued by job {new.pk}."
            ),
        )
        hook = continue_hook(old.kind)
        if hook is not None:
            hook(old, new)
    log.warning("job %s: lease expired; continued by job %s (%s)", old.pk, new.pk, _owner())
    return new


def resumable_job_run(
    *, job_id: int, runner: str | None = None, handler: Handler | None = None, may_retry: bool = False
) -> Job | None:
    """Run a job here: claim it if pending, continue it if its runner has gone quiet, else leave
    it (finished, or running elsewhere with a live lease). Returns the job that ran, if any.
    `handler` and `may_retry` as for `job_execute`."""
    from twinadmin.jobs.services import job_execute

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
        return job_execute(job_id=job.pk, handler=handler, may_retry=may_retry)


def job_enqueue(job: Job, *, countdown: float | None = None) -> None:
    """Hand a job to the workers once the surrounding transaction commits, recording when
    (`Job.sent_at`: the moment it falls due). Every kind goes this way, resumable or plain (a
    plain kind to `run_job`). A broker that cannot be reached (restarting) is logged, not raised
    into the page or command that queued the job: the row is saved, and the sweep sends it again
    once its grace period is over."""
    from twinadmin.jobs.tasks import run_job, run_resumable_job

    get_handler(job.kind)  # a Job without its kind would go to the wrong task: refuse it
    task = run_resumable_job if is_resumable(job.kind) else run_job

    def send() -> None:
        due = timezone.now() + dt.timedelta(seconds=countdown or 0)
        Job.objects.filter(pk=job.pk).update(sent_at=due)
        try:
            if countdown:
                task.apply_async((job.pk,), countdown=countdown)
            else:
                task.delay(job.pk)
        except Exception:
            log.exception("job %s: could not reach the broker; the sweep will send it again", job.pk)

    transaction.on_commit(send)


def resend_after_seconds() -> float:
    """How long a pending job's message may stay unconsumed before the sweep takes it for lost
    (JOB_RESEND_AFTER_SECONDS). Longer than a queue is normally busy, and than the longest
    backoff of a retry (services.RETRY_DELAY_MAX_SECONDS), which is why that one is not a loss."""
    return float(getattr(settings, "JOB_RESEND_AFTER_SECONDS", 60.0))


def interrupted_jobs_resume(*, kinds: tuple[str, ...] | None = None) -> list[int]:
    """Re-enqueue every unfinished job of `kinds` (default: every resumable kind): running ones
    (a worker may have died under them) delayed until their lease lapses, pending ones at once
    (their message may have been lost). Extra deliveries are harmless: the claim and the
    take-over let one through."""
    now = timezone.now()
    kinds = resumable_kinds() if kinds is None else kinds
    unfinished = list(
        Job.objects.filter(kind__in=kinds, status__in=[Job.Status.PENDING, Job.Status.RUNNING]).exclude(
            params__has_key=Job.PAUSED
        )
    )
    leases = dict(JobLease.objects.filter(job__in=unfinished).values_list("job_id", "expires_at"))
    for job in unfinished:
        countdown = None
        if job.status == Job.Status.RUNNING:
            expires = leases.get(job.pk) or now
            countdown = max(0.0, (expires - now).total_seconds()) + 1.0
        job_enqueue(job, countdown=countdown)
    return [job.pk for job in unfinished]


def jobs_sweep() -> dict[str, list[int]]:
    """What beat runs every JOB_SWEEP_SECONDS: hand every resumable job whose runner is gone
    (lease lapsed) to a worker, and send again every pending job (of any kind) whose message is older than
    `resend_after_seconds()` (lost: a broker restarted empty). Returns what it sent.

    Once per loss, not once per sweep: a job is sent again only when nothing was sent for it
    since its lease lapsed, or its last message is older than the grace period. A message sent
    again while the first one is still queued is harmless: the claim and the take-over let
    exactly one delivery through."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=resend_after_seconds())
    kinds = resumable_kinds()
    unsent = Q(sent_at=None) | Q(sent_at__lt=F("lease__expires_at")) | Q(sent_at__lt=stale)
    lapsed = dict(
        Job.objects.filter(kind__in=kinds, status=Job.Status.RUNNING, lease__expires_at__lt=now)
        .filter(lease__continued_by__isnull=True)
        .filter(unsent)
        .values_list("pk", "kind")
    )
    # Not merely queued behind a busy worker: nothing was sent for it within the grace period
    # (a job never sent, by a command that died before claiming it, counts from its creation).
    # Every kind: a plain job's lost message is sent again as well (its claim keeps one run).
    waiting = dict(
        Job.objects.filter(status=Job.Status.PENDING)
        .alias(last_sent=Coalesce("sent_at", "created_at"))
        .filter(last_sent__lt=stale)
        .exclude(params__has_key=Job.PAUSED)
        .values_list("pk", "kind")
    )
    for job_id, kind in (lapsed | waiting).items():
        job_enqueue(Job(pk=job_id, kind=kind))
    if lapsed or waiting:
        log.warning("jobs.sweep: continuing %s, re-sent %s", list(lapsed), list(waiting))
    return {"lapsed": list(lapsed), "pending": list(waiting)}


def job_lease_live(*, job_id: int) -> bool:
    """A runner holds the job and keeps renewing its lease: it is working on it right now."""
    return JobLease.objects.filter(
        job_id=job_id, job__status=Job.Status.RUNNING, expires_at__gte=timezone.now(), continued_by=None
    ).exists()


def job_worker_lost(job: Job) -> bool:
    """A running resumable job whose lease lapsed: its worker is gone and a sweep will hand it
    to another one (pages say "worker lost — continuing")."""
    if job.status != Job.Status.RUNNING:
        return False
    lease = JobLease.objects.filter(job=job).values_list("expires_at", "continued_by").first()
    return lease is not None and lease[1] is None and lease[0] < timezone.now()
