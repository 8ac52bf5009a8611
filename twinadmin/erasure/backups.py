"""Erasure's side of namespace migrations: cancel the creator's migrations first (so no copy
writes their namespaces again), destroy the creator's backup data key (so every copy of their
backups, wherever one survives, is unreadable) and delete every backup holding their data. The
migrations app owns migrations, backups and keys; this module calls its services and records
what they did."""

from __future__ import annotations

import time
from typing import Any

from migrations_app.models import NamespaceBackup
from migrations_app.services import (
    backup_delete,
    backups_for_creator,
    migration_cancel_for_creator,
    migrations_still_running,
)
from migrations_app.services.backup_records import backup_key_live, data_key_destroy
from twinadmin.erasure.models import ErasureBackup, ErasureRequest

_ACTIONS: dict[str, str] = {
    NamespaceBackup.Status.DELETED: ErasureBackup.Action.DELETED,
    NamespaceBackup.Status.NEVER_RESTORABLE: ErasureBackup.Action.NEVER_RESTORABLE,
}


def migrations_cancel(*, erasure: ErasureRequest, actor: Any, wait_seconds: float = 60.0) -> list[int]:
    """Cancel every migration run that could still write the creator's namespaces, then wait
    (bounded) for live runners to reach their next checkpoint and stop: a copy in flight may
    still be recording lineage, and the scope is read after this."""
    cancelled = migration_cancel_for_creator(
        creator_id=erasure.creator_id,
        actor=actor,
        reason=f"erasure request #{erasure.pk} of {erasure.creator_id}",
        correlation_id=erasure.correlation_id,
    )
    deadline = time.monotonic() + wait_seconds
    while migrations_still_running(creator_id=erasure.creator_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    return cancelled


def backups_handle(*, erasure: ErasureRequest, actor: Any) -> list[ErasureBackup]:
    """Delete every backup of the creator's data (restorable or not: a partial one still holds
    vectors on disk) and record each on the request, with its status before and its expiry.
    Idempotent: a retry records the backups it still finds and keeps the earlier records."""
    # The key first: from here on no copy of the creator's backups decrypts, whatever becomes of
    # the deletions below (a store that refuses them, a crash: the retry deletes what is left).
    data_key_destroy(
        creator_id=erasure.creator_id,
        actor=actor,
        reason=f"erasure request #{erasure.pk}",
        correlation_id=erasure.correlation_id,
    )
    recorded = {b.backup_ref: b for b in erasure.backups.all()}
    handled = []
    for backup in backups_for_creator(creator_id=erasure.creator_id):
        ref = str(backup.pk)
        status_before = recorded[ref].status_before if ref in recorded else backup.status
        error = ""
        try:
            backup = backup_delete(
                backup=backup,
                actor=actor,
                reason=f"erasure request #{erasure.pk}",
                correlation_id=erasure.correlation_id,
            )
        except Exception as exc:  # recorded and shown; verification then fails the request
            error = f"{type(exc).__name__}: {exc}"
        row, _ = ErasureBackup.objects.update_or_create(
            request=erasure,
            backup_ref=ref,
            defaults={
                "source_namespace": backup.source_namespace,
                "path": backup.location,
                "size_bytes": backup.size_bytes,
                "checksum": backup.checksum,
                "status_before": status_before,
                "action": ErasureBackup.Action.FAILED if error else _ACTIONS.get(backup.status, "failed"),
                "expires_at": backup.expires_at,
                "error": error,
            },
        )
        handled.append(row)
    return handled


def backups_remaining(*, creator_id: str) -> list[str]:
    """Backups of the creator whose objects may still exist, and their data key while it is not
    destroyed (verification wants none)."""
    left = [str(pk) for pk in backups_for_creator(creator_id=creator_id).values_list("pk", flat=True)]
    if backup_key_live(creator_id=creator_id):
        left.append("data key")
    return left
