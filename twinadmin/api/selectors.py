"""Reads of the API app's pages."""

from __future__ import annotations

from django.core.paginator import Page, Paginator

from twinadmin.api.models import ApiClient, WebhookDelivery


def api_client_list() -> list[ApiClient]:
    return list(ApiClient.objects.order_by("name"))


def delivery_page(*, event: str = "", page: int = 1) -> Page:
    """Deliveries newest first, grouped by event on the page (same event id side by side)."""
    rows = WebhookDelivery.objects.select_related("endpoint__client").order_by(
        "-created_at", "event_id", "pk"
    )
    if event:
        rows = rows.filter(event=event)
    return Paginator(rows, 50).get_page(page)
