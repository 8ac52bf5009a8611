"""Backups: vector-io's VDF layout (VDF_META.json + Parquet, encrypted), exact float32 values and
metadata, registry rows that erasure finds (backups_for_creator) and removes (backup_delete)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from migrations_app import backups, checksums, storage
from migrations_app.models import NamespaceBackup
from migrations_app.services import backup_delete, backups_for_creator, migration_create
from tests.migrations_app.helpers import legacy_sources, read_all, run_phases
from tests.support.seed import CREATOR
from twinadmin.audit.models import AuditEntry
from twinadmin.vectors import DEFAULT_NAMESPACE

pytestmark = pytest.mark.django_db


@pytest.fixture
def backed_up(seeded, creator, settings):
    settings.MIGRATION_BATCH_SIZE = 50
    run = migration_create(
        actor="cli:test", creator_id=CREATOR, namespaces=[DEFAULT_NAMESPACE, legacy_sources(seeded)[0]]
    )
    assert run_phases(run, "backup")
    return run


def test_backup_is_a_vdf_dataset_with_exact_vectors(backed_up, seeded, settings):
    backup = NamespaceBackup.objects.get(run=backed_up, source_namespace=DEFAULT_NAMESPACE)
    root = storage.Location.parse(backup.location)
    assert (
        backup.location.startswith("file:///")
        and root.local_path.parent.parent == settings.MIGRATION_BACKUP_DIR
    )

    manifest = json.loads((root.local_path / "VDF_META.json").read_text())
    entry = manifest["indexes"]["digital-twin-brain"][0]
    assert entry["namespace"] == ""  # Pinecone's vector APIs name the default namespace ""
    assert (entry["total_vector_count"], entry["dimensions"], entry["metric"]) == (376, 8, "Cosine")
    assert manifest["file_structure"] == ["digital-twin-brain/__default__/i1.parquet.enc", "VDF_META.json"]
    assert (manifest["namespace"], manifest["dimension"], manifest["metric"], manifest["count"]) == (
        DEFAULT_NAMESPACE,
        8,
        "cosine",
        376,
    )
    assert manifest["checksum"] == backup.checksum and manifest["checksum_algorithm"] == "sha256-sum-v1"

    # Stored encrypted: neither Parquet's magic nor any id is in the bytes on disk.
    stored = (root.local_path / "digital-twin-brain/__default__/i1.parquet.enc").read_bytes()
    assert b"PAR1" not in stored and b"legacy" not in stored.lower()
    assert len(list(backups.iter_batches(root))) == 8  # batches of 50: bounded memory to read back
    table = backups.read_table(root)
    assert table.schema.field("vector").type.value_type == "float"
    source = read_all(seeded, DEFAULT_NAMESPACE)
    rows = table.to_pylist()
    assert sorted(r["id"] for r in rows) == sorted(source)
    for row in rows:
        original = source[row["id"]]
        assert np.array_equal(
            np.array(row["vector"], np.float32).view(np.uint32), original.values.view(np.uint32)
        )
        assert json.loads(row["metadata"]) == original.metadata
        assert row["checksum"] == checksums.vector_digest(original)
    check = backups.verify_files(backup.location)
    assert check.ok and check.count == 376 and check.checksum == backup.checksum


def test_backup_rows_say_whose_data_they_hold(backed_up):
    rows = backups_for_creator(creator_id=CREATOR)
    assert rows.count() == 2
    for backup in rows:
        assert backup.status == NamespaceBackup.Status.AVAILABLE and backup.complete
        assert backup.creator_id == CREATOR and backup.run_id == backed_up.pk
        assert backup.size_bytes == backups.directory_size(backup.location) > 0
        assert backup.expires_at > backup.created_at
    assert backups_for_creator(creator_id="sainath.no.10").count() == 0


def test_backup_delete_removes_the_files_once_and_is_audited(backed_up):
    backup = backups_for_creator(creator_id=CREATOR).first()
    path = storage.Location.parse(backup.location).local_path

    deleted = backup_delete(backup=backup, actor="cli:erase", reason="creator erased")
    again = backup_delete(backup=backup, actor="cli:erase", reason="creator erased")

    assert not path.exists()
    assert deleted.status == again.status == NamespaceBackup.Status.DELETED
    assert deleted.deleted_reason == "creator erased" and deleted.deleted_at
    entries = AuditEntry.objects.filter(action="migration.backup.delete").order_by("seq")
    assert [(e.outcome, e.actor, e.creator_id) for e in entries] == [
        ("intent", "cli:erase", CREATOR),
        ("success", "cli:erase", CREATOR),
    ]
    assert backups_for_creator(creator_id=CREATOR).count() == 1


def test_an_interrupted_backup_is_never_restorable_and_still_found_for_erasure(backed_up, seeded):
    """A worker killed mid-write leaves objects without a manifest, and a row not restorable."""
    backup = backups_for_creator(creator_id=CREATOR).first()
    root = storage.Location.parse(backup.location)
    (root.local_path / "VDF_META.json").unlink()
    NamespaceBackup.objects.filter(pk=backup.pk).update(
        status=NamespaceBackup.Status.NEVER_RESTORABLE, complete=False
    )
    with pytest.raises(backups.BackupCorrupt, match="has no VDF_META.json"):
        next(backups.iter_batches(root))

    assert backups_for_creator(creator_id=CREATOR).filter(pk=backup.pk).exists()
    backup_delete(backup=backup, actor="cli:erase", reason="creator erased")
    assert not root.local_path.exists()


def test_a_backup_from_before_object_storage_is_still_deleted(backed_up):
    """Rows from before locations: a bare path (the data migration makes it a file URL) and a
    `<dir>.partial` left by a killed worker."""
    backup = NamespaceBackup.objects.filter(run=backed_up).first()
    final = storage.Location.parse(backup.location).local_path
    partial = backups.partial_path(final)
    final.rename(partial)
    NamespaceBackup.objects.filter(pk=backup.pk).update(location=str(final), complete=False)

    backup_delete(backup=backup, actor="cli:erase", reason="creator erased")
    assert not partial.exists() and not final.exists()


def test_a_retried_backup_starts_from_nothing(backed_up):
    backup = NamespaceBackup.objects.filter(run=backed_up).first()
    root = storage.Location.parse(backup.location)
    storage.put(root, "junk", b"left by a killed worker")
    (root.local_path / "VDF_META.json").unlink()
    NamespaceBackup.objects.filter(pk=backup.pk).update(
        status=NamespaceBackup.Status.NEVER_RESTORABLE, complete=False
    )
    backed_up.phase = "backup"
    backed_up.save(update_fields=["phase"])

    assert run_phases(backed_up, "backup")

    backup.refresh_from_db()
    assert backup.status == NamespaceBackup.Status.AVAILABLE and "junk" not in storage.objects(root)
    assert backups.verify_files(backup.location).ok


def test_backup_delete_needs_a_reason(backed_up):
    with pytest.raises(ValueError, match="reason"):
        backup_delete(backup=NamespaceBackup.objects.first(), actor="cli:x", reason=" ")
