"""Writes of lineage rows. The migration engine calls these while it copies; erasure marks what
it erased. Recording is idempotent (a resumed phase records the same ids again)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Field
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
    """Record a batch of copied ids with their digests (a re-read batch updates the digests).

    One prepared INSERT ... ON CONFLICT executed for every row (PostgreSQL and SQLite speak it
    alike): a migration records every vector it reads, on the thread that also writes the
    backup, and building a model instance per row cost more than the insert itself."""
    if not ids:
        return
    q = connection.ops.quote_name
    meta = LineageVector._meta
    lineage_col, id_col, digest_col = (_column(name) for name in ("lineage", "vector_id", "digest"))
    sql = (
        f"INSERT INTO {q(meta.db_table)} ({lineage_col}, {id_col}, {digest_col}) VALUES (%s, %s, %s) "
        f"ON CONFLICT ({lineage_col}, {id_col}) DO UPDATE SET {digest_col} = excluded.{digest_col}"
    )
    rows = [(lineage.pk, vector_id, bytes(digest)) for vector_id, digest in zip(ids, digests, strict=True)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _column(name: str) -> str:
    field = LineageVector._meta.get_field(name)
    assert isinstance(field, Field) and field.column
    return connection.ops.quote_name(field.column)


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
