"""Runs are resumable and fenced: a cancelled or interrupted copy continues from its checkpoint
(no vector lost, duplicated or altered), a stale delivery does nothing, a live run is not taken
over, and cancelling stops a running copy at its next checkpoint.

A run's job and its lease are the fence (twinadmin.jobs.leases): these tests put a run's job in
the state a live, a dead or a silent worker leaves it in, as the rows would be after it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from migrations_app.models import MigrationItem, NamespaceMigration
from migrations_app.services import (
    MigrationStateError,
    migration_cancel,
    migration_cancel_for_creator,
    migration_create,
    migration_execute,
    migration_resume,
)
from tests.migrations_app.helpers import assert_same_vectors, legacy_sources, read_all, run_phases
from tests.support.seed import CREATOR
from twinadmin.audit.models import AuditEntry
from twinadmin.jobs.leases import jobs_sweep, resumable_job_run
from twinadmin.jobs.models import Job, JobLease
from twinadmin.vectors import get_index

pytestmark = pytest.mark.django_db
Status = NamespaceMigration.Status


def _held(run, *, lease_left: float, owner: str = "worker@other-host:1:1") -> None:
    """The run is running, its job held by another worker whose lease ends `lease_left` seconds
    from now (negative: it lapsed that long ago; its worker stopped renewing it)."""
    NamespaceMigration.objects.filter(pk=run.pk).update(status=Status.RUNNING)
    Job.objects.filter(pk=run.job_id).update(status=Job.Status.RUNNING, started_at=timezone.now())
    JobLease.objects.filter(job_id=run.job_id).update(
        owner=owner, expires_at=timezone.now() + dt.timedelta(seconds=lease_left)
    )


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

    # The copy runs in the pass that reads the source once (and writes the backup beside it).
    assert run.status == Status.CANCELLED and run.phase == "backup"
    stopped = MigrationItem.objects.get(pk=seen["item"])
    # Stopped at the next checkpoint: one more batch at most, never the whole namespace.
    assert 7 <= stopped.copied <= 14 < stopped.source_count
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
    first_job = run.job_id
    run = migration_resume(run=run, actor="cli:test", enqueue=False)
    left = run.items.values("step", "copied").get()

    resumable_job_run(job_id=first_job)  # the old attempt's message, delivered late

    run.refresh_from_db()
    assert (run.status, run.attempt) == (Status.QUEUED, 2)
    assert run.job_id != first_job and run.job.status == Job.Status.PENDING
    assert run.items.values("step", "copied").get() == left  # nothing ran


def test_a_redelivered_job_that_already_ran_is_a_no_op(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    assert migration_execute(run_id=run.pk).status == Status.SUCCEEDED
    backups = AuditEntry.objects.filter(action="migration.backup.create").count()

    resumable_job_run(job_id=run.job_id)

    assert AuditEntry.objects.filter(action="migration.backup.create").count() == backups
    run.refresh_from_db()
    assert (run.status, run.phase, run.attempt) == (Status.SUCCEEDED, "done", 1)


def test_a_staged_run_continues_where_it_paused(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    assert run_phases(run, "backup", "copy")
    assert (run.status, run.phase, run.job.status) == (Status.QUEUED, "verify", Job.Status.PENDING)
    assert jobs_sweep()["pending"] == []  # paused on purpose: nobody's lost message

    run = migration_execute(run_id=run.pk)

    assert (run.status, run.attempt) == (Status.SUCCEEDED, 1)
    assert AuditEntry.objects.filter(action="migration.backup.create").count() == 1


def test_a_run_with_a_live_runner_is_not_taken_over(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    _held(run, lease_left=30)

    migration_execute(run_id=run.pk)  # another delivery, while the worker renews its lease

    run.refresh_from_db()
    assert (run.status, run.phase, run.job.status) == (Status.RUNNING, "backup", Job.Status.RUNNING)
    with pytest.raises(MigrationStateError, match="its worker is alive"):
        migration_resume(run=run, actor="cli:test", enqueue=False)


def test_a_run_whose_worker_died_is_resumed(seeded, seed_data, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    _held(run, lease_left=-60)  # killed: its lease lapsed a while ago

    run = migration_execute(run_id=migration_resume(run=run, actor="cli:test", enqueue=False).pk)

    assert run.status == Status.SUCCEEDED and run.attempt == 2


def test_a_silent_runner_on_another_host_is_taken_over_once_its_lease_lapses(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    dead_job = run.job_id
    _held(run, lease_left=10)  # last renewed 20 s ago, with a 30 s lease: alive
    with pytest.raises(MigrationStateError):
        migration_resume(run=run, actor="cli:test", enqueue=False)

    JobLease.objects.filter(job_id=dead_job).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    run = migration_resume(run=run, actor="cli:test", enqueue=False)

    assert (run.status, run.attempt) == (Status.QUEUED, 2) and run.job_id != dead_job
    old = Job.objects.get(pk=dead_job)
    assert old.status == Job.Status.FAILED and f"continued by job {run.job_id}" in old.error


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
    assert 0 < item.copied < item.source_count
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


def test_a_queued_run_whose_message_was_lost_is_sent_again_by_the_sweep(
    seeded, creator, django_capture_on_commit_callbacks
):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    with pytest.raises(MigrationStateError, match="a worker will pick it up"):
        migration_resume(run=run, actor="cli:test", enqueue=False)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert jobs_sweep()["pending"] == []  # just queued: its message is on its way

    Job.objects.filter(pk=run.job_id).update(created_at=timezone.now() - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert jobs_sweep()["pending"] == [run.job_id]
    assert len(sent) == 1
    assert migration_execute(run_id=run.pk).status == Status.SUCCEEDED


def test_cancel_between_two_phases_is_honoured_by_the_next_one(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    assert run_phases(run, "backup")
    left = run.items.values("step", "copied", "verified").get()

    # Nobody runs a phase right now: cancelled at once, and the next delivery does nothing.
    assert migration_cancel(run=run, actor="cli:test").status == Status.CANCELLED
    run = migration_execute(run_id=run.pk)

    assert run.status == Status.CANCELLED and run.items.values("step", "copied", "verified").get() == left
    assert run.job.status == Job.Status.CANCELLED


def test_the_sweep_continues_runs_whose_worker_died_and_leaves_live_ones(
    seeded, creator, django_capture_on_commit_callbacks
):
    sources = legacy_sources(seeded)
    dead, cancelling, alive = (
        migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[name]) for name in sources[:3]
    )
    for run, left in ((dead, -60), (cancelling, -60), (alive, 30)):
        _held(run, lease_left=left)
    NamespaceMigration.objects.filter(pk=cancelling.pk).update(cancel_requested=True)

    with django_capture_on_commit_callbacks(execute=False) as sent:
        handed = jobs_sweep()["lapsed"]

    assert sorted(handed) == sorted([dead.job_id, cancelling.job_id]) and len(sent) == 2
    for job_id in handed:  # what the workers do with the two messages
        resumable_job_run(job_id=job_id)
    for run in (dead, cancelling, alive):
        run.refresh_from_db()
    assert (dead.status, dead.attempt) == (Status.SUCCEEDED, 2)
    assert cancelling.status == Status.CANCELLED
    assert (alive.status, alive.attempt) == (Status.RUNNING, 1)
    entry = AuditEntry.objects.get(action="migration.run.continue", target_id=str(dead.pk))
    assert entry.details["from_job"] in handed and entry.details["job"] == dead.job_id
