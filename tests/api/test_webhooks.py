"""Webhooks: registered through the API (http(s) only, no private addresses unless allowed),
emitted by the erasure services, signed as documented (the receiver here checks the signature
with the README's scheme), retried with backoff against a receiver that fails, logged per
delivery, and resent from the page."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import problem
from tests.api.receiver_check import verify
from tests.support.erasure import make_creator
from twinadmin.api.models import WebhookDelivery, WebhookEndpoint
from twinadmin.api.tasks import webhook_deliver
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file

pytestmark = pytest.mark.django_db


def _register(caller, url, events=("erasure.approved",)):
    response = caller.post("/webhooks", {"url": url, "events": list(events)})
    assert response.status_code == 201, response.content
    return response.json()


def _approve_an_erasure(operator, approver):
    make_creator("w.1", ["t1"])
    erasure = erasure_request_file(
        creator_id="w.1", reason="DSAR", ticket_reference="DSR-9", confirm="w.1", actor=operator
    )
    erasure_request_approve(erasure=erasure, actor=approver, confirm="w.1", enqueue=False)
    return erasure


def test_a_delivery_is_signed_as_documented(product, receiver, operator, approver):
    hook = _register(product, receiver.url)
    assert hook["secret"].startswith("whsec_")
    erasure = _approve_an_erasure(operator, approver)
    delivery = WebhookDelivery.objects.get(event="erasure.approved")

    webhook_deliver.apply(args=(delivery.pk,))

    (sent,) = receiver.received
    assert verify(hook["secret"], sent["body"], sent["headers"]["Twinadmin-Signature"])
    assert not verify("whsec_other", sent["body"], sent["headers"]["Twinadmin-Signature"])
    assert not verify(hook["secret"], sent["body"] + b" ", sent["headers"]["Twinadmin-Signature"])
    event = json.loads(sent["body"])
    assert event["type"] == "erasure.approved"
    assert event["data"] == {
        "request_id": erasure.pk,
        "creator_id": "w.1",
        "dsr_id": "DSR-9",
        "status": "approved",
        "error": "",
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("delivered", 1, 200)


def test_a_receiver_that_fails_twice_gets_it_on_the_third_attempt(
    product, receiver, operator, approver, settings
):
    receiver.fail_first = 2
    _register(product, receiver.url)
    _approve_an_erasure(operator, approver)
    delivery = WebhookDelivery.objects.get()

    # Eager: Celery runs each retry at once (its countdown is the broker's business).
    webhook_deliver.apply(args=(delivery.pk,))

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("delivered", 3, 200)
    assert [a["status"] for a in delivery.log] == [500, 500, 200]
    assert len(receiver.received) == 3
    assert len({r["headers"]["Twinadmin-Delivery"] for r in receiver.received}) == 1


def test_backoff_doubles_and_gives_up_after_the_day(product, receiver, operator, approver, settings):
    """With the day shortened to 100 s and retries from 30 s: attempts after 30 and 60 s, and the
    next (120 s) would be past the day, so the delivery gives up after three."""
    settings.API_WEBHOOK_RETRY_BASE_SECONDS, settings.API_WEBHOOK_GIVE_UP_SECONDS = 30, 100
    receiver.fail_first = 100
    _register(product, receiver.url)
    _approve_an_erasure(operator, approver)
    delivery = WebhookDelivery.objects.get()
    from twinadmin.api.webhooks import webhook_delivery_attempt

    delays = [webhook_delivery_attempt(delivery_id=delivery.pk) for _ in range(4)]

    assert delays == [30.0, 60.0, None, None]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "http://127.0.0.1:1/x",
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
        "http://[::1/x",
        "http://example.org:99999/x",
    ],
)
def test_webhook_urls_that_are_not_public_http_are_refused(product, settings, url):
    settings.API_WEBHOOK_ALLOW_PRIVATE = False
    problem(product.post("/webhooks", {"url": url, "events": ["twin.deleted"]}), 422)
    assert not WebhookEndpoint.objects.exists()


def test_only_subscribed_endpoints_of_active_clients_get_an_event(make_api, receiver, operator, approver):
    wants, other, revoked = make_api(name="wants"), make_api(name="other"), make_api(name="gone")
    _register(wants, receiver.url, ["erasure.approved"])
    _register(other, receiver.url, ["twin.deleted"])
    _register(revoked, receiver.url, ["erasure.approved"])
    from twinadmin.api.services import api_client_revoke

    api_client_revoke(name="gone", actor="cli:test")
    _approve_an_erasure(operator, approver)
    assert [d.endpoint.client.name for d in WebhookDelivery.objects.all()] == ["wants"]


def test_the_deliveries_page_lists_and_resends(product, receiver, operator, approver, client, auditor):
    _register(product, receiver.url)
    _approve_an_erasure(operator, approver)
    delivery = WebhookDelivery.objects.get()
    client.force_login(auditor)
    assert client.get("/api/deliveries/").status_code == 403
    client.force_login(operator)
    page = client.get("/api/deliveries/?event=erasure.approved")
    assert page.status_code == 200 and str(delivery.event_id) in page.content.decode()

    with_resend = client.post(f"/api/deliveries/{delivery.pk}/resend")

    assert with_resend.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert AuditEntry.objects.filter(action="api.webhook.resend", actor=operator.username).count() == 1
    problem_page = client.post("/api/deliveries/999999/resend")
    assert problem_page.status_code == 302


def test_a_verified_twin_deletion_is_a_twin_deleted_event(product, receiver, operator, settings):
    from tests.support.erasure import run_job
    from tests.support.vectors import fill
    from twinadmin.erasure.services import twin_deletion_request
    from twinadmin.vectors import get_index

    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 5
    _register(product, receiver.url, ["twin.deleted"])
    make_creator("w.2", ["t1"])
    fill(get_index(), {"creator_w.2_twin_t1": 3})
    deletion = twin_deletion_request(
        creator_id="w.2", twin_id="t1", reason="r", confirm="t1", actor=operator, enqueue=False
    )
    assert not WebhookDelivery.objects.exists()  # filed, not yet done

    run_job(deletion.job_id)

    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "twin.deleted"
    assert delivery.payload["data"] == {
        "deletion_id": deletion.pk,
        "creator_id": "w.2",
        "twin_id": "t1",
        "namespace": "creator_w.2_twin_t1",
    }


def test_an_erasure_that_fails_verification_is_an_erasure_failed_event(
    product, receiver, operator, approver, settings, make_server
):
    """The index (the local Pinecone server, through the SDK) refuses to delete one twin's
    namespace, so its vectors stay and verification fails: the receiver gets `erasure.failed`,
    signed, naming what is left."""
    from tests.support.erasure import run_job
    from tests.support.vectors import DIM, fill, use_server
    from twinadmin.erasure.models import ErasureRequest
    from twinadmin.vectors import get_index

    server = make_server(dimension=DIM)
    use_server(settings, server)
    settings.VECTOR_DIMENSION, settings.ERASURE_VERIFY_TIMEOUT_SECONDS = DIM, 0.3
    hook = _register(product, receiver.url, ["erasure.completed", "erasure.failed"])
    make_creator("w.3", ["t1", "t2"])
    fill(get_index(), {"creator_w.3_twin_t1": 2, "creator_w.3_twin_t2": 3})
    erasure = erasure_request_file(
        creator_id="w.3", reason="DSAR", ticket_reference="DSR-3", confirm="w.3", actor=operator
    )
    erasure_request_approve(erasure=erasure, actor=approver, confirm="w.3", enqueue=False)
    erasure.refresh_from_db()
    server.set_faults(outage_namespaces={"creator_w.3_twin_t2"}, outage_operations={"delete"}, retry_after=0)

    run_job(erasure.job_id)

    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.FAILED
    delivery = WebhookDelivery.objects.get()
    webhook_deliver.apply(args=(delivery.pk,))
    (sent,) = receiver.received
    assert verify(hook["secret"], sent["body"], sent["headers"]["Twinadmin-Signature"])
    event = json.loads(sent["body"])
    assert event["type"] == "erasure.failed"
    assert event["data"]["request_id"] == erasure.pk and event["data"]["dsr_id"] == "DSR-3"
    assert event["data"]["status"] == "failed" and "creator_w.3_twin_t2" in event["data"]["error"]
    delivery.refresh_from_db()
    assert (delivery.event, delivery.status, delivery.last_response_code) == (
        "erasure.failed",
        "delivered",
        200,
    )


def test_the_sweep_resends_a_delivery_whose_message_was_lost(
    product, receiver, operator, approver, eager_tasks, django_capture_on_commit_callbacks
):
    """The broker lost the message (nothing ran it): beat's sweep sends it once it is late."""
    import datetime as dt

    from django.utils import timezone

    from twinadmin.api.models import IdempotencyRecord
    from twinadmin.api.webhooks import webhook_sweep

    _register(product, receiver.url)
    _approve_an_erasure(operator, approver)  # in this test's transaction: never sent
    assert product.post("/creators", {"creator_id": "w.9"}, **{"Idempotency-Key": "old"}).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_sweep() == {"resent": 0, "idempotency_keys_forgotten": 0}  # not late yet
    assert not receiver.received
    a_while_ago = timezone.now() - dt.timedelta(minutes=10)
    WebhookDelivery.objects.update(next_attempt_at=a_while_ago)
    IdempotencyRecord.objects.update(created_at=a_while_ago - dt.timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_sweep() == {"resent": 1, "idempotency_keys_forgotten": 1}

    assert WebhookDelivery.objects.get().status == "delivered" and len(receiver.received) == 1
