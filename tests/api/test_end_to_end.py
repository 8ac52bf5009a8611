"""The product's whole story through the API, against a live server: a script using only httpx
registers a webhook, creates a creator with three twins, files an erasure request; an approver
approves it on the page; the erasure runs; the script's receiver gets `erasure.completed` with a
valid signature, and the script fetches the signed receipt.

Celery runs eagerly here (the broker is a process boundary): the approval's job runs when the
approval commits, and the job's webhook deliveries when its close commits."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from django.test import Client

from tests.api.receiver_check import verify
from tests.support.vectors import fill
from twinadmin.api.services import api_client_create
from twinadmin.audit.keys import public_key_load
from twinadmin.erasure.receipts import erasure_receipt_check
from twinadmin.vectors import get_index

pytestmark = pytest.mark.django_db(transaction=True)


def _events(receiver, kind: str) -> list[dict]:
    return [r for r in receiver.received if json.loads(r["body"])["type"] == kind]


def test_the_product_erases_a_creator_through_the_api(
    live_server, receiver, approver, signing_key, eager_tasks, settings
):
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 5
    _, token = api_client_create(
        name="product",
        scopes=["registry:write", "erasure:request", "erasure:read", "webhooks:write"],
        actor="cli:test",
    )

    # --- the product's script: httpx only ---
    api = httpx.Client(base_url=f"{live_server.url}/api/v1", headers={"Authorization": f"Bearer {token}"})
    hook = api.post("/webhooks", json={"url": receiver.url, "events": ["erasure.completed"]}).json()
    created = api.post(
        "/creators",
        json={
            "creator_id": "e2e.1",
            "twins": [{"twin_id": "sales"}, {"name": "Support", "naming": "semantic"}, {}],
        },
        headers={"Idempotency-Key": "signup-e2e.1"},
    )
    assert created.status_code == 201, created.text
    namespaces = [t["namespace"] for t in created.json()["twins"]]
    assert len(namespaces) == 3
    fill(get_index(), {namespaces[0]: 3, namespaces[1]: 2, namespaces[2]: 1})  # what the product wrote
    filed = api.post(
        "/erasure-requests",
        json={"creator_id": "e2e.1", "reason": "account deleted", "dsr_id": "DSR-77"},
        headers={"Idempotency-Key": "dsr-77"},
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["request_id"]
    assert api.get(f"/erasure-requests/{request_id}").json()["status"] == "pending"

    # --- an approver, on the page ---
    page = Client()
    page.force_login(approver)
    detail = page.get(f"/erasure/requests/{request_id}/").content.decode()
    digest = re.search(r'name="scope_digest" value="([0-9a-f]+)"', detail)
    assert digest, "the page shows the scope it approves"
    approved = page.post(
        f"/erasure/requests/{request_id}/approve/", {"confirm": "e2e.1", "scope_digest": digest.group(1)}
    )
    assert approved.status_code == 302

    # --- the script again: its receiver, then the receipt ---
    deadline = time.monotonic() + 30
    while not _events(receiver, "erasure.completed") and time.monotonic() < deadline:
        time.sleep(0.1)
    (delivery,) = _events(receiver, "erasure.completed")
    assert verify(hook["secret"], delivery["body"], delivery["headers"]["Twinadmin-Signature"])
    event = json.loads(delivery["body"])
    assert event["data"]["request_id"] == request_id and event["data"]["dsr_id"] == "DSR-77"

    status = api.get(f"/erasure-requests/{request_id}").json()
    assert status["status"] == "completed" and status["receipt_available"]
    receipt = api.get(f"/erasure-requests/{request_id}/receipt")
    assert receipt.status_code == 200
    document = receipt.json()
    assert document["body"]["verified"] is True
    assert {n["name"] for n in document["body"]["namespaces"]} >= set(namespaces)
    assert erasure_receipt_check(document, public_key_load()) == []
    assert get_index().describe_index_stats().namespaces.keys().isdisjoint(namespaces)
