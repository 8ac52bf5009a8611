"""Receipts and pages: the receipt (page and JSON) names every namespace with its count before
and final status, the people, the times, the evidence and the audit chain head — and no vector
values, ids, metadata or text. Pages poll a running job and stop (286) when it ends."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.support.erasure import A1_NAMESPACES, run_job
from tests.support.vectors import SECRET_TEXT, vectors
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def erased(creator_a1, index, operator, approver):
    erasure = erasure_request_file(
        creator_id="a.1", reason="DSAR", ticket_reference="DSAR-42", confirm="a.1", actor=operator
    )
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()
    assert run_job(erasure.job_id).status == Job.Status.SUCCEEDED
    erasure.refresh_from_db()
    return erasure


def test_the_json_receipt_holds_the_proof(erased, auditor, client):
    client.force_login(auditor)
    response = client.get(reverse("erasure-download-receipt", args=[erased.pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="erasure-receipt-{erased.pk}-a.1.json"'
    receipt = json.loads(response.content)
    assert receipt["request_id"] == erased.pk and receipt["creator_id"] == "a.1"
    assert receipt["verified"] is True and receipt["status"] == "completed"
    assert receipt["ticket_reference"] == "DSAR-42"
    assert receipt["people"] == {"requester": "op", "approver": "appr", "executor": erased.executor}
    assert all(
        receipt["timestamps"][k] for k in ("requested", "approved", "started", "completed", "verified")
    )
    assert {n["name"]: (n["count_before"], n["status"]) for n in receipt["namespaces"]} == {
        name: (count, "deleted") for name, count in A1_NAMESPACES.items()
    }
    assert all(n["verified"] and n["evidence"]["ids_listed"] == 0 for n in receipt["namespaces"])
    assert receipt["totals"]["vectors_before"] == sum(A1_NAMESPACES.values())
    assert receipt["verification"]["passes"][-1]["ok"] is True
    assert receipt["audit"] == {"entry_seq": erased.audit_seq, "chain_head_hash": erased.audit_head_hash}
    assert len(receipt["audit"]["chain_head_hash"]) == 64


def test_receipts_contain_no_vector_data(erased, auditor, client):
    client.force_login(auditor)
    page = client.get(reverse("erasure-request-receipt", args=[erased.pk])).content.decode()
    document = client.get(reverse("erasure-download-receipt", args=[erased.pk])).content.decode()
    detail = client.get(erased.get_absolute_url()).content.decode()

    sample = vectors(3)
    for text in (page, document, detail):
        assert SECRET_TEXT not in text  # vector ids, metadata text and sources all carry it
        for vector in sample:
            assert vector.id not in text
            assert f"{float(vector.values[0]):.6f}"[:8] not in text
    assert "values" not in json.loads(document)
    assert "creator_a.1_twin_orphan-9" in page  # it does name what was erased


def test_the_request_page_polls_while_running_and_stops_when_done(
    creator_a1, index, operator, approver, auditor, client
):
    erasure = erasure_request_file(creator_id="a.1", reason="r", confirm="a.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    client.force_login(auditor)
    htmx = {"HX-Request": "true"}

    queued = client.get(erasure.get_absolute_url(), headers=htmx)
    assert queued.status_code == 200 and b'hx-trigger="every 1s"' in queued.content
    assert b"<html" not in queued.content  # only the fragment

    erasure.refresh_from_db()
    run_job(erasure.job_id)
    done = client.get(erasure.get_absolute_url(), headers=htmx)
    assert done.status_code == 286
    assert b"Erased and verified" in done.content and b"hx-trigger" not in done.content
    assert b"<progress" not in done.content  # the job's last step counts are not shown as progress


def test_the_twin_deletion_page_stops_polling_when_verified(creator_a1, index, operator, client):
    client.force_login(operator)
    response = client.post(
        reverse("erasure-delete-twin", args=["a.1", "t1"]), {"reason": "r", "confirm": "t1"}
    )
    deletion_url = response["Location"]
    assert client.get(deletion_url, headers={"HX-Request": "true"}).status_code == 200

    from twinadmin.erasure.models import TwinDeletion

    run_job(TwinDeletion.objects.get().job_id)
    done = client.get(deletion_url, headers={"HX-Request": "true"})
    assert done.status_code == 286 and b"Deleted and verified" in done.content


def test_registry_pages_link_to_erasure(creator_a1, erased, operator, client):
    client.force_login(operator)
    creator_page = client.get(reverse("registry-creator-detail", args=["a.1"])).content.decode()
    assert erased.get_absolute_url() in creator_page and "Erased and verified" in creator_page
    other = client.get(reverse("registry-creator-detail", args=["a.10"])).content.decode()
    assert reverse("erasure-create-request", args=["a.10"]) in other
    twin_page = client.get(reverse("registry-twin-detail", args=["a.10", "t1"])).content.decode()
    assert reverse("erasure-delete-twin", args=["a.10", "t1"]) in twin_page


def test_the_list_page_filters_by_state(erased, operator, auditor, client):
    erasure_request_file(creator_id="a.10", reason="r", confirm="a.10", actor=operator)
    client.force_login(auditor)
    open_page = client.get(reverse("erasure-list-requests")).content.decode()
    done_page = client.get(reverse("erasure-list-requests"), {"state": "done"}).content.decode()
    assert ">a.10<" in open_page and ">a.1<" not in open_page
    assert ">a.1<" in done_page and ">a.10<" not in done_page


def test_a_job_that_ended_without_closing_the_request_offers_a_retry(
    index_server, creator_a1, index, operator, approver, client
):
    erasure = erasure_request_file(creator_id="a.1", reason="r", confirm="a.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()
    index_server.set_faults(fail_503=1.0, retry_after=0)  # the index is down

    assert run_job(erasure.job_id).status == Job.Status.FAILED
    index_server.set_faults(fail_503=0.0)
    client.force_login(operator)

    page = client.get(erasure.get_absolute_url(), headers={"HX-Request": "true"})

    assert page.status_code == 286  # nothing is running: stop polling
    assert b"Service unavailable (injected by pinecone_local)" in page.content
    assert b"Retry erasure" in page.content
    assert client.post(reverse("erasure-retry-request", args=[erasure.pk])).status_code == 302
    erasure.refresh_from_db()
    assert erasure.attempts == 2 and erasure.status == "approved"


def test_the_request_page_leads_to_the_erasure_s_story_in_the_audit_log(erased, auditor, client):
    client.force_login(auditor)
    page = client.get(erased.get_absolute_url()).content.decode()
    story_url = reverse("audit-show-story", args=[str(erased.correlation_id)])
    assert f'id="audit-story" href="{story_url}"' in page

    story = client.get(story_url)

    assert story.status_code == 200
    body = story.content.decode()
    assert "creator.erase.request" in body and "creator.erase.approve" in body
