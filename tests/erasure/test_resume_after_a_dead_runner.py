"""A runner that dies mid-erasure (worker killed) leaves its job RUNNING with a lease nobody
renews. Until the lease expires nobody else touches it; then the next delivery continues the
work as a new job from the checkpoints, without deleting anything twice, and the request ends
verified. A stalled runner that wakes up after being taken over cannot close anything.

The dying runner is a real process, running the job as a worker does, SIGKILLed once it has
checkpointed some deletes; it reaches the index through the SDK and a local Pinecone server
slowed down enough to kill it between two deletes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.support.erasure import A1_NAMESPACES, NEIGHBOURS, run_job
from tests.support.runners import job_killed_when
from tests.support.vectors import counts_of
from twinadmin.audit.models import AuditEntry
from twinadmin.celery import app as celery_app
from twinadmin.erasure.jobs import RESUMABLE_KINDS
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.jobs import leases
from twinadmin.jobs.models import Job, JobLease
from twinadmin.jobs.tasks import run_resumable_job

pytestmark = pytest.mark.django_db


def _approved(operator, approver):
    erasure = erasure_request_file(creator_id="a.1", reason="DSAR", confirm="a.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()
    return erasure


def _runner_killed(server, erasure, *, after_deletes: int) -> None:
    """Run the erasure's job in another process, as a worker does, and SIGKILL it once it holds
    the lease and has checkpointed `after_deletes` deletes (each request to the server is slow)."""
    server.set_faults(latency_ms=300)
    job_killed_when(
        server,
        erasure.job_id,
        lambda: (
            JobLease.objects.filter(job_id=erasure.job_id, job__status=Job.Status.RUNNING)
            .exclude(owner="")
            .exists()
            and erasure.namespaces.filter(status="deleted").count() >= after_deletes
        ),
        what=f"{after_deletes} deletes",
        ERASURE_CONCURRENCY="1",
    )
    server.set_faults(latency_ms=0)


def _expire_lease(job_id: int) -> None:
    """Time passing (the lease is 330 s): the only boundary patched here."""
    JobLease.objects.filter(job_id=job_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_runner_died_is_continued_after_its_lease_expires(
    index_server, creator_a1, index, operator, approver
):
    erasure = _approved(operator, approver)
    _runner_killed(index_server, erasure, after_deletes=2)
    first = Job.objects.get(pk=erasure.job_id)
    assert first.status == Job.Status.RUNNING
    deleted_by_first = erasure.namespaces.filter(status="deleted").count()
    assert 2 <= deleted_by_first < len(A1_NAMESPACES)

    # A redelivery while the lease still runs leaves it alone (its runner may be alive).
    assert run_job(first.pk).pk == first.pk
    assert Job.objects.get(pk=first.pk).status == Job.Status.RUNNING

    _expire_lease(first.pk)
    successor = run_job(first.pk)

    assert successor.pk != first.pk and successor.status == Job.Status.SUCCEEDED, successor.error
    first.refresh_from_db()
    assert first.status == Job.Status.FAILED and f"continued by job {successor.pk}" in first.error
    erasure.refresh_from_db()
    assert erasure.status == "completed" and erasure.job_id == successor.pk
    assert counts_of(index) == NEIGHBOURS
    # Checkpoints: nothing deleted twice.
    assert dict(erasure.namespaces.values_list("name", "delete_calls")) == dict.fromkeys(A1_NAMESPACES, 1)
    trail = AuditEntry.objects.filter(correlation_id=erasure.correlation_id)
    resumed = trail.get(action="creator.erase.resume")
    assert resumed.details["job"] == successor.pk and resumed.details["continues_job"] == first.pk
    assert resumed.details["already_deleted"] == deleted_by_first
    assert [e.details["job"] for e in trail.filter(action="creator.erase.finish")] == [successor.pk]


@pytest.mark.django_db(transaction=True)
def test_only_one_of_two_deliveries_takes_a_dead_job_over(
    index_server, creator_a1, index, operator, approver
):
    erasure = _approved(operator, approver)
    _runner_killed(index_server, erasure, after_deletes=0)
    _expire_lease(erasure.job_id)

    first_taker = leases.job_take_over(job_id=erasure.job_id)
    second_taker = leases.job_take_over(job_id=erasure.job_id)

    assert first_taker is not None and second_taker is None
    assert Job.objects.filter(kind="erase_creator").count() == 2


def test_a_stalled_runner_cannot_renew_after_being_taken_over(creator_a1, operator, approver):
    erasure = _approved(operator, approver)
    job = Job.objects.get(pk=erasure.job_id)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    with leases.running_as("worker@a"):
        leases.lease_acquire(job)
    _expire_lease(job.pk)
    with leases.running_as("worker@b"):
        successor = leases.job_take_over(job_id=job.pk)
    assert successor is not None

    with leases.running_as("worker@a"), pytest.raises(leases.LeaseLost, match=f"job {successor.pk}"):
        leases.lease_renew(job)


def test_a_starting_worker_re_enqueues_interrupted_jobs(
    creator_a1, operator, approver, django_capture_on_commit_callbacks
):
    erasure = _approved(operator, approver)
    running = Job.objects.get(pk=erasure.job_id)
    Job.objects.filter(pk=running.pk).update(status=Job.Status.RUNNING, started_at=timezone.now())
    JobLease.objects.filter(job=running).update(expires_at=timezone.now() + dt.timedelta(seconds=100))
    pending = Job.objects.create(kind="delete_twin")
    celery_app.control.purge()

    with django_capture_on_commit_callbacks(execute=True):
        resumed = leases.interrupted_jobs_resume(kinds=RESUMABLE_KINDS)

    assert sorted(resumed) == sorted([running.pk, pending.pk])
    by_job = _taken_from_the_broker()
    assert set(by_job) == {running.pk, pending.pk}
    assert by_job[pending.pk] is None  # at once
    assert 95 < by_job[running.pk] <= 101  # once the running job's lease has run out


def _taken_from_the_broker() -> dict[int, float | None]:
    """Job id -> seconds until due (None: due now) of each run_resumable_job message waiting in
    the broker's queue, which is emptied."""
    found: dict[int, float | None] = {}
    with celery_app.connection_for_read() as conn:
        queue = conn.SimpleQueue(celery_app.conf.task_default_queue, no_ack=True)
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    return found
                if message.headers.get("task") != run_resumable_job.name:
                    continue
                args, _kwargs, _embed = message.payload
                eta = message.headers.get("eta")
                found[args[0]] = (
                    (dt.datetime.fromisoformat(eta) - timezone.now()).total_seconds() if eta else None
                )
        finally:
            queue.close()


