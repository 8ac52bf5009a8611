"""Entries cannot be changed or removed: not through the ORM, not through the admin, and on
PostgreSQL not even through raw SQL."""

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from twinadmin.audit.models import AuditEntry, AuditLogImmutable
from twinadmin.audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry():
    return audit_record(
        actor=None, action="index.refresh", target_type="index", target_id="digital-twin-brain"
    )


def test_saving_an_existing_entry_is_refused(entry):
    entry.actor = "mallory"
    with pytest.raises(AuditLogImmutable):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).actor == "system"


def test_deleting_an_entry_is_refused(entry):
    with pytest.raises(AuditLogImmutable):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_queryset_update_delete_and_bulk_update_are_refused(entry):
    with pytest.raises(AuditLogImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(actor="mallory")
    with pytest.raises(AuditLogImmutable):
        AuditEntry.objects.all().delete()
    entry.actor = "mallory"
    with pytest.raises(AuditLogImmutable):
        AuditEntry.objects.bulk_update([entry], ["actor"])
    assert AuditEntry.objects.get(pk=entry.pk).actor == "system"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditentry SET actor = 'mallory'",
        "UPDATE audit_auditentry SET seq = seq + 100",
        "DELETE FROM audit_auditentry",
    ],
)
def test_postgres_trigger_refuses_raw_update_and_delete(entry, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEntry.objects.get(pk=entry.pk).actor == "system"


def test_admin_lets_a_superuser_look_but_not_touch(client, entry):
    admin = get_user_model().objects.create_superuser("root", password="pw-root")
    client.force_login(admin)
    changelist = reverse("admin:audit_auditentry_changelist")
    change = reverse("admin:audit_auditentry_change", args=[entry.pk])
    assert client.get(changelist).status_code == 200
    page = client.get(change)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(change, {"actor": "mallory"}).status_code == 403
    assert client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    assert (
        client.post(reverse("admin:audit_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert AuditEntry.objects.get(pk=entry.pk).actor == "system"
