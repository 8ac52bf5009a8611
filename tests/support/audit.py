"""The audit table behind the ORM's back, and the clock the audit tests set."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection

TABLE = "audit_auditentry"
TRIGGER = "audit_auditentry_append_only"

JOB_A = uuid.UUID("11111111-1111-4111-8111-111111111111")
JOB_B = uuid.UUID("22222222-2222-4222-8222-222222222222")


@contextmanager
def trigger_disabled() -> Iterator[None]:
    """The append-only triggers off, as an attacker with the table owner's rights could turn
    them off (SQLite: dropped and created again)."""
    if connection.vendor == "sqlite":
        from twinadmin.audit import dbguard

        with connection.cursor() as cursor:
            for sql in dbguard.SQLITE_DROP:
                cursor.execute(sql)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                for sql in dbguard.SQLITE_CREATE:
                    cursor.execute(sql)
        return
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TRIGGER}")


def clock_at(day: str, patch: pytest.MonkeyPatch) -> None:
    """Time is a process boundary: entries get the clock reading we choose."""
    when = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    patch.setattr("django.utils.timezone.now", lambda: when)


# --- attacks by someone who can write the database (not the signing key or checkpoint files) ---

HEAD_TABLE = "audit_audithead"


def log_contents() -> list[dict[str, Any]]:
    """Every entry's content fields, oldest first: what an attacker rewrites."""
    from twinadmin.audit.chain import CONTENT_FIELDS
    from twinadmin.audit.models import AuditEntry

    rows = AuditEntry.objects.order_by("seq").values_list(*CONTENT_FIELDS)
    return [dict(zip(CONTENT_FIELDS, row, strict=True)) for row in rows]


def log_rewrite(contents: list[dict[str, Any]], *, truncate: bool = False) -> None:
    """Replace the whole log with `contents`, renumbered from 1 and re-hashed (chain, leaves and
    head all consistent), as a careful attacker with the table owner's rights would: today's
    chain walk finds nothing wrong afterwards. `truncate` empties the table with TRUNCATE on
    PostgreSQL (DELETE elsewhere)."""
    from twinadmin.audit.chain import GENESIS_HASH, entry_digests
    from twinadmin.audit.models import AuditEntry

    rows, prev = [], GENESIS_HASH
    for seq, content in enumerate(contents, start=1):
        fields = {**content, "seq": seq, "prev_hash": prev}
        digest, leaf = entry_digests(**fields)
        rows.append(AuditEntry(**fields, entry_hash=digest, leaf_hash=leaf))
        prev = digest
    postgres = connection.vendor == "postgresql"
    statement = f"TRUNCATE {TABLE}" if truncate and postgres else f"DELETE FROM {TABLE}"
    with trigger_disabled(), connection.cursor() as cursor:
        cursor.execute(statement)
        AuditEntry.objects.bulk_create(rows)
        cursor.execute(f"DELETE FROM {HEAD_TABLE}")
        cursor.execute(
            f"INSERT INTO {HEAD_TABLE} (id, last_seq, last_hash, last_at) VALUES (1, %s, %s, %s)",
            [len(rows), prev, rows[-1].at if rows else None],
        )


@dataclass
class Snapshot:
    """A copy of the audit tables, as a database backup holds them."""

    entries: list[tuple]
    head: list[tuple]


def db_snapshot() -> Snapshot:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TABLE} ORDER BY seq")
        entries = cursor.fetchall()
        cursor.execute(f"SELECT id, last_seq, last_hash, last_at FROM {HEAD_TABLE}")
        head = cursor.fetchall()
    return Snapshot(entries, head)


def db_restore(snapshot: Snapshot) -> None:
    """Put the audit tables back as they were in `snapshot` (a restore from backup)."""
    with trigger_disabled(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
        if snapshot.entries:
            marks = ", ".join(["%s"] * len(snapshot.entries[0]))
            cursor.executemany(f"INSERT INTO {TABLE} VALUES ({marks})", snapshot.entries)
        cursor.execute(f"DELETE FROM {HEAD_TABLE}")
        cursor.executemany(
            f"INSERT INTO {HEAD_TABLE} (id, last_seq, last_hash, last_at) VALUES (%s, %s, %s, %s)",
            snapshot.head,
        )


def forge_append(content: dict[str, Any]) -> int:
    """Append one entry behind the application's back, as a careful attacker with write access
    would: right seq, prev link, entry and leaf hashes, head moved. What they cannot write
    without the signing key is its MAC. Returns its seq."""
    from twinadmin.audit.chain import entry_digests
    from twinadmin.audit.models import AuditEntry, AuditHead

    head = AuditHead.objects.get()
    fields = {**content, "seq": head.last_seq + 1, "prev_hash": head.last_hash}
    digest, leaf = entry_digests(**fields)
    AuditEntry.objects.bulk_create([AuditEntry(**fields, entry_hash=digest, leaf_hash=leaf, entry_mac="")])
    AuditHead.objects.filter(pk=head.pk).update(
        last_seq=fields["seq"], last_hash=digest, last_at=fields["at"]
    )
    return fields["seq"]
