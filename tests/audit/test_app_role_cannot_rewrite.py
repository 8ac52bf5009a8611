"""PostgreSQL: with the grants audit_db_grants prints, the application's role writes the log
through audit_record as usual, but can neither change nor remove an entry, nor empty the table,
nor turn its triggers off (it does not own the table)."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from twinadmin.audit.dbguard import TABLE
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.services import audit_record

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's"),
]


def _take_app_role(cursor) -> None:
    """A fresh role with exactly the printed grants, taken until the surrounding transaction
    ends (CREATE ROLE, the grants and SET LOCAL ROLE all roll back with it)."""
    role = f"twinadmin_app_{uuid.uuid4().hex[:8]}"
    out = io.StringIO()
    call_command("audit_db_grants", role, stdout=out)
    cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')
    for statement in out.getvalue().split(";\n"):
        if statement.strip():
            cursor.execute(statement)
    cursor.execute(f'SET LOCAL ROLE "{role}"')


@pytest.mark.parametrize(
    "sql",
    [
        f"UPDATE {TABLE} SET actor = 'mallory'",
        f"DELETE FROM {TABLE}",
        f"TRUNCATE {TABLE}",
        f"ALTER TABLE {TABLE} DISABLE TRIGGER USER",
        f"DROP TRIGGER audit_auditentry_append_only ON {TABLE}",
        f"SET twinadmin.audit_allow_truncate = 'on'; TRUNCATE {TABLE}",
    ],
)
def test_the_app_role_cannot_change_the_log(sql):
    entry = audit_record(actor="op", action="twin.create", target_type="twin", target_id="t1")
    with (
        pytest.raises(DatabaseError, match="permission denied|must be owner"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        _take_app_role(cursor)
        for statement in sql.split("; "):
            cursor.execute(statement)
    assert AuditEntry.objects.get(pk=entry.pk).actor == "op"


def test_the_app_role_appends_as_usual():
    audit_record(actor="op", action="twin.create", target_type="twin", target_id="t0")
    with transaction.atomic(), connection.cursor() as cursor:
        _take_app_role(cursor)
        entry = audit_record(actor="op", action="twin.create", target_type="twin", target_id="t1")
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0].startswith("twinadmin_app_")
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
