"""Erasing a creator: filed, approved by another approver, run as a job; everything the codec
attributes to the creator goes (registry twins and orphans), nothing else does, and the request
closes only once verification saw it all gone."""

from __future__ import annotations

import pytest

from tests.support.erasure import A1_NAMESPACES, NEIGHBOURS, make_creator, run_job
from tests.support.vectors import counts_of, fill
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.models import ErasureNamespace, ErasureRequest
from twinadmin.erasure.services import (
    ErasureError,
    ErasureForbidden,
    erasure_request_approve,
    erasure_request_file,
    erasure_request_reject,
    erasure_request_retry,
)
from twinadmin.jobs.models import Job
from twinadmin.registry.models import Creator, Twin

pytestmark = pytest.mark.django_db


def _file(operator, creator_id="a.1", **extra):
    data = {"reason": "DSAR from the creator", "ticket_reference": "DSAR-42", "confirm": creator_id} | extra
    return erasure_request_file(creator_id=creator_id, actor=operator, **data)


def test_approved_erasure_removes_every_namespace_of_the_creator_and_nothing_else(
    creator_a1, index, operator, approver
):
    erasure = _file(operator)
    assert Creator.objects.get(creator_id="a.1").status == Creator.Status.ACTIVE  # nothing yet

    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    assert Creator.objects.get(creator_id="a.1").status == Creator.Status.ERASURE_PENDING
    erasure.refresh_from_db()
    job = run_job(erasure.job_id)

    assert job.status == Job.Status.SUCCEEDED, job.error
    assert counts_of(index) == NEIGHBOURS
    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.COMPLETED
    assert erasure.verified_at is not None and erasure.completed_at is not None
    assert Creator.objects.get(creator_id="a.1").status == Creator.Status.ERASED
    assert set(Twin.objects.filter(creator__creator_id="a.1").values_list("status", flat=True)) == {"deleted"}
    assert set(Twin.objects.exclude(creator__creator_id="a.1").values_list("status", flat=True)) == {"active"}
    rows = {r.name: (r.kind, r.count_before, r.status, r.verified) for r in erasure.namespaces.all()}
    assert rows == {
        "creator_a.1": ("creator-wide", 4, "deleted", True),
        "creator_a.1_twin_t1": ("twin", 3, "deleted", True),
        "creator_a.1_twin_t2": ("twin", 2, "deleted", True),
        "creator_a.1_twin_orphan-9": ("orphan", 5, "deleted", True),
    }


def test_the_whole_trail_of_an_erasure_shares_the_requests_correlation_id(
    creator_a1, index, operator, approver
):
    erasure = _file(operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()
    job = run_job(erasure.job_id)

    # Filing, approval and execution: an auditor following the receipt's id sees all of it.
    trail = list(AuditEntry.objects.filter(correlation_id=erasure.correlation_id).order_by("seq"))
    assert [(e.action, e.outcome, e.actor) for e in trail] == [
        ("creator.erase.request", "info", "op"),
        ("creator.erase.approve", "info", "appr"),
        ("migration.cancel_for_creator", "success", "appr"),
        ("creator.erase.start", "intent", "appr"),
        # no backup of the creator exists; their data key is still barred from ever existing
        ("migration.backup_key.destroy", "intent", "appr"),
        ("migration.backup_key.destroy", "success", "appr"),
        ("creator.erase.finish", "success", "appr"),
    ]
    start, finish = trail[3], trail[-1]
    assert start.details["job"] == finish.details["job"] == job.pk
    assert start.details["vectors_before"] == sum(A1_NAMESPACES.values())
    assert start.details["orphans"] == 1
    assert {n["name"]: n["status"] for n in finish.details["namespaces"]} == dict.fromkeys(
        A1_NAMESPACES, "deleted"
    )
    assert not AuditEntry.objects.filter(correlation_id=job.correlation_id).exists()
    # The receipt's chain hash is the head right after the closing entry.
    erasure.refresh_from_db()
    assert erasure.audit_head_hash == finish.entry_hash and erasure.audit_seq == finish.seq


def test_a_requester_can_never_approve_or_reject_their_own_request(creator_a1, operator_approver):
    erasure = _file(operator_approver)
    with pytest.raises(ErasureForbidden):
        erasure_request_approve(erasure=erasure, actor=operator_approver)
    with pytest.raises(ErasureForbidden):
        erasure_request_reject(erasure=erasure, actor=operator_approver)
    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.PENDING and erasure.job is None


def test_operators_cannot_approve_and_a_rejected_request_erases_nothing(
    creator_a1, index, operator, approver, make_user
):
    erasure = _file(operator)
    other_operator = make_user("op2", "operators")
    with pytest.raises(ErasureForbidden):
        erasure_request_approve(erasure=erasure, actor=other_operator)

    erasure_request_reject(erasure=erasure, actor=approver, note="not verified identity")

    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.REJECTED and erasure.rejected_by_name == "appr"
    assert erasure.job is None
    assert counts_of(index) == {**A1_NAMESPACES, **NEIGHBOURS}
    with pytest.raises(ErasureError):
        erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id)


