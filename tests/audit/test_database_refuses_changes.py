"""The database itself refuses to change or remove audit entries, on SQLite as on PostgreSQL:
the ORM's back doors (base manager, save_base, upserts, a plain QuerySet), raw SQL, and on
PostgreSQL TRUNCATE. Only the test suite's teardown may empty the table (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection, models, transaction

from twinadmin.audit import dbguard
from twinadmin.audit.models import AuditEntry, AuditLogImmutable
from twinadmin.audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry() -> AuditEntry:
    return audit_record(
        actor=None, action="index.refresh", target_type="index", target_id="digital-twin-brain"
    )


def _save_base_forced(e: AuditEntry) -> None:
    e.actor = "mallory"
    models.Model.save_base(e, force_update=True)


def _save_forced(e: AuditEntry) -> None:
    e.actor = "mallory"
    e.save(force_update=True)


def _model_save_skipping_ours(e: AuditEntry) -> None:
    e.actor = "mallory"
    models.Model.save(e, force_update=True)


def _upsert(e: AuditEntry) -> None:
    copy = AuditEntry(**{f.attname: getattr(e, f.attname) for f in AuditEntry._meta.fields})
    copy.actor = "mallory"
    AuditEntry.objects.bulk_create(
        [copy], update_conflicts=True, unique_fields=["seq"], update_fields=["actor"]
    )


def _model_delete_skipping_ours(e: AuditEntry) -> None:
    models.Model.delete(e)


BYPASSES: dict[str, Callable[[AuditEntry], object]] = {
    "_base_manager.update": lambda e: AuditEntry._base_manager.filter(pk=e.pk).update(actor="mallory"),
    "_base_manager.delete": lambda e: AuditEntry._base_manager.filter(pk=e.pk).delete(),
    "save(force_update=True)": _save_forced,
    "Model.save(force_update=True)": _model_save_skipping_ours,
    "Model.save_base(force_update=True)": _save_base_forced,
    "Model.delete": _model_delete_skipping_ours,
    "bulk_create(update_conflicts=True)": _upsert,
    "QuerySet(AuditEntry).update": lambda e: (
        models.QuerySet(AuditEntry).filter(pk=e.pk).update(actor="mallory")
    ),
    "QuerySet(AuditEntry).delete": lambda e: models.QuerySet(AuditEntry).filter(pk=e.pk).delete(),
    "raw UPDATE": lambda e: connection.cursor().execute(f"UPDATE {dbguard.TABLE} SET actor = 'mallory'"),
    "raw DELETE": lambda e: connection.cursor().execute(f"DELETE FROM {dbguard.TABLE}"),
}


@pytest.fixture
def deletes_refused():
    """Undo the test suite's opt-out for this test: the guards as production has them."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            connection.connection.create_function(dbguard.SQLITE_ALLOW_DELETE, 0, lambda: 0)
        else:
            cursor.execute(f"SET {dbguard.ALLOW_TRUNCATE} = 'off'")
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            connection.connection.create_function(dbguard.SQLITE_ALLOW_DELETE, 0, lambda: 1)
        else:
            cursor.execute(f"SET {dbguard.ALLOW_TRUNCATE} = 'on'")


@pytest.mark.parametrize("bypass", list(BYPASSES))
def test_every_way_around_the_model_is_refused(entry, deletes_refused, bypass):
    with pytest.raises((AuditLogImmutable, DatabaseError, ValueError)), transaction.atomic():
        BYPASSES[bypass](entry)
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.actor == "system" and stored.compute_hash() == stored.entry_hash


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_postgres_refuses_truncate(entry, deletes_refused):
    with (
        pytest.raises(DatabaseError, match="append-only: TRUNCATE"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"TRUNCATE {dbguard.TABLE}")
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_an_insert_is_still_allowed(entry, deletes_refused):
    audit_record(actor="op", action="twin.create", target_type="twin", target_id="t1")
    assert AuditEntry.objects.count() == 2
