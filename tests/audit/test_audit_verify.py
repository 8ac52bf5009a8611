"""audit_verify walks the chain and names the first entry that was edited, deleted or moved."""

import datetime as dt
import io
import json
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from twinadmin.audit.chain import HASHED_FIELDS, entry_hash
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.services import audit_chain_verify, audit_record
from twinadmin.audit.walk import CONTENT_CHANGED, HEAD_MISMATCH, PREV_LINK_BROKEN, REORDERED, SEQ_GAP

pytestmark = pytest.mark.django_db

N = 20


def verify(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("audit_verify", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def assert_broken(seq: int, reason: str) -> None:
    with pytest.raises(CommandError) as raised:
        verify()
    assert f"broken at seq {seq}: {reason}" in str(raised.value)
    assert raised.value.returncode == 1  # manage.py exits with this
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] is False
    assert report["first_broken"]["seq"] == seq and report["first_broken"]["reason"] == reason


def set_column(tamper, seq: int, column: str, value) -> None:
    """Write `value` as the ORM would store it, but with raw SQL."""
    field = AuditEntry._meta.get_field(column)
    tamper(
        f"UPDATE {{table}} SET {column} = %s WHERE seq = %s", [field.get_db_prep_save(value, connection), seq]
    )


def test_an_empty_log_is_intact():
    out, _ = verify()
    assert "0 entries" in out
    assert json.loads(verify("--json")[0]) == {
        "ok": True,
        "entries": 0,
        "head_hash": "0" * 64,
        "first_broken": None,
        "checkpoints": [],
    }


def test_the_chain_is_intact_after_many_appends(many_entries):
    many_entries(250)
    head = AuditEntry.objects.get(seq=250).entry_hash
    out, _ = verify()
    assert "250 entries" in out and head in out
    assert json.loads(verify("--json")[0]) == {
        "ok": True,
        "entries": 250,
        "head_hash": head,
        "first_broken": None,
        "checkpoints": [],
    }
    # Walked in chunks smaller than the log, as at a million entries.
    assert audit_chain_verify(chunk_size=7).ok


NEW_VALUES = {
    "actor": "mallory",
    "action": "twin.delete.cancelled",
    "target_type": "creator",
    "target_id": "t-other",
    "creator_id": "c.99",
    "outcome": "failure",
    "details": {"i": 6, "vectors_before": 0},
    "correlation_id": uuid.UUID(int=1),
    "at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    "prev_hash": "f" * 64,
    "entry_hash": "e" * 64,
}


@pytest.mark.parametrize("column", sorted(NEW_VALUES))
def test_editing_any_column_of_a_row_is_detected(many_entries, tamper, column):
    many_entries(N)
    set_column(tamper, 7, column, NEW_VALUES[column])
    assert_broken(7, CONTENT_CHANGED)


def test_deleting_a_row_is_detected_as_a_gap(many_entries, tamper):
    many_entries(N)
    tamper("DELETE FROM {table} WHERE seq = 7")
    assert_broken(7, SEQ_GAP)


def test_deleting_the_first_row_is_detected(many_entries, tamper):
    many_entries(N)
    tamper("DELETE FROM {table} WHERE seq = 1")
    assert_broken(1, SEQ_GAP)


def test_deleting_the_newest_rows_is_detected_against_the_head(many_entries, tamper):
    many_entries(N)
    tamper("DELETE FROM {table} WHERE seq >= 18")
    assert_broken(18, SEQ_GAP)


@pytest.mark.parametrize(("a", "b"), [(5, 12), (5, 6), (1, 2), (19, 20)])
def test_swapping_two_rows_is_detected_as_a_reorder(many_entries, tamper, a, b):
    many_entries(N)
    # Three steps, as a unique column needs: a -> -a, b -> a, -a -> b.
    tamper("UPDATE {table} SET seq = %s WHERE seq = %s", [-a, a])
    tamper("UPDATE {table} SET seq = %s WHERE seq = %s", [a, b])
    tamper("UPDATE {table} SET seq = %s WHERE seq = %s", [b, -a])
    assert_broken(a, REORDERED)


def _rehash(tamper, seq: int, **changes) -> None:
    """An attacker who knows the recipe edits a row and recomputes its hash."""
    entry = AuditEntry.objects.get(seq=seq)
    for column, value in changes.items():
        set_column(tamper, seq, column, value)
        setattr(entry, column, value)
    set_column(tamper, seq, "entry_hash", entry_hash(**{f: getattr(entry, f) for f in HASHED_FIELDS}))


def test_a_rehashed_edit_breaks_the_next_entrys_link(many_entries, tamper):
    many_entries(N)
    _rehash(tamper, 7, actor="mallory")
    assert_broken(8, PREV_LINK_BROKEN)


def test_a_rehashed_edit_of_the_newest_entry_is_caught_by_the_head(many_entries, tamper):
    many_entries(N)
    _rehash(tamper, N, actor="mallory")
    assert_broken(N, HEAD_MISMATCH)


def test_appends_after_a_broken_entry_do_not_hide_it(many_entries, tamper):
    many_entries(N)
    tamper("DELETE FROM {table} WHERE seq = 3")
    audit_record(actor=None, action="index.refresh", target_type="index", target_id="x")
    assert_broken(3, SEQ_GAP)
