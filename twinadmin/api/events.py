"""Events for webhooks, called by the erasure services at the moment something happened, inside
the transaction that records it: the deliveries are written in that same transaction (an outbox:
an event exists exactly when what it reports was committed) and handed to the workers after the
commit (`delay_on_commit`). Payloads hold ids and states only, never vectors or text."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from twinadmin.api.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)


def event_emit(event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """One delivery per active endpoint subscribed to `event`, sent once the transaction commits."""
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(disabled_at__isnull=True, client__revoked_at__isnull=True)
        if event in e.events
    ]
    if not endpoints:
        return []
    event_id, now = uuid.uuid4(), timezone.now()
    payload = {"id": str(event_id), "type": event, "created": now.isoformat(), "data": data}
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event_id=event_id, event=event, endpoint=e, payload=payload, next_attempt_at=now)
            for e in endpoints
        ]
    )
    for delivery in deliveries:
        delivery_enqueue(delivery.pk)
    return deliveries


def delivery_enqueue(delivery_id: int) -> None:
    """Hand a delivery to the workers after the commit. A broker that cannot be reached is
    logged, never raised into the erasure job that emitted the event (its work is committed);
    the delivery stays pending and the deliveries page resends it."""
    from twinadmin.api.tasks import webhook_deliver

    def send() -> None:
        try:
            webhook_deliver.delay(delivery_id)
        except Exception:
            log.exception("webhook delivery %s: could not reach the broker", delivery_id)

    transaction.on_commit(send)


def erasure_event(erasure: Any) -> None:
    """An erasure request was approved, or its job closed it (completed or failed)."""
    event = {
        "approved": "erasure.approved",
        "completed": "erasure.completed",
        "failed": "erasure.failed",
    }.get(erasure.status)
    if event:
        event_emit(
            event,
            {
                "request_id": erasure.pk,
                "creator_id": erasure.creator_id,
                "dsr_id": erasure.ticket_reference,
                "status": erasure.status,
                "error": erasure.last_error,
            },
        )


def twin_deletion_event(deletion: Any) -> None:
    """A twin deletion's job closed it; only a verified one is `twin.deleted`."""
    if deletion.status == "verified":
        event_emit(
            "twin.deleted",
            {
                "deletion_id": deletion.pk,
                "creator_id": deletion.creator_id,
                "twin_id": deletion.twin_id,
                "namespace": deletion.namespace,
            },
        )
