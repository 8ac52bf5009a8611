"""A twin deletion and the erasure of its creator running at the same time converge: both jobs
succeed, the namespace is deleted once (the other sees it gone), the registry ends erased, and
the audit log is one unbroken chain with each job's intent and outcome."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tests.support.erasure import A1_NAMESPACES, NEIGHBOURS, make_creator, run_job
from tests.support.vectors import counts_of, fill
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.services import audit_chain_verify
from twinadmin.erasure.services import (
    erasure_request_approve,
    erasure_request_file,
    twin_deletion_request,
)
from twinadmin.jobs.models import Job
from twinadmin.registry.models import Creator, Twin

pytestmark = pytest.mark.django_db(transaction=True)


def _in_threads(*job_ids: int) -> list[Job]:
    barrier = threading.Barrier(len(job_ids))
    results: dict[int, Job | BaseException] = {}

    def run(job_id: int) -> None:
        try:
            barrier.wait()
            results[job_id] = run_job(job_id)
        except BaseException as exc:  # reported below
            results[job_id] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job_id,)) for job_id in job_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for value in results.values():
        if isinstance(value, BaseException):
            raise value
    return [results[job_id] for job_id in job_ids]


def test_twin_deletion_and_creator_erasure_converge(index, operator, approver):
    make_creator("a.1", ["t1", "t2"])
    make_creator("a.10", ["t1"])
    fill(index, {**A1_NAMESPACES, **NEIGHBOURS})
    deletion = twin_deletion_request(
        creator_id="a.1", twin_id="t1", reason="r", confirm="t1", actor=operator, enqueue=False
    )
    erasure = erasure_request_file(creator_id="a.1", reason="DSAR", confirm="a.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()

    deletion_job, erasure_job = _in_threads(deletion.job_id, erasure.job_id)

    assert deletion_job.status == Job.Status.SUCCEEDED, deletion_job.error
    assert erasure_job.status == Job.Status.SUCCEEDED, erasure_job.error
    assert counts_of(index) == NEIGHBOURS
    assert Creator.objects.get(creator_id="a.1").status == "erased"
    assert set(Twin.objects.filter(creator__creator_id="a.1").values_list("status", flat=True)) == {"deleted"}
    assert Twin.objects.get(creator__creator_id="a.10").status == "active"
    deletion.refresh_from_db()
    erasure.refresh_from_db()
    assert deletion.status == "verified" and erasure.status == "completed"
    # The shared namespace was deleted by exactly one of them; the other found it gone.
    outcomes = sorted([deletion.delete_outcome, erasure.namespaces.get(name="creator_a.1_twin_t1").status])
    assert outcomes == ["deleted", "not_found"]

    report = audit_chain_verify()
    assert report.ok, report.first_broken
    # A twin deletion's trail is under its job's id; an erasure's under its request's.
    for correlation_id, prefix in (
        (deletion_job.correlation_id, "twin.delete"),
        (erasure.correlation_id, "creator.erase"),
    ):
        trail = AuditEntry.objects.filter(correlation_id=correlation_id).order_by("seq")
        assert [(e.action, e.outcome) for e in trail if e.action.endswith((".start", ".finish"))] == [
            (f"{prefix}.start", "intent"),
            (f"{prefix}.finish", "success"),
        ]
