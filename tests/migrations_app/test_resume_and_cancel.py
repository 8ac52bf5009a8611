"""Runs are resumable and fenced: a cancelled or interrupted copy continues from its checkpoint
(no vector lost, duplicated or altered), a stale delivery does nothing, a live run is not taken
over, and cancelling stops a running copy at its next checkpoint."""

from __future__ import annotations

import os
import socket

import pytest
from django.utils import timezone

from migrations_app.models import MigrationItem, NamespaceMigration
from migrations_app.services import (
    MigrationStateError,
    migration_cancel,
    migration_cancel_for_creator,
    migration_create,
    migration_execute,
    migration_phase_execute,
    migration_resume,
    migration_runs_sweep,
)
from tests.migrations_app.helpers import assert_same_vectors, legacy_sources, read_all, run_phases
from tests.support.seed import CREATOR
from twinadmin.audit.models import AuditEntry
from twinadmin.vectors import get_index

pytestmark = pytest.mark.django_db
Status = NamespaceMigration.Status


@pytest.fixture
def small_batches(settings):
    settings.MIGRATION_BATCH_SIZE = 7  # many checkpoints per namespace


def _cancel_during_copy(after: int):
    """A progress callback (what the command's bar gets) that cancels once `after` vectors of
    some namespace were copied: the operator pressing Cancel mid-copy."""
    seen = {}

    def on_progress(item, step, done, total):
        if step == MigrationItem.Step.COPYING and done >= after and not seen:
            seen["item"], seen["done"] = item.pk, done
            migration_cancel(run=item.run, actor="cli:test")

    return on_progress, seen


def test_cancel_mid_copy_then_resume_continues_from_the_checkpoint(seeded, seed_data, creator, small_batches):
    sources = legacy_sources(seeded)[:3]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=sources)
    on_progress, seen = _cancel_during_copy(after=7)

    run = migration_execute(run_id=run.pk, on_progress=on_progress)

    assert run.status == Status.CANCELLED and run.phase == "copy"
    stopped = MigrationItem.objects.get(pk=seen["item"])
    # Stopped at the next checkpoint: one more batch at most, never the whole namespace.
    assert 7 <= stopped.copied <= 14 < stopped.total
    assert not any(run.items.values_list("active", flat=True))  # cancelled: namespaces released

    resumed_at = {}

    def record(item, step, done, total):
        if step == MigrationItem.Step.COPYING:
            resumed_at.setdefault(item.pk, done)

    run = migration_resume(run=run, actor="cli:test", enqueue=False)
    run = migration_execute(run_id=run.pk, on_progress=record)

    assert run.status == Status.SUCCEEDED and run.attempt == 2
    assert resumed_at[stopped.pk] == stopped.copied  # continued, not restarted
    index = get_index()
    for item in run.items.all():
        assert item.verified
        assert_same_vectors(
            read_all(index, item.target_namespace), seed_data.namespaces[item.source_namespace]
        )


