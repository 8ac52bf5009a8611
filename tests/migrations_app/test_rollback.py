"""Rollback: deleted sources come back from their backups (verified against the manifest
checksum before and after), targets are deleted, the registry returns to its previous state.
Refused for an erased creator, a deleted backup, a backup that does not verify, or a target
written to since the cut-over; a refusal writes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from migrations_app import storage
from migrations_app.models import NamespaceBackup, NamespaceMigration
from migrations_app.services import (
    MigrationStateError,
    backup_delete,
    migration_create,
    migration_execute,
    migration_rollback,
)
from tests.migrations_app.helpers import assert_same_vectors, legacy_sources, read_all
from tests.support.seed import CREATOR
from twinadmin.audit.models import AuditEntry
from twinadmin.registry.models import Creator, Twin
from twinadmin.vectors import DEFAULT_NAMESPACE, Vector, get_index

pytestmark = pytest.mark.django_db
Status = NamespaceMigration.Status


@pytest.fixture
def cut_over(seeded):
    """The whole seed mapped with --delete-source: only the new namespaces remain."""
    run = migration_create(actor="cli:test", creator_id=CREATOR, create_creator=True, delete_source=True)
    run = migration_execute(run_id=run.pk)
    assert run.status == Status.SUCCEEDED
    assert all(run.items.values_list("source_deleted", flat=True))
    return run


def test_rollback_restores_the_sources_exactly_and_removes_targets_and_twins(cut_over, seed_data, capsys):
    call_command("migration_rollback", str(cut_over.pk), "--json")

    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "rolled-back"
    index = get_index()
    assert set(index.describe_index_stats().namespaces) == set(seed_data.namespaces)
    for namespace, vectors in seed_data.namespaces.items():
        assert_same_vectors(read_all(index, namespace), vectors)
    assert not Twin.objects.exists()
    assert not Creator.objects.filter(creator_id=CREATOR).exists()  # the run had created it
    restores = AuditEntry.objects.filter(
        correlation_id=cut_over.correlation_id, action="migration.rollback.restore"
    )
    assert sorted(restores.values_list("outcome", flat=True)) == ["intent"] * 30 + ["success"] * 30
    deletes = AuditEntry.objects.filter(action="migration.rollback.delete_target", outcome="success")
    assert deletes.count() == 30 and all(d.details["gone"] for d in deletes)
    assert not any(cut_over.items.values_list("active", flat=True))


def test_rollback_of_a_run_that_kept_its_sources_only_removes_what_it_added(seeded, creator, seed_data):
    twins_before = list(Twin.objects.values_list("pk", flat=True))
    run = migration_execute(run_id=migration_create(actor="cli:test", creator_id=CREATOR).pk)

    run = migration_execute(run_id=migration_rollback(run=run, actor="cli:test", enqueue=False).pk)

    assert run.status == Status.ROLLED_BACK
    assert set(get_index().describe_index_stats().namespaces) == set(seed_data.namespaces)
    assert list(Twin.objects.values_list("pk", flat=True)) == twins_before
    assert Creator.objects.filter(creator_id=CREATOR).exists()  # it existed before the run


@pytest.mark.parametrize("status", [Creator.Status.ERASED, Creator.Status.ERASURE_PENDING])
def test_rollback_is_refused_for_an_erased_creator(cut_over, status):
    Creator.objects.filter(creator_id=CREATOR).update(status=status)
    stats = get_index().describe_index_stats()

    with pytest.raises(CommandError, match=f"is {status}; its data is never restored"):
        call_command("migration_rollback", str(cut_over.pk))

    assert get_index().describe_index_stats() == stats
    cut_over.refresh_from_db()
    assert cut_over.status == Status.SUCCEEDED


def test_rollback_is_refused_when_a_needed_backup_was_deleted(cut_over):
    backup = NamespaceBackup.objects.filter(run=cut_over).first()
    backup_delete(backup=backup, actor="cli:test", reason="retention")

    with pytest.raises(MigrationStateError, match="is deleted: the deleted source cannot come back"):
        migration_rollback(run=cut_over, actor="cli:test", enqueue=False)


def test_a_backup_that_does_not_match_its_manifest_is_never_restored(cut_over):
    backup = NamespaceBackup.objects.filter(run=cut_over).order_by("pk").first()
    data = next(storage.Location.parse(backup.location).local_path.rglob("*.parquet.enc"))
    stored = bytearray(data.read_bytes())
    stored[len(stored) // 2] ^= 0x01  # one bit changed in storage
    data.write_bytes(bytes(stored))
    stats = get_index().describe_index_stats()

    run = migration_execute(run_id=migration_rollback(run=cut_over, actor="cli:test", enqueue=False).pk)

    assert run.status == Status.FAILED and "does not verify" in run.error
    assert get_index().describe_index_stats() == stats  # nothing restored, nothing deleted
    assert Twin.objects.count() == 29


def test_rollback_refuses_to_delete_a_target_written_to_since_the_cut_over(cut_over):
    twin = Twin.objects.order_by("twin_id").first()
    get_index().upsert(twin.namespace, [Vector("new-after-cutover", np.ones(8, np.float32))])
    stats = get_index().describe_index_stats()

    run = migration_execute(run_id=migration_rollback(run=cut_over, actor="cli:test", enqueue=False).pk)

    assert run.status == Status.FAILED and "new-after-cutover" in run.error
    assert get_index().describe_index_stats() == stats
    assert DEFAULT_NAMESPACE not in stats.namespaces


def test_only_finished_runs_roll_back(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    with pytest.raises(MigrationStateError, match="only finished, failed or cancelled runs"):
        migration_rollback(run=run, actor="cli:test", enqueue=False)
