"""On PostgreSQL, the database itself refuses UPDATE and DELETE on audit entries, whoever sends
them (raw SQL, another client, a buggy migration). SQLite has no such guard; there the model
refuses and `audit_verify` detects what raw SQL did.

TRUNCATE is deliberately left alone: Django's `flush` (and so every transactional test teardown)
empties tables with TRUNCATE. Deny the application's database role the TRUNCATE privilege in
production instead."""

from django.db import migrations

TABLE = "audit_auditentry"
FUNCTION = "audit_auditentry_refuse_change"
TRIGGER = "audit_auditentry_append_only"

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {FUNCTION}();
"""
DROP = f"""
DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE};
DROP FUNCTION IF EXISTS {FUNCTION}();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger, elidable=False)]