def test_a_delivery_of_an_older_attempt_does_nothing(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    on_progress, _ = _cancel_during_copy(after=1)
    migration_execute(run_id=run.pk, on_progress=on_progress)
    run = migration_resume(run=run, actor="cli:test", enqueue=False)

    assert migration_phase_execute(run_id=run.pk, attempt=1, phase="copy") is False

    run.refresh_from_db()
    assert (run.status, run.runner, run.attempt) == (Status.QUEUED, "", 2)


def test_a_redelivered_phase_that_already_ran_is_a_no_op(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    assert run_phases(run, "backup", "copy")
    backups = AuditEntry.objects.filter(action="migration.backup.create").count()

    assert migration_phase_execute(run_id=run.pk, attempt=run.attempt, phase="backup") is True

    assert AuditEntry.objects.filter(action="migration.backup.create").count() == backups
    run.refresh_from_db()
    assert run.phase == "verify"


def test_a_run_with_a_live_runner_is_not_taken_over(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    live = f"{socket.gethostname()}:{os.getpid()}:someone"  # this very process: alive
    NamespaceMigration.objects.filter(pk=run.pk).update(
        status=Status.RUNNING, runner=live, heartbeat_at=timezone.now()
    )

    assert migration_phase_execute(run_id=run.pk, attempt=run.attempt, phase="backup") is False
    with pytest.raises(MigrationStateError, match="its worker is alive"):
        migration_resume(run=run, actor="cli:test", enqueue=False)


def test_a_run_whose_worker_died_is_resumed(seeded, seed_data, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    dead = f"{socket.gethostname()}:999999999:gone"  # killed: its heartbeat stopped a while ago
    NamespaceMigration.objects.filter(pk=run.pk).update(
        status=Status.RUNNING, runner=dead, heartbeat_at=timezone.now() - timezone.timedelta(seconds=60)
    )

    run = migration_execute(run_id=migration_resume(run=run, actor="cli:test", enqueue=False).pk)

    assert run.status == Status.SUCCEEDED


def test_a_silent_runner_on_another_host_is_taken_over_once_stale(seeded, creator, settings):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    NamespaceMigration.objects.filter(pk=run.pk).update(
        status=Status.RUNNING,
        runner="other-host:1:x",
        heartbeat_at=timezone.now() - timezone.timedelta(seconds=20),
    )
    settings.MIGRATION_STALE_SECONDS = 30  # the default: a heartbeat 20 s old is alive
    with pytest.raises(MigrationStateError):
        migration_resume(run=run, actor="cli:test", enqueue=False)

    settings.MIGRATION_STALE_SECONDS = 10
    assert migration_resume(run=run, actor="cli:test", enqueue=False).status == Status.QUEUED


def test_cancel_for_creator_stops_a_running_copy_at_its_next_checkpoint(seeded, creator, small_batches):
    other = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[1:2])
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    cancelled = []

    def erase_now(item, step, done, total):
        if step == MigrationItem.Step.COPYING and done and not cancelled:
            cancelled.extend(migration_cancel_for_creator(creator_id=CREATOR, actor="cli:erase"))

    run = migration_execute(run_id=run.pk, on_progress=erase_now)

    assert sorted(cancelled) == sorted([run.pk, other.pk])
    assert run.status == Status.CANCELLED
    item = run.items.get()
    assert 0 < item.copied < item.total
    other.refresh_from_db()
    assert other.status == Status.CANCELLED  # queued: cancelled at once
    entry = AuditEntry.objects.get(action="migration.cancel_for_creator")
    assert (entry.actor, entry.creator_id, sorted(entry.details["runs"])) == (
        "cli:erase",
        CREATOR,
        sorted(cancelled),
    )
    # A cancelled run may not be resumed onto a creator being erased.
    from twinadmin.registry.models import Creator

    Creator.objects.filter(pk=creator.pk).update(status=Creator.Status.ERASURE_PENDING)
    with pytest.raises(MigrationStateError, match="erasure-pending"):
        migration_resume(run=run, actor="cli:test", enqueue=False)


def test_cancel_of_a_finished_run_is_refused(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    run = migration_execute(run_id=run.pk)
    with pytest.raises(MigrationStateError, match="nothing to cancel"):
        migration_cancel(run=run, actor="cli:test")
    assert migration_cancel_for_creator(creator_id=CREATOR, actor="cli:test") == []


def test_a_queued_run_is_re_queued_only_once_no_worker_took_it(seeded, creator, settings):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    with pytest.raises(MigrationStateError, match="a worker will pick it up"):
        migration_resume(run=run, actor="cli:test", enqueue=False)

    settings.MIGRATION_STALE_SECONDS = 0  # the broker lost the message: nobody took it in time
    assert migration_resume(run=run, actor="cli:test", enqueue=False).attempt == 2


def test_cancel_between_two_phases_is_honoured_by_the_next_one(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    assert run_phases(run, "backup")
    NamespaceMigration.objects.filter(pk=run.pk).update(status=Status.RUNNING, heartbeat_at=timezone.now())

    # Nobody runs a phase right now: cancelled at once, and the next phase is not claimed.
    assert migration_cancel(run=run, actor="cli:test").status == Status.CANCELLED
    assert migration_phase_execute(run_id=run.pk, attempt=run.attempt, phase="copy") is False

    run.refresh_from_db()
    assert run.status == Status.CANCELLED and run.items.get().copied == 0


def test_the_sweep_continues_runs_whose_worker_died_and_leaves_live_ones(
    seeded, creator, settings, django_capture_on_commit_callbacks
):
    sources = legacy_sources(seeded)
    dead, cancelling, alive = (
        migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[name]) for name in sources[:3]
    )
    settings.MIGRATION_STALE_SECONDS = 30
    old = timezone.now() - timezone.timedelta(seconds=60)
    for run, beat in ((dead, old), (cancelling, old), (alive, timezone.now())):
        NamespaceMigration.objects.filter(pk=run.pk).update(
            status=Status.RUNNING, runner="other-host:1:x", heartbeat_at=beat
        )
    NamespaceMigration.objects.filter(pk=cancelling.pk).update(cancel_requested=True)

    with django_capture_on_commit_callbacks(execute=False) as sent:
        handed = migration_runs_sweep()

    assert sorted(handed) == sorted([dead.pk, cancelling.pk]) and len(sent) == 1  # one re-queued
    for run in (dead, cancelling, alive):
        run.refresh_from_db()
    assert (dead.status, dead.attempt) == (Status.QUEUED, 2)
    assert cancelling.status == Status.CANCELLED
    assert (alive.status, alive.attempt) == (Status.RUNNING, 1)
    entry = AuditEntry.objects.get(action="migration.run.resume", target_id=str(dead.pk))
    assert entry.actor == "celery:jobs.sweep"
    assert migration_execute(run_id=dead.pk).status == Status.SUCCEEDED
