"""Each entry's RFC 9162 leaf hash (twinadmin.audit.merkle), filled in for the entries written
before it existed. On PostgreSQL the append-only trigger refuses UPDATE, so this migration (run
by the role that owns the table) turns it off for the backfill, inside the migration's
transaction, and back on."""

import hashlib

from django.db import migrations, models

from twinadmin.audit.chain import HASHED_FIELDS, entry_bytes

TABLE = "audit_auditentry"
TRIGGER = "audit_auditentry_append_only"
BATCH = 2000


def backfill(apps, schema_editor):
    connection = schema_editor.connection
    AuditEntry = apps.get_model("audit", "AuditEntry")
    postgres = connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TRIGGER}")
    rows = AuditEntry.objects.order_by("seq").values_list("pk", *HASHED_FIELDS).iterator(chunk_size=BATCH)
    batch = []
    with connection.cursor() as cursor:
        for pk, *values in rows:
            data = entry_bytes(**dict(zip(HASHED_FIELDS, values, strict=True)))
            batch.append((hashlib.sha256(b"\x00" + data).hexdigest(), pk))
            if len(batch) == BATCH:
                cursor.executemany(f"UPDATE {TABLE} SET leaf_hash = %s WHERE id = %s", batch)
                batch = []
        if batch:
            cursor.executemany(f"UPDATE {TABLE} SET leaf_hash = %s WHERE id = %s", batch)
    if postgres:
        schema_editor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_target_type_job")]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="leaf_hash",
            field=models.CharField(default="", max_length=64),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
    ]