def test_the_sweep_hands_on_jobs_whose_worker_died_and_nobody_presses_anything(
    creator_a1, index, operator, approver, django_capture_on_commit_callbacks
):
    erasure = _approved(operator, approver)
    dead = Job.objects.get(pk=erasure.job_id)
    now = timezone.now()
    Job.objects.filter(pk=dead.pk).update(status=Job.Status.RUNNING, started_at=now)
    JobLease.objects.filter(job=dead).update(
        owner="worker@gone:1:1", expires_at=now - dt.timedelta(seconds=1)
    )
    alive = Job.objects.create(kind="delete_twin", status=Job.Status.RUNNING, started_at=now)
    JobLease.objects.create(job=alive, owner="worker@busy:2:2", expires_at=now + dt.timedelta(seconds=60))
    lost = Job.objects.create(kind="delete_twin")  # its message never arrived
    Job.objects.filter(pk=lost.pk).update(created_at=now - dt.timedelta(hours=1))
    queued = Job.objects.create(kind="delete_twin")  # merely waiting behind a busy worker
    celery_app.control.purge()

    with django_capture_on_commit_callbacks(execute=True):
        swept = leases.jobs_sweep()

    assert (swept["lapsed"], swept["pending"]) == ([dead.pk], [lost.pk])
    assert set(_taken_from_the_broker()) == {dead.pk, lost.pk}
    assert queued.pk not in swept["pending"] and alive.pk not in swept["lapsed"]
    dead.refresh_from_db()
    assert leases.job_worker_lost(dead) and not leases.job_worker_lost(alive)

    successor = run_job(dead.pk)  # what the worker does with the message the sweep sent

    erasure.refresh_from_db()
    assert successor.pk != dead.pk and successor.status == Job.Status.SUCCEEDED, successor.error
    assert erasure.status == "completed" and erasure.job_id == successor.pk
    assert counts_of(index) == NEIGHBOURS
