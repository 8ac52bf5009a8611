"""The audit table behind the ORM's back, and the clock the audit tests set."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

TABLE = "audit_auditentry"
TRIGGER = "audit_auditentry_append_only"

JOB_A = uuid.UUID("11111111-1111-4111-8111-111111111111")
JOB_B = uuid.UUID("22222222-2222-4222-8222-222222222222")


@contextmanager
def trigger_disabled() -> Iterator[None]:
    """The append-only trigger off (PostgreSQL; SQLite has none), as an attacker with the table
    owner's rights could turn it off."""
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
