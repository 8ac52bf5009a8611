"""A runner that dies mid-erasure (worker killed) leaves its job RUNNING with a lease nobody
renews. Until the lease expires nobody else touches it; then the next delivery continues the
work as a new job from the checkpoints, without deleting anything twice, and the request ends
verified. A stalled runner that wakes up after being taken over cannot close anything."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from twinadmin.audit.models import AuditEntry
from twinadmin.erasure import leases
from twinadmin.erasure.jobs import RESUMABLE_KINDS
from twinadmin.erasure.models import JobLease
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.erasure.tasks import run_resumable_job
from twinadmin.jobs.models import Job

from .conftest import A1_NAMESPACES, NEIGHBOURS, counts_of, run_job

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Like SIGKILL: nothing in the job gets to clean up (job_execute catches Exception only)."""


def _approved(operator, approver):
    erasure = erasure_request_file(creator_id="a.1", reason="DSAR", confirm="a.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, enqueue=False)
    erasure.refresh_from_db()
    return erasure


def _die_after(monkeypatch, index, deletes: int) -> None:
    real = type(index).delete_namespace
    calls = {"n": 0}

    def delete(self, name):
        if calls["n"] == deletes:
            raise WorkerKilled
        calls["n"] += 1
        return real(self, name)

    monkeypatch.setattr(type(index), "delete_namespace", delete)


def _expire_lease(job_id: int) -> None:
    """Time passing (the lease is 330 s): the only boundary patched here."""
    JobLease.objects.filter(job_id=job_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))


def test_a_job_whose_runner_died_is_continued_after_its_lease_expires(
    creator_a1, index, operator, approver, monkeypatch
):
    erasure = _approved(operator, approver)
    _die_after(monkeypatch, index, deletes=2)
    with pytest.raises(WorkerKilled):
        run_job(erasure.job_id)
    monkeypatch.undo()
    first = Job.objects.get(pk=erasure.job_id)
    assert first.status == Job.Status.RUNNING
    assert erasure.namespaces.filter(status="deleted").count() == 2

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
    resumed = AuditEntry.objects.get(correlation_id=successor.correlation_id, action="creator.erase.resume")
    assert resumed.details["continues_job"] == first.pk and resumed.details["already_deleted"] == 2
    assert not AuditEntry.objects.filter(correlation_id=first.correlation_id, action="creator.erase.finish")


def test_only_one_of_two_deliveries_takes_a_dead_job_over(creator_a1, index, operator, approver, monkeypatch):
    erasure = _approved(operator, approver)
    _die_after(monkeypatch, index, deletes=0)
    with pytest.raises(WorkerKilled):
        run_job(erasure.job_id)
    monkeypatch.undo()
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
    creator_a1, operator, approver, monkeypatch, django_capture_on_commit_callbacks
):
    erasure = _approved(operator, approver)
    running = Job.objects.get(pk=erasure.job_id)
    Job.objects.filter(pk=running.pk).update(status=Job.Status.RUNNING, started_at=timezone.now())
    JobLease.objects.filter(job=running).update(expires_at=timezone.now() + dt.timedelta(seconds=100))
    pending = Job.objects.create(kind="delete_twin")
    sent = []
    # The broker is the boundary: record what would be sent.
    monkeypatch.setattr(run_resumable_job, "delay", lambda job_id: sent.append((job_id, None)))
    monkeypatch.setattr(
        run_resumable_job, "apply_async", lambda args, countdown=None: sent.append((args[0], countdown))
    )

    with django_capture_on_commit_callbacks(execute=True):
        resumed = leases.interrupted_jobs_resume(kinds=RESUMABLE_KINDS)

    assert sorted(resumed) == sorted([running.pk, pending.pk])
    by_job = dict(sent)
    assert by_job[pending.pk] is None
    assert 95 < by_job[running.pk] <= 101  # once the running job's lease has run out
