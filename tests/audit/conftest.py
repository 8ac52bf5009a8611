"""Audit fixtures: a small, varied log, and raw-SQL tampering that bypasses the model (and, on
PostgreSQL, the append-only trigger, as an attacker with the table owner's rights could)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from tests.support.audit import JOB_A, JOB_B, TABLE, clock_at, trigger_disabled
from twinadmin.audit.services import audit_record


@pytest.fixture
def tamper() -> Callable[..., None]:
    """Run raw SQL against the audit table behind the ORM's back."""

    def run(sql: str, params: list[Any] | None = None) -> None:
        with trigger_disabled(), connection.cursor() as cursor:
            cursor.execute(sql.replace("{table}", TABLE), params or [])

    return run


@pytest.fixture
def many_entries(db) -> Callable[[int], None]:
    def make(n: int) -> None:
        for i in range(n):
            audit_record(
                actor=f"user{i % 3}",
                action="twin.delete.start" if i % 2 else "twin.delete.success",
                target_type="twin",
                target_id=f"t{i}",
                creator_id=f"c{i % 5}",
                outcome="intent" if i % 2 else "success",
                details={"i": i, "vectors_before": 10 * i},
            )

    return make


@pytest.fixture
def log(db, operator, approver, monkeypatch) -> dict[str, int]:
    """Six entries that differ in every filterable field; returns seq by short name."""
    op, appr, cli = operator, approver, "cli:erase_creator"
    rows = {  # name: (clock, actor, action, target_type, target_id, creator_id, outcome, job)
        "delete_start": ("2026-01-10T09:00", op, "twin.delete.start", "twin", "t1", "a.1", "intent", JOB_A),
        "delete_done": ("2026-01-10T09:05", op, "twin.delete.success", "twin", "t1", "a.1", "success", JOB_A),
        "erase_start": (
            "2026-02-01T00:00",
            cli,
            "creator.erase.start",
            "creator",
            "a.10",
            "a.10",
            "intent",
            JOB_B,
        ),
        "refresh": (
            "2026-02-15T12:00",
            None,
            "index.refresh",
            "index",
            "digital-twin-brain",
            "",
            "info",
            None,
        ),
        "approve": (
            "2026-03-01T23:59:59.999999",
            appr,
            "request.approve",
            "request",
            "r-1",
            "a.10",
            "success",
            None,
        ),
        "erase_failed": (
            "2026-03-02T00:00",
            cli,
            "creator.erase.failure",
            "creator",
            "a.10",
            "a.10",
            "failure",
            JOB_B,
        ),
    }
    seqs = {}
    for name, (day, actor, action, target_type, target_id, creator_id, outcome, job) in rows.items():
        with monkeypatch.context() as patch:
            clock_at(day, patch)
            entry = audit_record(
                actor=actor,
                action=action,
                target_type=target_type,
                target_id=target_id,
                creator_id=creator_id,
                outcome=outcome,
                correlation_id=job,
                details={"step": name, "counts": {"before": 3, "after": 0}},
            )
        seqs[name] = entry.seq
    return seqs


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The role fixtures create users; PBKDF2 would make up most of this package's run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
