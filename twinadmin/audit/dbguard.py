"""The database's own refusal to change audit entries, whoever asks (raw SQL, another client,
an ORM path that skips the model, a buggy migration).

PostgreSQL: row triggers refuse UPDATE and DELETE, a statement trigger refuses TRUNCATE. The
only way past TRUNCATE's is the session setting `twinadmin.audit_allow_truncate = on`, which
only the test suite sets (tests/conftest.py), because Django empties tables with TRUNCATE
between transactional tests. SQLite: triggers refuse UPDATE always, and DELETE unless the
connection's `twinadmin_audit_allow_delete()` says 1 — registered as 0 on every connection
(apps.py), and as 1 only by the test suite, whose teardown deletes every row.

None of this stops the table's *owner*, who can drop or disable triggers: run the application
with a role that does not own the table (README, "Audit log"), and rely on signed checkpoints
(twinadmin.audit.checkpoints) to detect what an owner does.
"""

from __future__ import annotations

from typing import Any

TABLE = "audit_auditentry"
PG_FUNCTION = "audit_auditentry_refuse_change"
PG_ROW_TRIGGER = "audit_auditentry_append_only"
PG_TRUNCATE_TRIGGER = "audit_auditentry_no_truncate"
ALLOW_TRUNCATE = "twinadmin.audit_allow_truncate"
SQLITE_ALLOW_DELETE = "twinadmin_audit_allow_delete"
SQLITE_TRIGGERS = ("audit_auditentry_no_update", "audit_auditentry_no_delete")

PG_CREATE = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND coalesce(current_setting('{ALLOW_TRUNCATE}', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP TRIGGER IF EXISTS {PG_TRUNCATE_TRIGGER} ON {TABLE};
CREATE TRIGGER {PG_TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}();
"""
PG_DROP_TRUNCATE = f"DROP TRIGGER IF EXISTS {PG_TRUNCATE_TRIGGER} ON {TABLE};"

SQLITE_CREATE = (
    f"""CREATE TRIGGER IF NOT EXISTS {SQLITE_TRIGGERS[0]} BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: UPDATE refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS {SQLITE_TRIGGERS[1]} BEFORE DELETE ON {TABLE}
    WHEN {SQLITE_ALLOW_DELETE}() IS NOT 1
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: DELETE refused'); END""",
)
SQLITE_DROP = tuple(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS)


def register_sqlite_function(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created: deletes refused (0) unless the test suite registers 1 after this."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_ALLOW_DELETE, 0, lambda: 0, deterministic=False)


def scratch_may_empty_the_log(connection: Any) -> None:
    """On this connection only, let the audit table be emptied (TRUNCATE on PostgreSQL, DELETE
    on SQLite): for scratch databases alone, the test suite's teardown and the benches' flush."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET {ALLOW_TRUNCATE} = 'on'")
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        connection.connection.create_function(SQLITE_ALLOW_DELETE, 0, lambda: 1)


def app_role_grants(role: str, tables: list[str]) -> list[str]:
    """PostgreSQL: what the web and worker processes' role needs, run by the tables' owner
    after `migrate`: the usual DML everywhere, but on the audit log only SELECT and INSERT. Not
    owning the table, the role cannot disable its triggers; without UPDATE, DELETE or TRUNCATE
    it cannot change an entry at all. `tables` are the project's tables (connection.introspection)."""
    quoted = '"' + role.replace('"', '""') + '"'
    others = [t for t in tables if t != TABLE]
    return [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        *(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{t}" TO {quoted}' for t in others),
        f"REVOKE ALL ON {TABLE} FROM {quoted}",
        f"GRANT SELECT, INSERT ON {TABLE} TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
    ]
