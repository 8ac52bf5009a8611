"""Filing and approving an erasure show its scope, read live: every namespace with its kind and
count. The approver types the creator id, and approves the scope the page showed: when it has
changed since, nothing is approved. What turns up only at execution is erased all the same and
marked on the receipt."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.support.erasure import A1_NAMESPACES, run_job
from tests.support.vectors import vectors
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.models import ErasureRequest
from twinadmin.erasure.receipts import erasure_receipt
from twinadmin.erasure.scope import erasure_scope_read
from twinadmin.erasure.services import ErasureError, erasure_request_approve, erasure_request_file

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _digest_on(page: bytes) -> str:
    return re.search(rb'name="scope_digest" value="([0-9a-f]{64})"', page).group(1).decode()


@pytest.fixture
def filed(creator_a1, operator):
    return erasure_request_file(creator_id="a.1", reason="DSAR", confirm="a.1", actor=operator)


def test_the_request_form_previews_every_namespace_with_its_kind_and_count(creator_a1, operator):
    page = _client(operator).get(reverse("erasure-create-request", args=["a.1"])).content.decode()
    table = page[page.index('id="scope-namespaces"') :]
    for name, count in A1_NAMESPACES.items():
        assert re.search(rf'{re.escape(name)}</td><td>[^<]+</td><td class="num">{count}</td>', table), name
    assert "Not in the registry" in table and "Creator-wide" in table
    assert f"<strong>{sum(A1_NAMESPACES.values())}</strong> vectors" in page
    assert "creator_a.10" not in table  # a neighbour whose id starts with a.1


def test_the_approver_sees_the_scope_and_approves_exactly_it(filed, approver):
    client = _client(approver)
    page = client.get(filed.get_absolute_url()).content
    for name in A1_NAMESPACES:
        assert name.encode() in page
    digest = _digest_on(page)
    assert digest == erasure_scope_read(creator_id="a.1").digest

    client.post(
        reverse("erasure-approve-request", args=[filed.pk]), {"confirm": "a.1", "scope_digest": digest}
    )

    filed.refresh_from_db()
    assert filed.status == ErasureRequest.Status.APPROVED and filed.approved_scope_digest == digest
    assert {n["name"]: n["count"] for n in filed.approved_scope["namespaces"]} == A1_NAMESPACES
    entry = AuditEntry.objects.get(action="creator.erase.approve", correlation_id=filed.correlation_id)
    assert entry.details["scope_digest"] == digest
    assert entry.details["scope"]["total_vectors"] == sum(A1_NAMESPACES.values())


def test_a_scope_that_changed_after_the_page_was_read_is_not_approved(filed, approver, index):
    client = _client(approver)
    digest = _digest_on(client.get(filed.get_absolute_url()).content)
    index.upsert("creator_a.1_twin_t1", vectors(2, prefix="meanwhile"))  # the product wrote more

    response = client.post(
        reverse("erasure-approve-request", args=[filed.pk]),
        {"confirm": "a.1", "scope_digest": digest},
        follow=True,
    )

    filed.refresh_from_db()
    assert filed.status == ErasureRequest.Status.PENDING and not filed.approved_scope_digest
    assert b"has changed since the page was loaded" in response.content
    assert _digest_on(response.content) != digest  # the page now shows the new scope
    assert not AuditEntry.objects.filter(action="creator.erase.approve").exists()


@pytest.mark.parametrize("typed", ["", "a.10", "A.1", "a.1 x"])
def test_approving_needs_the_creator_id_typed(filed, approver, typed):
    with pytest.raises(ErasureError, match="type the creator id"):
        erasure_request_approve(erasure=filed, actor=approver, confirm=typed, enqueue=False)
    filed.refresh_from_db()
    assert filed.status == ErasureRequest.Status.PENDING


@pytest.mark.parametrize("note", ["", "   "])
def test_rejecting_needs_a_note(filed, approver, note):
    response = _client(approver).post(
        reverse("erasure-reject-request", args=[filed.pk]), {"note": note}, follow=True
    )
    filed.refresh_from_db()
    assert filed.status == ErasureRequest.Status.PENDING
    assert b"why the request is rejected" in response.content


def test_what_appears_after_approval_is_erased_and_marked_found_at_execution(filed, approver, index):
    erasure_request_approve(erasure=filed, actor=approver, confirm="a.1", enqueue=False)
    index.upsert("creator_a.1_twin_late", vectors(3, prefix="late"))  # after approval, before the job
    filed.refresh_from_db()

    job = run_job(filed.job_id)

    assert job.status == "succeeded", job.error
    filed.refresh_from_db()
    late = filed.namespaces.get(name="creator_a.1_twin_late")
    assert (late.status, late.verified, late.found_at_execution) == ("deleted", True, True)
    marked = {n["name"] for n in erasure_receipt(filed)["namespaces"] if n["found_at_execution"]}
    assert marked == {"creator_a.1_twin_late"}
    assert "creator_a.1_twin_late" not in index.describe_index_stats().namespaces
