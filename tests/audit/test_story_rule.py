"""How entries fold into steps (twinadmin.audit.story): an intent and the outcome that closed it
are one step; everything else stands alone, in the order it began."""

from __future__ import annotations

import uuid

import pytest

from twinadmin.audit.models import AuditEntry
from twinadmin.audit.services import audit_record
from twinadmin.audit.story import step_fold, step_group

pytestmark = pytest.mark.django_db

JOB = uuid.UUID("33333333-3333-4333-8333-333333333333")


def write(action: str, outcome: str, target_id: str = "a.1", target_type: str = "creator") -> AuditEntry:
    return audit_record(
        actor="op",
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        correlation_id=JOB,
    )


def folded() -> list[tuple[list[int], str]]:
    entries = AuditEntry.objects.filter(correlation_id=JOB).order_by("seq")
    return [([e.seq for e in step.entries], step.state) for step in step_fold(entries)]


def test_a_start_and_its_finish_are_one_step_coloured_by_the_outcome():
    start = write("twin.delete.start", "intent", "t1", "twin")
    finish = write("twin.delete.finish", "failure", "t1", "twin")
    assert folded() == [([start.seq, finish.seq], "failed")]


def test_one_action_written_as_intent_then_success_is_one_step():
    other = write("creator.erase.lineage", "intent", "__default__", "namespace")
    mine = write("creator.erase.lineage", "intent", "legacy-1", "namespace")
    mine_done = write("creator.erase.lineage", "success", "legacy-1", "namespace")
    other_done = write("creator.erase.lineage", "success", "__default__", "namespace")
    assert folded() == [([other.seq, other_done.seq], "succeeded"), ([mine.seq, mine_done.seq], "succeeded")]


def test_an_intent_without_outcome_is_pending_and_one_resumed_later_is_interrupted():
    first = write("creator.erase.start", "intent")
    resumed = write("creator.erase.resume", "intent")
    assert folded() == [([first.seq], "interrupted"), ([resumed.seq], "pending")]
    finish = write("creator.erase.finish", "success")
    assert folded() == [([first.seq], "interrupted"), ([resumed.seq, finish.seq], "succeeded")]


def test_an_outcome_of_another_target_or_with_no_intent_stands_alone():
    start = write("twin.delete.start", "intent", "t1", "twin")
    elsewhere = write("twin.delete.finish", "success", "t2", "twin")
    lone = write("migration.cancel_for_creator", "success")
    info = write("creator.erase.approve", "info")
    assert folded() == [
        ([start.seq], "pending"),
        ([elsewhere.seq], "succeeded"),
        ([lone.seq], "succeeded"),
        ([info.seq], "info"),
    ]


def grouped() -> list[tuple[int, str]]:
    entries = AuditEntry.objects.filter(correlation_id=JOB).order_by("seq")
    return [(len(g.members), g.state) for g in step_group(step_fold(entries))]


def test_consecutive_steps_of_one_action_are_one_group_coloured_by_its_worst_member():
    write("migration.backup.delete", "intent", "1", "backup")
    write("migration.backup.delete", "success", "1", "backup")
    write("migration.backup.delete", "intent", "2", "backup")  # no outcome yet: amber beats green
    write("twin.create", "info", "t1", "twin")
    write("migration.backup.delete", "intent", "3", "backup")  # not consecutive: a new run
    write("migration.backup.delete", "failure", "3", "backup")
    assert grouped() == [(2, "pending"), (1, "info"), (1, "failed")]


def test_the_steps_that_frame_a_story_are_never_grouped():
    write("creator.erase.request", "info")
    write("creator.erase.approve", "info")
    write("creator.erase.approve", "info")  # two approvers: two decisions, each shown
    assert grouped() == [(1, "info"), (1, "info"), (1, "info")]
