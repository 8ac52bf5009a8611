"""Erasure reaches every copy of a creator's backups: their objects are deleted from the bucket and
their data key is destroyed, so a copy that survives elsewhere (a bucket version, a snapshot) can
never be decrypted with anything left; the receipt states both. An erasure the store interrupts
after the key went finishes on retry, and the key's destruction is recorded once."""

from __future__ import annotations

import numpy as np
import pytest

from migrations_app import backup_crypto, backups, storage
from migrations_app.backup_keys import DataKeyDestroyed, data_key_for_writing
from migrations_app.models import CreatorBackupKey, MigrationItem, NamespaceBackup, NamespaceMigration
from tests.support.erasure import run_job
from tests.support.s3 import FaultProxy, object_bytes, object_put, use_s3
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.receipts import erasure_receipt
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file, erasure_request_retry
from twinadmin.jobs.models import Job
from twinadmin.vectors import Vector

pytestmark = pytest.mark.django_db


def _backup(creator_id: str, source: str) -> NamespaceBackup:
    """A real, encrypted backup of a few vectors of `creator_id` in the configured store."""
    run = NamespaceMigration.objects.create(creator_id=creator_id, requested_by_name="op")
    item = MigrationItem.objects.create(run=run, position=1, source_namespace=source, active=False)
    location = storage.root().child(f"run-{run.pk}", f"001-{source}")
    writer = backups.BackupWriter(
        location,
        namespace=source,
        dimension=8,
        metric="cosine",
        index_name="digital-twin-brain",
        extra={"creator_id": creator_id, "run": run.pk},
    )
    writer.write([Vector(f"{source}-{i}", np.full(8, i, np.float32), {"i": i}) for i in range(20)])
    written = writer.close()
    return NamespaceBackup.objects.create(
        run=run,
        item=item,
        creator_id=creator_id,
        source_namespace=source,
        location=location.url,
        status=NamespaceBackup.Status.AVAILABLE,
        complete=True,
        vector_count=written.count,
        checksum=written.checksum,
        size_bytes=written.size_bytes,
    )


def _erase(operator, approver):
    erasure = erasure_request_file(creator_id="a.1", reason="DSAR", confirm="a.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()
    return erasure, run_job(erasure.job_id)


def _copy_aside(s3, backup: NamespaceBackup) -> dict[str, bytes]:
    where = storage.Location.parse(backup.location)
    return {
        where.object_key(name): object_bytes(s3.server.url, s3.bucket, where.object_key(name))
        for name in storage.objects(where)
    }


def test_erasure_deletes_the_objects_destroys_the_key_and_a_surviving_copy_is_unreadable(
    creator_a1, index, operator, approver, s3_backups
):
    ours = [_backup("a.1", "legacy-one"), _backup("a.1", "legacy-two")]
    theirs = _backup("a.10", "legacy-three")
    survivor = _copy_aside(s3_backups, ours[0])  # a bucket version, a snapshot, a restored volume

    erasure, job = _erase(operator, approver)

    assert job.status == Job.Status.SUCCEEDED, job.error
    erasure.refresh_from_db()
    assert erasure.status == "completed"
    left = s3_backups.object_keys()
    assert not any(k.startswith(storage.Location.parse(b.location).key) for b in ours for k in left)
    assert backups.verify_files(theirs.location).ok  # the neighbour's backup is untouched
    key = CreatorBackupKey.objects.get(creator_id="a.1")
    assert key.destroyed_at is not None and bytes(key.wrapped_key) == b""
    assert CreatorBackupKey.objects.get(creator_id="a.10").destroyed_at is None

    receipt = erasure_receipt(erasure)
    # two backups: data, digests and manifest each
    assert receipt["backups_erased"]["objects_deleted"] == 6
    assert receipt["backups_erased"]["data_key_destroyed_at"] == key.destroyed_at.isoformat()
    assert receipt["backups_erased"]["statement"] == (
        f"objects deleted: 6; data key destroyed at {key.destroyed_at.isoformat()}"
    )
    assert sorted(b["objects_deleted"] for b in receipt["backups"]) == [3, 3]
    destroy = AuditEntry.objects.get(action="migration.backup_key.destroy", outcome="success")
    assert destroy.correlation_id == erasure.correlation_id and destroy.creator_id == "a.1"

    # The copy put back where it was is recognised and refused: the key it needs is gone...
    for object_key, data in survivor.items():
        object_put(s3_backups.server.url, s3_backups.bucket, object_key, data)
    check = backups.verify_files(ours[0].location)
    assert not check.ok and "was destroyed" in check.problem
    with pytest.raises(backups.BackupUnreadable, match="was destroyed"):
        next(backups.iter_batches(ours[0].location))
    # ...and no key that is left (every other creator's, unwrapped with the KEK) decrypts it.
    manifest = backups.read_manifest(ours[0].location)
    name = next(n for n in manifest["objects"])
    stored = survivor[storage.Location.parse(ours[0].location).object_key(name)]
    provider = backup_crypto.kek_provider()
    for row in CreatorBackupKey.objects.exclude(wrapped_key=b""):
        reader = backup_crypto.DecryptingReader(
            lambda start, end: stored[start:end],
            len(stored),
            key=provider.unwrap(bytes(row.wrapped_key), kek_id=row.kek_id),
            context=backup_crypto.stream_context(manifest["encryption"]["backup_id"], name),
        )
        with pytest.raises(backup_crypto.DecryptionFailed):
            reader.read()


def test_an_erasure_the_store_interrupts_after_the_key_is_destroyed_finishes_on_retry(
    creator_a1, index, operator, approver, settings, monkeypatch, moto_server
):
    proxy = FaultProxy(moto_server.url).start()
    try:
        s3 = use_s3(settings, monkeypatch, moto_server, endpoint=proxy.url)
        backup = _backup("a.1", "legacy-one")
        proxy.writes_allowed = proxy.writes_seen  # from now on the store refuses (deletes too)

        erasure, job = _erase(operator, approver)

        assert job.status == Job.Status.FAILED
        erasure.refresh_from_db()
        assert erasure.status == "failed" and f"backup(s) not deleted: {backup.pk}" in erasure.last_error
        destroyed_at = CreatorBackupKey.objects.get(creator_id="a.1").destroyed_at
        assert destroyed_at is not None  # the objects are still there, and already unreadable
        assert any(k.endswith("VDF_META.json") for k in s3.object_keys())
        with pytest.raises(backups.BackupUnreadable):
            next(backups.iter_batches(backup.location))

        proxy.writes_allowed = None
        erasure_request_retry(erasure=erasure, actor=operator, enqueue=False)
        erasure.refresh_from_db()
        assert run_job(erasure.job_id).status == Job.Status.SUCCEEDED
        erasure.refresh_from_db()
        assert erasure.status == "completed" and s3.object_keys() == []
        assert CreatorBackupKey.objects.get(creator_id="a.1").destroyed_at == destroyed_at
        assert (
            AuditEntry.objects.filter(action="migration.backup_key.destroy", outcome="success").count() == 1
        )
        receipt = erasure_receipt(erasure)
        assert receipt["backups_erased"]["objects_deleted"] == 3
    finally:
        proxy.stop()


def test_a_creator_erased_once_never_gets_a_new_key(creator_a1, index, operator, approver, s3_backups):
    erasure, job = _erase(operator, approver)
    assert job.status == Job.Status.SUCCEEDED, job.error

    with pytest.raises(DataKeyDestroyed, match="was destroyed"):
        data_key_for_writing(creator_id="a.1")
