"""audit_record: what it stores, what it refuses, and how it behaves inside transactions."""

import datetime as dt
import decimal
import math
import uuid

import pytest
from django.db import transaction

from twinadmin.audit.chain import GENESIS_HASH
from twinadmin.audit.models import AuditEntry, AuditHead
from twinadmin.audit.services import AuditInputError, actor_name, audit_chain_verify, audit_record

pytestmark = pytest.mark.django_db


def _record(**overrides):
    kwargs = {"actor": None, "action": "twin.delete.start", "target_type": "twin", "target_id": "t1"}
    return audit_record(**{**kwargs, **overrides})


def test_first_entry_links_to_genesis_and_each_next_to_its_predecessor():
    first, second, third = _record(), _record(), _record()
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.entry_hash and third.prev_hash == second.entry_hash
    assert AuditHead.objects.get().last_hash == third.entry_hash


def test_actor_is_a_username_a_command_or_the_system(operator):
    assert actor_name(operator) == "op"
    assert actor_name("cli:delete_twin") == "cli:delete_twin"
    assert actor_name(None) == "system"
    assert _record(actor=operator).actor == "op"
    assert _record(actor="cli:delete_twin").actor == "cli:delete_twin"


def test_correlation_id_is_kept_or_made():
    job = uuid.uuid4()
    assert _record(correlation_id=job).correlation_id == job
    assert _record(correlation_id=str(job)).correlation_id == job
    assert isinstance(_record().correlation_id, uuid.UUID)


def test_hash_recomputes_from_the_row_as_read_back(monkeypatch):
    """Round trips that could alter hashed values: a timestamp with zero microseconds (which
    isoformat would drop), numbers jsonb rewrites, non-JSON values, non-ASCII text."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC))
    details = {
        "big": 1e16,
        "huge": 1.5e300,
        "tiny": 1e-7,
        "neg_zero": -0.0,
        "float": 3.0,
        "when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "id": uuid.UUID(int=5),
        "amount": decimal.Decimal("1.10"),
        "name": "Zoë ✓",
        "nested": {"b": [1, 2.5, None, True], "a": {}},
    }
    written = _record(details=details, creator_id="a.1")
    stored = AuditEntry.objects.get(seq=written.seq)
    assert stored.at == written.at and stored.at.microsecond == 0
    assert stored.details == written.details
    assert stored.details["big"] == 10**16 and stored.details["huge"] == 15 * 10**299
    assert stored.details["when"] == "2026-01-01T00:00:00Z" and stored.details["amount"] == "1.10"
    assert stored.compute_hash() == stored.entry_hash == written.entry_hash
    assert audit_chain_verify().ok


@pytest.mark.parametrize(
    "overrides",
    [
        {"action": "Twin Delete"},
        {"action": ""},
        {"target_type": "galaxy"},
        {"outcome": "maybe"},
        {"correlation_id": "not-a-uuid"},
        {"details": {"ratio": math.nan}},
        {"details": {"text": "nul\x00byte"}},
        {"details": ["not", "a", "dict"]},
        {"details": {"obj": object()}},
        {"actor": "  "},
        {"actor": 42},
        {"target_id": "x" * 513},
        {"creator_id": "c" * 101},
    ],
)
def test_bad_input_is_refused_and_writes_nothing(overrides):
    _record()
    with pytest.raises(AuditInputError):
        _record(**overrides)
    assert AuditEntry.objects.count() == 1
    assert AuditHead.objects.get().last_seq == 1


def test_an_entry_written_in_a_rolled_back_transaction_leaves_no_trace():
    _record()
    with pytest.raises(RuntimeError), transaction.atomic():
        _record(action="twin.delete.success")
        raise RuntimeError("the work failed")
    after = _record(action="twin.delete.failure")
    assert after.seq == 2
    assert list(AuditEntry.objects.order_by("seq").values_list("action", flat=True)) == [
        "twin.delete.start",
        "twin.delete.failure",
    ]
    assert audit_chain_verify().ok


def test_inside_an_outer_transaction_the_entry_commits_with_it():
    with transaction.atomic():
        _record()
        _record(outcome="success")
    assert AuditEntry.objects.count() == 2
    assert audit_chain_verify().ok


def test_a_lost_head_row_is_rebuilt_from_the_newest_entry():
    _record()
    last = _record()
    AuditHead.objects.all().delete()
    nxt = _record()
    assert nxt.seq == last.seq + 1 and nxt.prev_hash == last.entry_hash
    assert audit_chain_verify().ok


def test_time_never_runs_backwards_along_the_chain(monkeypatch):
    """A clock stepped back (NTP, a lagging host) must not put an entry before its predecessor."""
    later = dt.datetime(2026, 5, 1, 12, 0, 0, 500, tzinfo=dt.UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    first = _record()
    monkeypatch.setattr("django.utils.timezone.now", lambda: later - dt.timedelta(minutes=5))
    second = _record()
    assert second.at == first.at == later
    monkeypatch.setattr("django.utils.timezone.now", lambda: later + dt.timedelta(seconds=1))
    assert _record().at == later + dt.timedelta(seconds=1)
    assert audit_chain_verify().ok
