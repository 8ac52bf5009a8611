"""Signing and sending webhook deliveries.

The signature (documented for receivers in the README): the header
`Twinadmin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the
endpoint's secret>`, as Stripe does. The timestamp inside the signed text lets a receiver refuse a
replayed delivery (older than a few minutes) that it cannot tell from a fresh one otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time

import httpx
import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from twinadmin.api.models import WebhookDelivery
from twinadmin.api.services import ApiInputError, client_audit, webhook_url_check

SIGNATURE_HEADER = "Twinadmin-Signature"
USER_AGENT = "twinadmin-webhooks/1"


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def signature_verify(secret: str, body: bytes, header: str, *, tolerance_seconds: int = 300) -> bool:
    """What a receiver does (the README shows the same in a few lines)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    expected = signature_header(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def retry_delay_seconds(attempts: int) -> float:
    """Exponential backoff after the `attempts`-th failure: base, 2 x base, 4 x base, ... capped."""
    return float(
        min(
            settings.API_WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1),
            settings.API_WEBHOOK_RETRY_MAX_SECONDS,
        )
    )


def webhook_delivery_attempt(*, delivery_id: int) -> float | None:
    """Send one delivery once and record the attempt. Returns the seconds to wait before the next
    attempt, or None when there is none (delivered, given up after API_WEBHOOK_GIVE_UP_SECONDS,
    or not this runner's to send)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(
                pk=delivery_id, status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING]
            )
            .first()
        )
        if delivery is None:  # delivered already, or another runner is sending it right now
            return None
        code, error = _send(delivery)
        now = timezone.now()
        delivery.attempts += 1
        delivery.last_response_code = code
        delivery.last_error = error
        delivery.log = [*delivery.log, {"at": now.isoformat(), "status": code, "error": error}][-50:]
        delay: float | None = None
        if code is not None and 200 <= code < 300:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.DELIVERED,
                now,
                None,
            )
        else:
            delay = retry_delay_seconds(delivery.attempts)
            give_up_at = delivery.created_at + dt.timedelta(seconds=settings.API_WEBHOOK_GIVE_UP_SECONDS)
            if now + dt.timedelta(seconds=delay) > give_up_at:
                delivery.status, delivery.next_attempt_at, delay = WebhookDelivery.Status.FAILED, None, None
            else:
                delivery.status = WebhookDelivery.Status.RETRYING
                delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
        delivery.save(
            update_fields=[
                "attempts",
                "last_response_code",
                "last_error",
                "log",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
    return delay


def _send(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the payload, signed now; (status code, "") or (None, why it could not be sent)."""
    endpoint = delivery.endpoint
    if endpoint.disabled_at is not None:
        return None, "endpoint disabled"
    try:
        webhook_url_check(endpoint.url)  # again: what the host resolves to may have changed
    except ApiInputError as exc:
        return None, str(exc)
    body = orjson.dumps(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(endpoint.secret, body, int(time.time())),
        "Twinadmin-Event": delivery.event,
        "Twinadmin-Delivery": str(delivery.pk),
    }
    try:
        response = httpx.post(
            endpoint.url,
            content=body,
            headers=headers,
            timeout=settings.API_WEBHOOK_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return response.status_code, ""


def webhook_delivery_resend(*, delivery_id: int, actor: object) -> WebhookDelivery:
    """A person's "resend": the delivery goes out again now, whatever it ended as."""
    from twinadmin.api.events import delivery_enqueue

    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            raise ApiInputError(f"No delivery {delivery_id}.")
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.next_attempt_at = timezone.now()
        # A resend starts a new day of retries.
        delivery.created_at = timezone.now()
        delivery.save(update_fields=["status", "next_attempt_at", "created_at"])
        client_audit(
            delivery.endpoint.client,
            actor,
            "api.webhook.resend",
            {"delivery": delivery.pk, "event": delivery.event, "event_id": str(delivery.event_id)},
            outcome="info",
        )
        delivery_enqueue(delivery.pk)
    return delivery


# A delivery whose next attempt is this late had its message lost (a broker restarted empty, or
# unreachable when the event was committed): the sweep sends it again. Longer than a queue is
# normally busy.
SWEEP_GRACE_SECONDS = 300
# Idempotency keys are kept a day, as Stripe keeps them: a retry comes within minutes or hours.
IDEMPOTENCY_KEEP_SECONDS = 24 * 3600


def webhook_sweep() -> dict[str, int]:
    """Beat's periodic pass: resend deliveries whose message was lost, forget old idempotency
    keys. Returns what it did."""
    from twinadmin.api.events import delivery_enqueue
    from twinadmin.api.models import IdempotencyRecord

    now = timezone.now()
    late = list(
        WebhookDelivery.objects.filter(
            status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
            next_attempt_at__lt=now - dt.timedelta(seconds=SWEEP_GRACE_SECONDS),
        ).values_list("pk", flat=True)[:1000]
    )
    with transaction.atomic():
        for delivery_id in late:
            delivery_enqueue(delivery_id)
    forgotten, _ = IdempotencyRecord.objects.filter(
        created_at__lt=now - dt.timedelta(seconds=IDEMPOTENCY_KEEP_SECONDS)
    ).delete()
    return {"resent": len(late), "idempotency_keys_forgotten": forgotten}
