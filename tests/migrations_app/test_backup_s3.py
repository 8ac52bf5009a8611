"""Backups in an S3-compatible bucket (moto's server on loopback, reached through the real client):
the whole run backs up into the bucket (nothing on local disk), encrypted, and rolls back from it;
a store that starts refusing writes mid-backup fails the run with no visible partial backup, and
the run resumes once the store takes writes again; an object altered in the bucket is refused by
its checksum before anything is restored; expiry deletes from the bucket (and from a directory)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from migrations_app import backups, storage
from migrations_app.models import NamespaceBackup, NamespaceMigration
from migrations_app.services import migration_create, migration_execute, migration_resume, migration_rollback
from migrations_app.services.backup_records import backups_expire
from migrations_app.tasks import backup_expiry_task
from tests.migrations_app.helpers import assert_same_vectors, read_all
from tests.support.s3 import FaultProxy, object_bytes, object_put, use_s3
from tests.support.seed import CREATOR
from twinadmin.audit.models import AuditEntry
from twinadmin.registry.models import Twin
from twinadmin.vectors import get_index

pytestmark = pytest.mark.django_db
Status = NamespaceMigration.Status


def _cut_over() -> NamespaceMigration:
    run = migration_create(actor="cli:test", creator_id=CREATOR, create_creator=True, delete_source=True)
    return migration_execute(run_id=run.pk)


def test_a_run_backs_up_into_the_bucket_encrypted_and_rolls_back_from_it(
    seeded, seed_data, s3_backups, settings
):
    run = _cut_over()

    assert run.status == Status.SUCCEEDED, run.error
    assert not settings.MIGRATION_BACKUP_DIR.exists()  # nothing on this host's disk
    rows = NamespaceBackup.objects.filter(run=run)
    assert rows.count() == 30
    assert all(b.location.startswith(f"s3://{s3_backups.bucket}/backups/run-{run.pk}/") for b in rows)
    keys = s3_backups.object_keys()
    assert sum(k.endswith("/VDF_META.json") for k in keys) == 30
    data = object_bytes(s3_backups.server.url, s3_backups.bucket, next(k for k in keys if k.endswith(".enc")))
    assert b"PAR1" not in data and CREATOR.encode() not in data
    assert set(get_index().describe_index_stats().namespaces).isdisjoint(seed_data.namespaces)

    run = migration_execute(run_id=migration_rollback(run=run, actor="cli:test", enqueue=False).pk)

    assert run.status == Status.ROLLED_BACK, run.error
    index = get_index()
    assert set(index.describe_index_stats().namespaces) == set(seed_data.namespaces)
    for namespace, vectors in seed_data.namespaces.items():
        assert_same_vectors(read_all(index, namespace), vectors)
    assert not Twin.objects.exists()


def test_an_object_altered_in_the_bucket_is_refused_before_anything_is_restored(seeded, s3_backups):
    run = _cut_over()
    backup = NamespaceBackup.objects.filter(run=run).order_by("pk").first()
    where = storage.Location.parse(backup.location)
    key = where.object_key(next(n for n in storage.objects(where) if n.endswith(".enc")))
    stored = bytearray(object_bytes(s3_backups.server.url, s3_backups.bucket, key))
    stored[len(stored) // 2] ^= 0x01
    object_put(s3_backups.server.url, s3_backups.bucket, key, bytes(stored))
    stats = get_index().describe_index_stats()

    run = migration_execute(run_id=migration_rollback(run=run, actor="cli:test", enqueue=False).pk)

    assert run.status == Status.FAILED
    assert "does not verify" in run.error and "SHA-256" in run.error
    assert get_index().describe_index_stats() == stats  # nothing restored, nothing deleted
    assert Twin.objects.count() == 29


def test_a_store_that_refuses_writes_mid_backup_fails_the_run_resumably_with_no_partial_backup(
    seeded,
    creator,
    seed_data,
    settings,
    monkeypatch,
    moto_server,
):
    proxy = FaultProxy(moto_server.url, writes_allowed=10).start()  # 3 backups of 3 objects, then one
    try:
        s3 = use_s3(settings, monkeypatch, moto_server, endpoint=proxy.url)
        chosen = sorted(seeded_namespaces(seeded))[:5]  # enough for a refusal in the fourth backup
        run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=chosen)
        run = migration_execute(run_id=run.pk)

        assert run.status == Status.FAILED and proxy.refused
        assert "AccessDenied" in run.error or "refused" in run.error
        complete = set(
            NamespaceBackup.objects.filter(run=run, complete=True).values_list("location", flat=True)
        )
        assert len(complete) == 3
        for backup in NamespaceBackup.objects.filter(run=run).exclude(location__in=complete):
            assert backup.status == NamespaceBackup.Status.NEVER_RESTORABLE
            with pytest.raises(backups.BackupCorrupt, match="has no VDF_META.json"):
                backups.read_manifest(backup.location)
        assert sum(k.endswith("/VDF_META.json") for k in s3.object_keys()) == 3

        proxy.writes_allowed = None  # the store takes writes again
        run = migration_execute(run_id=migration_resume(run=run, actor="cli:test", enqueue=False).pk)

        assert run.status == Status.SUCCEEDED, run.error
        assert sum(k.endswith("/VDF_META.json") for k in s3.object_keys()) == 5
        assert all(backups.verify_files(b.location).ok for b in NamespaceBackup.objects.filter(run=run))
        # Every target verified against what the backups recorded, vector by vector.
        assert sorted(i.source_namespace for i in run.items.filter(verified=True)) == chosen
    finally:
        proxy.stop()


@pytest.mark.parametrize("backend", ["file", "s3"])
def test_expiry_deletes_backups_past_their_time_from_the_store_and_audits_it(
    backend,
    seeded,
    creator,
    settings,
    monkeypatch,
    moto_server,
):
    if backend == "s3":
        use_s3(settings, monkeypatch, moto_server)
    run = migration_create(
        actor="cli:test", creator_id=CREATOR, namespaces=sorted(seeded_namespaces(seeded))[:3]
    )
    run = migration_execute(run_id=run.pk)
    assert run.status == Status.SUCCEEDED, run.error
    old, *kept = NamespaceBackup.objects.filter(run=run).order_by("pk")
    NamespaceBackup.objects.filter(pk=old.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))

    assert backup_expiry_task() == 1
    assert backups_expire() == []  # the next round finds nothing more

    old.refresh_from_db()
    # data, digests and manifest
    assert old.status == NamespaceBackup.Status.DELETED and old.objects_deleted == 3
    assert storage.objects(storage.Location.parse(old.location)) == {}
    assert all(backups.verify_files(b.location).ok for b in kept)
    entry = AuditEntry.objects.get(action="migration.backup.delete", outcome="success", target_id=str(old.pk))
    assert entry.details["reason"].startswith("expired at") and entry.actor == "system:backup-expiry"


def seeded_namespaces(index) -> list[str]:
    return [n for n in index.describe_index_stats().namespaces if n != "__default__"]
