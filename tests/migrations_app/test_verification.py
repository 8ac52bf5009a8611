"""Verification compares exact id sets and per-vector digests (float32 bits, metadata), not just
counts; a failure stops the cut-over, keeps the source and names the ids."""

from __future__ import annotations

import numpy as np
import pytest

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_create
from tests.migrations_app.helpers import legacy_sources, read_all, run_phases
from tests.support.seed import CREATOR
from twinadmin.audit.models import AuditEntry
from twinadmin.registry.models import Twin
from twinadmin.vectors import Vector, get_index

pytestmark = pytest.mark.django_db


@pytest.fixture
def copied(seeded, creator, settings):
    """A run over two legacy namespaces, backed up and copied but not yet verified."""
    sources = legacy_sources(seeded)[:2]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=sources, delete_source=True)
    assert run_phases(run, "backup", "copy")
    return run


def _nudge(vector: Vector) -> Vector:
    """The smallest possible change: one float32 value moved by one unit in the last place."""
    values = np.array(vector.values, dtype=np.float32)
    values[3] = np.nextafter(values[3], np.float32(np.inf))
    return Vector(vector.id, values, vector.metadata)


def _item(run, index=0):
    return run.items.order_by("position")[index]


def test_a_value_changed_in_the_target_stops_the_cut_over_and_names_the_id(copied):
    index = get_index()
    item = _item(copied)
    victim = index.fetch(item.target_namespace, index.list_ids(item.target_namespace, limit=1).ids)
    (victim,) = victim.values()
    index.upsert(item.target_namespace, [_nudge(victim)])

    assert run_phases(copied, "verify") is False

    copied.refresh_from_db()
    item.refresh_from_db()
    assert copied.status == NamespaceMigration.Status.FAILED
    assert "verification failed" in copied.error
    assert item.verified is False
    assert item.verification["different"] == 1
    assert item.verification["examples"]["different"] == [victim.id]
    # Nothing cut over: the cut-over phase cannot even claim a failed run; sources are kept.
    assert run_phases(copied, "cutover") is False
    assert not Twin.objects.exists()
    assert index.describe_namespace(item.source_namespace).vector_count == item.total
    assert not AuditEntry.objects.filter(action="migration.source.delete").exists()
    assert AuditEntry.objects.filter(action="migration.verify", outcome="failure").count() == 1


def test_a_source_changed_under_the_copy_is_caught(copied):
    index = get_index()
    item = _item(copied, 1)
    ids = index.list_ids(item.source_namespace, limit=2).ids
    changed = [
        Vector(v.id, v.values, {**(v.metadata or {}), "text": "edited"})
        for v in index.fetch(item.source_namespace, ids).values()
    ]
    index.upsert(item.source_namespace, changed)

    assert run_phases(copied, "verify") is False

    item.refresh_from_db()
    # The target holds what was read; the source (to be deleted) is compared with the backup.
    assert sorted(item.verification["examples"]["source_changed"]) == sorted(ids)
    assert item.verification["source_checksum"] != item.verification["backup_checksum"]
    assert len(read_all(index, item.source_namespace)) == item.total


def test_missing_and_extra_vectors_are_named(copied):
    index = get_index()
    item = _item(copied)
    gone = index.list_ids(item.target_namespace, limit=1).ids
    index.delete_ids(item.target_namespace, gone)
    index.upsert(item.target_namespace, [Vector("intruder", np.ones(8, np.float32))])

    run_phases(copied, "verify")

    item.refresh_from_db()
    report = item.verification
    assert (report["missing"], report["extra"], report["different"]) == (1, 1, 0)
    assert report["examples"]["missing"] == gone and report["examples"]["extra"] == ["intruder"]
    assert report["target_count"] == report["source_count"]  # equal counts would have hidden it


def test_resume_after_a_failed_verification_verifies_again_and_still_refuses(copied):
    from migrations_app.services import migration_execute, migration_resume

    index = get_index()
    item = _item(copied)
    (victim,) = index.fetch(
        item.target_namespace, index.list_ids(item.target_namespace, limit=1).ids
    ).values()
    index.upsert(item.target_namespace, [_nudge(victim)])
    run_phases(copied, "verify")

    run = migration_execute(run_id=migration_resume(run=copied, actor="cli:test", enqueue=False).pk)

    assert run.status == NamespaceMigration.Status.FAILED and run.attempt == 2
    assert not Twin.objects.exists()


def test_lagging_counts_are_polled_until_they_agree(pinecone_local, creator, seed_data, settings):
    from twinadmin.vectors.seed import legacy_index_seed

    server = pinecone_local()
    legacy_index_seed(index=server.store, seed_data=seed_data)
    server.set_faults(count_lag_seconds=0.6)
    source = legacy_sources(server.store)[0]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source])

    assert run_phases(run, "backup", "copy", "verify", "cutover")

    report = _item(run).verification
    assert report["ok"] and report["counts"]["converged"]
    assert report["counts"]["polls"] > 1  # the target's count lagged the copy


def test_counts_that_never_agree_fail_verification(pinecone_local, creator, seed_data, settings):
    from twinadmin.vectors.seed import legacy_index_seed

    settings.MIGRATION_COUNT_DEADLINE_SECONDS = 0.3
    server = pinecone_local()
    legacy_index_seed(index=server.store, seed_data=seed_data)
    server.set_faults(count_lag_seconds=30)  # counts frozen at "before the copy"
    source = legacy_sources(server.store)[0]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source])

    assert run_phases(run, "backup", "copy", "verify") is False

    report = _item(run).verification
    assert report["missing"] == report["different"] == report["extra"] == 0
    assert not report["counts"]["converged"]
    assert report["reason"].startswith("counts did not agree within the deadline")
