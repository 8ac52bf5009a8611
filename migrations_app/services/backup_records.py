"""Backups as erasure and expiry see them: every backup of a creator's data, its audited
deletion from the store (wherever it lives), the creator's data key, and expiry."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from migrations_app import backups, storage
from migrations_app.backup_keys import data_key_destroy, data_key_state
from migrations_app.models import NamespaceBackup
from twinadmin.audit.services import audit_record

log = logging.getLogger(__name__)

__all__ = [
    "backup_delete",
    "backup_key_live",
    "backup_objects_deleted",
    "backups_expire",
    "backups_for_creator",
    "data_key_destroy",
    "data_key_state",
]

# -- backups (the interface erasure uses) -------------------------------------------------------


def backups_for_creator(*, creator_id: str) -> QuerySet[NamespaceBackup]:
    """Every backup holding this creator's data whose objects may still exist (incomplete ones
    included: a worker killed mid-write leaves objects too)."""
    return NamespaceBackup.objects.filter(creator_id=creator_id).exclude(
        status=NamespaceBackup.Status.DELETED
    )


def backup_delete(
    *, backup: NamespaceBackup, actor: Any, reason: str, correlation_id: str | uuid.UUID | None = None
) -> NamespaceBackup:
    """Delete a backup's objects from the store (any host's: its location is a URL) and mark it
    deleted with how many objects went. Audited before and after, under `correlation_id` when
    the deletion is part of a larger operation (an erasure); deleting a deleted backup changes
    nothing. A deletion interrupted half-way is finished by the next call."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a reason is required to delete a backup")
    backup = NamespaceBackup.objects.get(pk=backup.pk)
    if backup.status == NamespaceBackup.Status.DELETED:
        return backup
    details = {
        "location": backup.location,
        "namespace": backup.source_namespace,
        "size_bytes": backup.size_bytes,
        "reason": reason,
    }
    common = {
        "actor": actor,
        "action": "migration.backup.delete",
        "target_type": "backup",
        "target_id": str(backup.pk),
        "creator_id": backup.creator_id,
        "correlation_id": correlation_id,
    }
    audit_record(**common, outcome="intent", details=details)
    try:
        removed = backups.remove_backup_files(backup.location)
    except (OSError, storage.StorageError) as exc:
        audit_record(**common, outcome="failure", details={**details, "error": str(exc)})
        raise
    NamespaceBackup.objects.filter(pk=backup.pk).update(
        status=NamespaceBackup.Status.DELETED,
        deleted_at=timezone.now(),
        deleted_reason=reason[:500],
        objects_deleted=removed,
    )
    audit_record(**common, outcome="success", details={**details, "objects_deleted": removed})
    backup.refresh_from_db()
    return backup


def backups_expire(*, actor: Any = "system:backup-expiry", now: Any = None) -> list[int]:
    """Delete every backup past its expiry (MIGRATION_BACKUP_RETENTION_DAYS after it was
    completed), on whatever store it lives; each deletion audited. One that fails is logged and
    left for the next round (the others go on). Returns the ids deleted."""
    now = now or timezone.now()
    expired = NamespaceBackup.objects.filter(expires_at__lte=now).exclude(
        status=NamespaceBackup.Status.DELETED
    )
    deleted = []
    for backup in expired.order_by("expires_at", "pk"):
        try:
            backup_delete(
                backup=backup, actor=actor, reason=f"expired at {backup.expires_at:%Y-%m-%d %H:%M} UTC"
            )
        except (OSError, storage.StorageError):
            log.exception("backup %s not deleted at its expiry; the next round tries again", backup.pk)
            continue
        deleted.append(backup.pk)
    return deleted


def backup_key_live(*, creator_id: str) -> bool:
    """The creator still has a data key that decrypts their backups (erasure wants none)."""
    key = data_key_state(creator_id=creator_id)
    return key is not None and key.destroyed_at is None


def backup_objects_deleted(*, backup_refs: list[str]) -> dict[str, int]:
    """backup id -> objects its deletion removed (what an erasure receipt states)."""
    ids = [int(r) for r in backup_refs if str(r).isdigit()]
    return {
        str(pk): n
        for pk, n in NamespaceBackup.objects.filter(pk__in=ids).values_list("pk", "objects_deleted")
    }
