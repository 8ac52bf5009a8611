"""Writes of lineage rows. The migration engine calls these while it copies; erasure marks what
it erased. Recording is idempotent (a resumed phase records the same ids again)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Count
from django.utils import timezone

from twinadmin.lineage.models import Lineage, LineageVector


def lineage_open(
    *,
    kind: str,
    creator_id: str,
    source_namespace: str,
    target_namespace: str = "",
    run: Any = None,
    item: Any = None,
    backup_ref: str = "",
) -> Lineage:
    """The lineage row of one copy, created on first use (one per migration item and kind)."""
    lineage, _ = Lineage.objects.get_or_create(
        item=item,
        kind=kind,
        defaults={
            "creator_id": creator_id,
            "source_namespace": source_namespace,
            "target_namespace": target_namespace,
            "run": run,
            "backup_ref": backup_ref,
        },
    )
    return lineage


def lineage_add(*, lineage: Lineage, ids: Sequence[str], digests: Sequence[bytes]) -> None:
    """Record a batch of copied ids with their digests (a re-read batch updates the digests)."""
    if not ids:
        return
    LineageVector.objects.bulk_create(
        [
            LineageVector(lineage=lineage, vector_id=vector_id, digest=digest)
            for vector_id, digest in zip(ids, digests, strict=True)
        ],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["lineage", "vector_id"],
        update_fields=["digest"],
    )


def lineage_close(*, lineage: Lineage) -> Lineage:
    """Every id of the copy is recorded: store the count."""
    count = LineageVector.objects.filter(lineage=lineage).aggregate(n=Count("id"))["n"]
    Lineage.objects.filter(pk=lineage.pk).update(complete=True, vector_count=count, updated_at=timezone.now())
    lineage.refresh_from_db()
    return lineage


def lineage_mark_erased(*, creator_id: str, source_namespace: str, request_id: int) -> int:
    """The creator's copies in `source_namespace` were verified gone by erasure request N."""
    return Lineage.objects.filter(
        creator_id=creator_id, source_namespace=source_namespace, erased_at__isnull=True
    ).update(erased_at=timezone.now(), erased_by_request=request_id)
