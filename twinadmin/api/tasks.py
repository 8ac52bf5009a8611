"""Webhook deliveries run in Celery: one attempt per run, retried with exponential backoff
(webhooks.retry_delay_seconds) until delivered or a day has gone by."""

from __future__ import annotations

from celery import Task, shared_task

from twinadmin.api.webhooks import webhook_delivery_attempt, webhook_sweep


# acks_late: a worker killed mid-send leaves the message to be delivered again; a receiver may
# then get a delivery twice, which webhooks allow (at least once; the event id tells them apart).
@shared_task(bind=True, name="api.webhook_deliver", acks_late=True, max_retries=None)
def webhook_deliver(self: Task, delivery_id: int) -> None:
    delay = webhook_delivery_attempt(delivery_id=delivery_id)
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task(name="api.webhook_sweep")
def webhook_sweep_task() -> dict[str, int]:
    """Every few minutes under beat (settings: CELERY_BEAT_SCHEDULE["api-webhook-sweep"])."""
    return webhook_sweep()
