"""Verification reads a backup's ids and digests from its small digests object, never from the
large data object; a backup written before that object existed still verifies from its data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from migrations_app import backups, storage
from migrations_app.models import MigrationItem, NamespaceBackup
from migrations_app.services import migration_create
from tests.migrations_app.helpers import legacy_sources, run_phases
from tests.support.seed import CREATOR
from twinadmin.vectors import Vector

pytestmark = pytest.mark.django_db


@pytest.fixture
def backup(seeded, creator, settings):
    settings.MIGRATION_BATCH_SIZE = 50
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[legacy_sources(seeded)[0]])
    assert run_phases(run, "backup")
    return NamespaceBackup.objects.get(run=run)


def _recorded(location: str) -> tuple[list[str], list[bytes]]:
    table = backups.read_table(location)  # the data object's own columns
    return table.column("id").to_pylist(), table.column("checksum").to_pylist()


def _pairs(location: str) -> tuple[list[str], list[bytes]]:
    ids: list[str] = []
    digests: list[bytes] = []
    for some_ids, some_digests in backups.iter_id_digests(location):
        ids += some_ids
        digests += some_digests
    return ids, digests


def test_ids_and_digests_come_from_the_small_object_alone(backup):
    where = storage.Location.parse(backup.location)
    expected = _recorded(backup.location)
    manifest = backups.read_manifest(where)
    sizes = storage.objects(where)
    data = next(name for name in sizes if name.endswith("i1.parquet.enc"))
    assert manifest["digests"] in manifest["objects"] and sizes[manifest["digests"]] < sizes[data] / 3

    (where.local_path / data).unlink()  # the large object gone: verification's reads still work

    assert _pairs(backup.location) == expected and len(expected[0]) == backup.vector_count
    assert list(backups.iter_digests(backup.location)) == expected[1]
    assert not backups.verify_files(backup.location).ok  # the restore check reads the data


def test_a_backup_without_a_digests_object_verifies_from_its_data(backup):
    where = storage.Location.parse(backup.location)
    expected = _recorded(backup.location)
    manifest = backups.read_manifest(where)
    name = manifest.pop("digests")
    del manifest["objects"][name]
    (where.local_path / name).unlink()
    storage.put(where, backups.MANIFEST, json.dumps(manifest).encode())

    assert _pairs(backup.location) == expected
    assert backups.verify_files(backup.location).ok
    assert run_phases(backup.run, "verify")
    assert MigrationItem.objects.get(pk=backup.item.pk).verified


def test_digests_in_several_row_groups_read_back_in_order(creator, settings, tmp_path):
    location = storage.Location.parse(tmp_path / "b")
    writer = backups.BackupWriter(
        location,
        namespace="ns",
        dimension=4,
        metric="cosine",
        index_name="digital-twin-brain",
        extra={"creator_id": CREATOR},
        digest_group_rows=100,
    )
    vectors = [Vector(f"v{i:04d}", np.full(4, i, np.float32), {"i": i}) for i in range(2_345)]
    for start in range(0, len(vectors), 70):
        writer.write(vectors[start : start + 70])
    writer.close()

    ids, digests = _pairs(location.url)
    assert ids == [v.id for v in vectors] and digests == _recorded(location.url)[1]
    assert all(len(i) <= 1_000 for i, _ in backups.iter_id_digests(location.url))
    assert backups.verify_files(location.url).ok
