"""TRUNCATE refused on PostgreSQL; UPDATE and DELETE refused on SQLite (twinadmin.audit.dbguard);
the refusing manager is the base manager too.

SQLite: a later migration that remakes this table (most AlterField operations there) drops its
triggers with the old table, and must create them again (dbguard.SQLITE_CREATE)."""

from django.db import migrations

from twinadmin.audit import dbguard


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(dbguard.PG_CREATE, params=None)
    elif vendor == "sqlite":
        for sql in dbguard.SQLITE_CREATE:
            schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(dbguard.PG_DROP_TRUNCATE, params=None)
    elif vendor == "sqlite":
        for sql in dbguard.SQLITE_DROP:
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_leaf_hash")]

    operations = [
        migrations.AlterModelOptions(
            name="auditentry",
            options={"base_manager_name": "objects", "ordering": ["-seq"], "verbose_name_plural": "audit entries"},
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
