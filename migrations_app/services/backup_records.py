"""Backups as erasure sees them: every backup of a creator's data, and its audited deletion."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from migrations_app import backups
from migrations_app.models import NamespaceBackup
from twinadmin.audit.services import audit_record

# -- backups (the interface erasure uses) -------------------------------------------------------


def backups_for_creator(*, creator_id: str) -> QuerySet[NamespaceBackup]:
    """Every backup holding this creator's data whose files may still exist (incomplete ones
    included: a worker killed mid-write leaves files too)."""
    return NamespaceBackup.objects.filter(creator_id=creator_id).exclude(
        status=NamespaceBackup.Status.DELETED
    )


def backup_delete(
    *, backup: NamespaceBackup, actor: Any, reason: str, correlation_id: str | uuid.UUID | None = None
) -> NamespaceBackup:
    """Remove a backup's files (and any partial directory) and mark it deleted. Audited before
    and after, under `correlation_id` when the deletion is part of a larger operation (an
    erasure); deleting a deleted backup changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a reason is required to delete a backup")
    backup = NamespaceBackup.objects.get(pk=backup.pk)
    if backup.status == NamespaceBackup.Status.DELETED:
        return backup
    details = {
        "path": backup.path,
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
        removed = backups.remove_backup_files(Path(backup.path))
    except OSError as exc:
        audit_record(**common, outcome="failure", details={**details, "error": str(exc)})
        raise
    NamespaceBackup.objects.filter(pk=backup.pk).update(
        status=NamespaceBackup.Status.DELETED, deleted_at=timezone.now(), deleted_reason=reason[:500]
    )
    audit_record(**common, outcome="success", details={**details, "files_removed": removed})
    backup.refresh_from_db()
    return backup
