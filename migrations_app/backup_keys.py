"""Creators' backup data keys: created on a creator's first backup, unwrapped to read one,
destroyed (audited) when the creator is erased. Reads and writes of `CreatorBackupKey` live here
only; the erasure side calls `data_key_destroy` through the migrations app's services."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from migrations_app.backup_crypto import kek_provider, key_fingerprint, new_data_key
from migrations_app.models import CreatorBackupKey
from twinadmin.audit.services import audit_record

# creator_id -> (unwrapped key, when last used). The pipeline reads backups on pool threads,
# which must not each open a database connection (nor, in tests, miss rows of the test's
# transaction): the phase uses the key on its own thread first, the pool threads find it here.
# What decides whether a backup may be restored never trusts this: `fresh=True` (verify_files,
# which every restore runs first) reads the key's row again, so a destruction in any process is
# seen there at once.
KEY_CACHE_SECONDS = 600.0
_cache: dict[str, tuple[bytes, float]] = {}
_cache_lock = threading.Lock()


def _cached(creator_id: str) -> bytes | None:
    with _cache_lock:
        hit = _cache.get(creator_id)
        if hit is None or time.monotonic() - hit[1] > KEY_CACHE_SECONDS:
            _cache.pop(creator_id, None)
            return None
        return hit[0]


def _remember(creator_id: str, key: bytes) -> bytes:
    with _cache_lock:
        _cache[creator_id] = (key, time.monotonic())
    return key


def _forget(creator_id: str) -> None:
    with _cache_lock:
        _cache.pop(creator_id, None)


class DataKeyDestroyed(Exception):
    """The creator's data key was destroyed (they were erased): their backups are unreadable."""

    def __init__(self, key: CreatorBackupKey) -> None:
        self.destroyed_at = key.destroyed_at
        super().__init__(
            f"the backup data key of {key.creator_id} was destroyed at "
            f"{key.destroyed_at:%Y-%m-%d %H:%M:%S} UTC ({key.destroyed_reason or 'erasure'}): "
            "their backups can never be decrypted or restored"
        )


class DataKeyMissing(Exception):
    """No data key was ever made for the creator, so no backup of theirs can be decrypted."""


def data_key_for_writing(*, creator_id: str) -> bytes:
    """The creator's data key, made (and wrapped by the KEK) on their first backup. Two writers
    racing for a new creator's key: the unique creator_id keeps one, and both use it."""
    row = CreatorBackupKey.objects.filter(creator_id=creator_id).first()
    if row is not None and row.destroyed_at is None and (hit := _cached(creator_id)) is not None:
        return _remember(creator_id, hit)
    if row is None:
        provider = kek_provider()
        try:
            with transaction.atomic():
                row = CreatorBackupKey.objects.create(
                    creator_id=creator_id, kek_id=provider.kek_id(), wrapped_key=provider.wrap(new_data_key())
                )
        except IntegrityError:
            row = CreatorBackupKey.objects.get(creator_id=creator_id)
    return _unwrap(row)


def data_key_for_reading(*, creator_id: str, fingerprint: str = "", fresh: bool = False) -> bytes:
    """The creator's data key; `fingerprint` (from a backup's manifest) names which one, so a
    key remembered from before (another test's database, a key made again) is never used.
    `fresh`: read the row even when the key is remembered (a destruction is seen at once)."""
    hit = None if fresh else _cached(creator_id)
    if hit is not None and (not fingerprint or key_fingerprint(hit) == fingerprint):
        return _remember(creator_id, hit)
    row = CreatorBackupKey.objects.filter(creator_id=creator_id).first()
    if row is None:
        raise DataKeyMissing(f"no backup data key exists for {creator_id}: their backups cannot be read")
    return _unwrap(row)


def _unwrap(row: CreatorBackupKey) -> bytes:
    if row.destroyed_at is not None:
        _forget(row.creator_id)
        raise DataKeyDestroyed(row)
    return _remember(row.creator_id, kek_provider().unwrap(bytes(row.wrapped_key), kek_id=row.kek_id))


def data_key_destroy(
    *, creator_id: str, actor: Any, reason: str, correlation_id: str | uuid.UUID | None = None
) -> CreatorBackupKey:
    """Destroy the creator's data key (the wrapped key is overwritten; a row without a key is
    kept, with the time, as the proof and as a bar to new backups of the creator). Audited;
    destroying a destroyed key changes nothing and returns the first destruction. A creator
    without a key gets the destroyed row too: no backup of theirs is ever written again."""
    existing = CreatorBackupKey.objects.filter(creator_id=creator_id).first()
    if existing is not None and existing.destroyed_at is not None:
        return existing
    common = {
        "actor": actor,
        "action": "migration.backup_key.destroy",
        "target_type": "creator",
        "target_id": creator_id,
        "creator_id": creator_id,
        "correlation_id": correlation_id,
    }
    details = {
        "reason": reason[:500],
        "kek_id": existing.kek_id if existing else "",
        "existed": bool(existing),
    }
    audit_record(**common, outcome="intent", details=details)
    _forget(creator_id)
    now = timezone.now()
    with transaction.atomic():
        row, _ = CreatorBackupKey.objects.select_for_update().get_or_create(creator_id=creator_id)
        if row.destroyed_at is None:
            row.wrapped_key, row.destroyed_at, row.destroyed_reason = b"", now, reason[:500]
            row.save(update_fields=["wrapped_key", "destroyed_at", "destroyed_reason"])
    audit_record(
        **common, outcome="success", details={**details, "destroyed_at": row.destroyed_at.isoformat()}
    )
    return row


def data_key_state(*, creator_id: str) -> CreatorBackupKey | None:
    return CreatorBackupKey.objects.filter(creator_id=creator_id).first()