@pytest.mark.parametrize(
    ("creator_id", "confirm", "reason", "message"),
    [
        ("a.1", "a.10", "r", "type the creator id"),
        ("a.1", "a.1", "  ", "reason"),
        ("zz.9", "zz.9", "r", "Unknown creator"),
        ("A_1", "A_1", "r", "Invalid creator id"),
    ],
)
def test_bad_filings_are_refused_and_change_nothing(
    creator_a1, operator, creator_id, confirm, reason, message
):
    with pytest.raises(ErasureError, match=message):
        erasure_request_file(creator_id=creator_id, reason=reason, confirm=confirm, actor=operator)
    assert not ErasureRequest.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="creator.erase").exists()


def test_one_open_request_per_creator(creator_a1, operator):
    first = _file(operator)
    with pytest.raises(ErasureError, match=f"#{first.pk}"):
        _file(operator)


def test_a_failed_verification_keeps_the_request_open_and_a_retry_finishes_it(
    index_server, creator_a1, index, operator, approver, settings
):
    erasure = _file(operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()
    # The index refuses to delete one namespace (an outage of that call, past the retries).
    index_server.set_faults(
        outage_namespaces={"creator_a.1_twin_t2"}, outage_operations={"delete"}, retry_after=0
    )
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 0.3
    job = run_job(erasure.job_id)

    assert job.status == Job.Status.FAILED and "ErasureIncomplete" in job.error
    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.FAILED
    assert "creator_a.1_twin_t2" in erasure.last_error
    assert Creator.objects.get(creator_id="a.1").status == Creator.Status.ERASURE_PENDING
    failed = erasure.namespaces.get(name="creator_a.1_twin_t2")
    assert (failed.status, failed.verified) == ("failed", False) and "503" in failed.error
    assert AuditEntry.objects.get(
        correlation_id=erasure.correlation_id, action="creator.erase.finish"
    ).outcome == ("failure")

    assert index_server.request_count(path="/namespaces/creator_a.1_twin_t2", status=503) > 0
    index_server.set_faults(outage_namespaces=frozenset())  # the outage is over
    erasure_request_retry(erasure=erasure, actor=operator, enqueue=False)
    erasure.refresh_from_db()
    retry = run_job(erasure.job_id)

    assert retry.status == Job.Status.SUCCEEDED, retry.error
    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.COMPLETED and erasure.attempts == 2
    assert counts_of(index) == NEIGHBOURS
    # Checkpoints: the retry deleted only what had failed; the others kept their first outcome.
    calls = dict(erasure.namespaces.values_list("name", "delete_calls"))
    assert calls == {**dict.fromkeys(A1_NAMESPACES, 1), "creator_a.1_twin_t2": 2}
    assert set(erasure.namespaces.values_list("status", flat=True)) == {ErasureNamespace.Status.DELETED}


def test_a_registry_twin_with_no_namespace_is_recorded_not_found(db, index, operator, approver):
    make_creator("c.3", ["never-filled", "filled"])
    fill(index, {"creator_c.3_twin_filled": 2})
    erasure = _file(operator, "c.3")
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()
    assert run_job(erasure.job_id).status == Job.Status.SUCCEEDED

    statuses = dict(erasure.namespaces.values_list("name", "status"))
    assert statuses == {
        "creator_c.3": "not_found",
        "creator_c.3_twin_filled": "deleted",
        "creator_c.3_twin_never-filled": "not_found",
    }
    assert counts_of(index) == {}


def test_running_the_same_job_again_does_nothing_more(creator_a1, index, operator, approver):
    erasure = _file(operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()
    run_job(erasure.job_id)
    entries = AuditEntry.objects.count()

    again = run_job(erasure.job_id)  # a duplicate delivery of the finished job

    assert again.status == Job.Status.SUCCEEDED
    assert AuditEntry.objects.count() == entries
    assert counts_of(index) == NEIGHBOURS
