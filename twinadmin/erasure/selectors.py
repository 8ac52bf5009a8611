"""Reads for the erasure pages."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet

from twinadmin.erasure.models import ErasureNamespace, ErasureRequest, TwinDeletion

PAGE_SIZE = 50
_STATES = {
    "open": [ErasureRequest.Status.PENDING],
    "approved": [ErasureRequest.Status.APPROVED, ErasureRequest.Status.RUNNING, ErasureRequest.Status.FAILED],
    "done": [ErasureRequest.Status.COMPLETED, ErasureRequest.Status.REJECTED],
}


def erasure_request_page(*, state: str = "", page: Any = 1) -> Page:
    qs = ErasureRequest.objects.select_related("job")
    if state in _STATES:
        qs = qs.filter(status__in=_STATES[state])
    qs = qs.annotate(namespace_total=Count("namespaces")).order_by("-requested_at", "-id")
    return Paginator(qs, PAGE_SIZE).get_page(page)


def erasure_requests_awaiting(*, approver: Any) -> QuerySet[ErasureRequest]:
    """Requests this approver can decide: awaiting approval and not filed by them (four eyes).
    Its COUNT reads the indexed status column."""
    return ErasureRequest.objects.filter(status=ErasureRequest.Status.PENDING).exclude(
        requested_by_id=approver.pk
    )


def erasure_requests_for_creator(creator_id: str) -> QuerySet[ErasureRequest]:
    return ErasureRequest.objects.filter(creator_id=creator_id).select_related("job")


def twin_deletions_for_twin(creator_id: str, twin_id: str) -> QuerySet[TwinDeletion]:
    return TwinDeletion.objects.filter(creator_id=creator_id, twin_id=twin_id).select_related("job")


def erasure_status_counts(erasure: ErasureRequest) -> dict[str, int]:
    """Namespaces per status, and how many are verified, for the progress fragment."""
    counts = dict(erasure.namespaces.values_list("status").annotate(n=Count("id")))
    counts["verified"] = erasure.namespaces.filter(verified=True).count()
    counts["total"] = sum(v for k, v in counts.items() if k in ErasureNamespace.Status.values)
    return counts
