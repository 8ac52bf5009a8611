"""Deleting a twin: its namespace goes, verification sees it gone, the twin is marked deleted,
and the audit log holds the intent and the outcome with counts. Already gone is a success."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.support.erasure import NEIGHBOURS, run_job
from tests.support.vectors import counts_of
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.models import TwinDeletion
from twinadmin.erasure.services import ErasureError, twin_deletion_request
from twinadmin.jobs.models import Job
from twinadmin.registry.models import Twin
from twinadmin.vectors import Vector

pytestmark = pytest.mark.django_db


def _delete(actor, twin_id="t1", **extra):
    data = {"creator_id": "a.1", "twin_id": twin_id, "reason": "creator asked", "confirm": twin_id} | extra
    return twin_deletion_request(actor=actor, enqueue=False, **data)


def test_deleting_a_twin_removes_its_namespace_only_and_marks_it_deleted(creator_a1, index, operator):
    deletion = _delete(operator)
    assert Twin.objects.get(creator__creator_id="a.1", twin_id="t1").status == "active"  # queued only

    job = run_job(deletion.job_id)

    assert job.status == Job.Status.SUCCEEDED, job.error
    deletion.refresh_from_db()
    assert (deletion.status, deletion.count_before, deletion.count_after, deletion.delete_outcome) == (
        "verified",
        3,
        0,
        "deleted",
    )
    assert deletion.verification["ok"] is True
    assert Twin.objects.get(creator__creator_id="a.1", twin_id="t1").status == "deleted"
    assert Twin.objects.get(creator__creator_id="a.10", twin_id="t1").status == "active"
    left = counts_of(index)
    assert "creator_a.1_twin_t1" not in left
    assert left["creator_a.1_twin_t2"] == 2 and left["creator_a.10_twin_t1"] == 7
    assert {k: v for k, v in left.items() if k in NEIGHBOURS} == NEIGHBOURS


def test_audit_entries_before_and_after_share_the_jobs_correlation_id(creator_a1, index, operator):
    deletion = _delete(operator)
    job = run_job(deletion.job_id)

    trail = list(AuditEntry.objects.filter(correlation_id=job.correlation_id).order_by("seq"))
    assert [(e.action, e.outcome, e.actor, e.target_id, e.creator_id) for e in trail] == [
        ("twin.delete.request", "info", "op", "t1", "a.1"),
        ("twin.delete.start", "intent", "op", "t1", "a.1"),
        ("twin.delete.finish", "success", "op", "t1", "a.1"),
    ]
    assert trail[1].details["vectors_before"] == 3
    assert trail[2].details | {"verified_at": None} == {
        "deletion": deletion.pk,
        "namespace": "creator_a.1_twin_t1",
        "vectors_before": 3,
        "vectors_after": 0,
        "delete": "deleted",
        "verified": True,
        "verification_rounds": 1,
        "verified_at": None,
    }


def test_a_namespace_already_gone_is_a_verified_success(creator_a1, index, operator):
    index.delete_namespace("creator_a.1_twin_t2")
    deletion = _delete(operator, "t2")

    assert run_job(deletion.job_id).status == Job.Status.SUCCEEDED
    deletion.refresh_from_db()
    assert (deletion.status, deletion.count_before, deletion.delete_outcome) == ("verified", 0, "not_found")
    assert Twin.objects.get(creator__creator_id="a.1", twin_id="t2").status == "deleted"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"confirm": "t2"}, "type the twin id"),
        ({"reason": " "}, "reason"),
        ({"twin_id": "nope", "confirm": "nope"}, "has no twin"),
        ({"twin_id": "T_1", "confirm": "T_1"}, "Invalid twin id"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(creator_a1, index, operator, extra, message):
    before = counts_of(index)
    with pytest.raises(ErasureError, match=message):
        _delete(operator, **extra)
    assert not TwinDeletion.objects.exists() and not Job.objects.exists()
    assert counts_of(index) == before


def test_filing_again_while_one_is_queued_returns_that_one(creator_a1, operator):
    first = _delete(operator)
    assert _delete(operator) == first
    assert TwinDeletion.objects.count() == 1


def test_delete_twin_command_runs_in_process_and_prints_json(creator_a1, index, capsys):
    call_command("delete_twin", "a.1", "t1", "--reason", "ticket 7", "--json")

    out = json.loads(capsys.readouterr().out)
    assert out | {"deletion": 0, "job": 0} == {
        "deletion": 0,
        "job": 0,
        "namespace": "creator_a.1_twin_t1",
        "status": "verified",
        "vectors_before": 3,
        "delete": "deleted",
        "vectors_after": 0,
        "verified": True,
    }
    assert "creator_a.1_twin_t1" not in counts_of(index)
    actors = set(AuditEntry.objects.filter(action__startswith="twin.delete").values_list("actor", flat=True))
    assert actors == {"cli:delete_twin"}
    # Idempotent: running it again files nothing and reports the deletion that holds.
    call_command("delete_twin", "a.1", "t1", "--reason", "again", "--json")
    again = json.loads(capsys.readouterr().out)
    assert (again["deletion"], again["verified"]) == (out["deletion"], True)
    assert TwinDeletion.objects.count() == 1


def test_delete_twin_command_refuses_bad_input(creator_a1):
    with pytest.raises(CommandError, match="has no twin"):
        call_command("delete_twin", "a.1", "ghost", "--reason", "x")


def test_delete_twin_command_async_only_queues(creator_a1, index, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("delete_twin", "a.1", "t1", "--reason", "x", "--async")
    deletion = TwinDeletion.objects.get()
    assert deletion.status == "pending" and deletion.job.status == Job.Status.PENDING
    assert len(callbacks) == 1  # the hand-over to the workers, sent once the transaction commits
    assert counts_of(index)["creator_a.1_twin_t1"] == 3


def test_a_deleted_twin_is_not_deleted_again(creator_a1, index, operator):
    run_job(_delete(operator).job_id)
    entries = AuditEntry.objects.count()

    with pytest.raises(ErasureError, match="already deleted"):
        _delete(operator)  # the form again, through the browser's Back button

    assert TwinDeletion.objects.filter(twin_id="t1", creator_id="a.1").count() == 1
    assert AuditEntry.objects.count() == entries


def test_a_deleted_twin_whose_namespace_holds_vectors_again_can_be_deleted_again(creator_a1, index, operator):
    first = _delete(operator)
    run_job(first.job_id)
    index.upsert("creator_a.1_twin_t1", [Vector("back", np.ones(index.dimension, np.float32))])

    again = _delete(operator)

    assert again.pk != first.pk and run_job(again.job_id).status == Job.Status.SUCCEEDED
    assert not index.has_ids("creator_a.1_twin_t1")


def test_the_form_sent_again_after_the_deletion_says_already_deleted(creator_a1, index, operator_client):
    url = reverse("erasure-delete-twin", args=["a.1", "t1"])
    form = {"reason": "creator asked", "confirm": "t1"}
    operator_client.post(url, form)
    run_job(TwinDeletion.objects.get().job_id)

    again = operator_client.post(url, form)  # Back, then submit once more

    assert again.status_code == 400 and "already deleted" in again.content.decode()
    assert TwinDeletion.objects.count() == 1


def test_the_last_poll_of_a_finished_deletion_says_deleted_in_words(creator_a1, index, operator_client):
    index.delete_namespace("creator_a.1_twin_t2")  # already gone: the delete finds nothing
    form = {"reason": "asked", "confirm": "t2"}
    operator_client.post(reverse("erasure-delete-twin", args=["a.1", "t2"]), form)
    deletion = TwinDeletion.objects.get()
    polling = operator_client.get(deletion.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "Deleting twin" in polling

    run_job(deletion.job_id)
    last = operator_client.get(deletion.get_absolute_url(), HTTP_HX_REQUEST="true")

    body = last.content.decode()
    assert last.status_code == 286 and 'id="deletion-heading"' in body
    assert "Deleting twin" not in body and '<span class="mono">t2</span> deleted' in body
    assert "not found" in body and "not_found" not in body.replace('data-status="', "")
    assert "1 check," in body and "(succeeded)" in body
