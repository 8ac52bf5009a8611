from __future__ import annotations

from typing import Any

from django.db import models

from twinadmin.audit.chain import GENESIS_HASH, HASHED_FIELDS, entry_digests, entry_hash


class AuditLogImmutable(Exception):
    """Raised on any attempt to change or remove an audit entry through the ORM."""


class AuditEntryQuerySet(models.QuerySet):
    """Entries are append-only: the ORM paths that change or remove rows refuse. (Raw SQL and a
    plain QuerySet are stopped by triggers, twinadmin.audit.dbguard; what the table's owner does
    anyway is caught by `audit_verify` against signed checkpoints.)"""

    def update(self, **kwargs: Any) -> int:
        raise AuditLogImmutable("audit entries cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogImmutable("audit entries cannot be deleted")

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AuditLogImmutable("audit entries cannot be updated")

    # The private paths Model.save_base (an UPDATE) and the deletion collector (a fast DELETE)
    # take, so skipping AuditEntry.save/delete does not get past the ORM either.
    def _update(self, values: Any) -> Any:
        raise AuditLogImmutable("audit entries cannot be updated")

    def _raw_delete(self, using: Any) -> int:
        raise AuditLogImmutable("audit entries cannot be deleted")

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        """Inserts only: an upsert (`update_conflicts`) would overwrite existing entries."""
        if kwargs.get("update_conflicts") or kwargs.get("update_fields"):
            raise AuditLogImmutable("audit entries cannot be updated (no upserts)")
        return super().bulk_create(objs, *args, **kwargs)


class AuditEntry(models.Model):
    """One link of the append-only, hash-chained audit log. Written only by
    `twinadmin.audit.services.audit_record`."""

    class TargetType(models.TextChoices):
        CREATOR = "creator"
        TWIN = "twin"
        NAMESPACE = "namespace"
        BACKUP = "backup"
        RUN = "run"
        REQUEST = "request"
        INDEX = "index"
        JOB = "job"
        ACCOUNT = "account"

    class Outcome(models.TextChoices):
        INTENT = "intent"
        SUCCESS = "success"
        FAILURE = "failure"
        INFO = "info"

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=20, choices=TargetType.choices)
    target_id = models.CharField(max_length=512, blank=True)
    creator_id = models.CharField(max_length=100, blank=True)
    correlation_id = models.UUIDField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)
    # The entry's RFC 9162 leaf hash, stored so roots and proofs read 32 bytes an entry instead of
    # re-encoding every entry. Verification never trusts it: it recomputes leaves from content.
    leaf_hash = models.CharField(max_length=64, default="")
    # HMAC-SHA256 of entry_hash under a key derived from the signing key (keys.entry_mac): only a
    # process holding the key file can write an entry the next checkpoint will sign. Empty when
    # the writer had no key (before `audit_keygen`).
    entry_mac = models.CharField(max_length=64, default="", blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "audit entries"
        # Django's internal paths (save_base, related look-ups) use the base manager: make it the
        # refusing one, or `_base_manager.update()` would write.
        base_manager_name = "objects"
        # Each filter of the auditor pages is an index ending in seq, so "the newest 50 entries
        # with action X older than seq N" is one index range scan, however many rows match.
        # On PostgreSQL the action index uses pattern ops, so `action LIKE 'x%'` (the prefix
        # filter) can use it under any collation; other databases ignore opclasses.
        indexes = [
            models.Index(
                fields=["action", "seq"],
                name="audit_action_seq",
                opclasses=["varchar_pattern_ops", "int8_ops"],
            ),
            models.Index(fields=["actor", "seq"], name="audit_actor_seq"),
            models.Index(fields=["creator_id", "seq"], name="audit_creator_seq"),
            models.Index(fields=["target_type", "seq"], name="audit_target_type_seq"),
            models.Index(fields=["target_id", "seq"], name="audit_target_id_seq"),
            models.Index(fields=["outcome", "seq"], name="audit_outcome_seq"),
            models.Index(fields=["correlation_id", "seq"], name="audit_correlation_seq"),
            models.Index(fields=["at", "seq"], name="audit_at_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_type}:{self.target_id} ({self.outcome})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogImmutable("audit entries cannot be updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogImmutable("audit entries cannot be deleted")

    def compute_hash(self) -> str:
        """The hash this row's content calls for; differs from `entry_hash` once the row has
        been edited behind the ORM's back."""
        return entry_hash(**{f: getattr(self, f) for f in HASHED_FIELDS})

    def compute_digests(self) -> tuple[str, str]:
        """(entry_hash, leaf_hash) this row's content calls for, from one encoding."""
        return entry_digests(**{f: getattr(self, f) for f in HASHED_FIELDS})


class AuditHead(models.Model):
    """The chain's head in one row (pk 1): the last seq and its hash. An append locks this row
    (SELECT ... FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transactions already serialise
    writers), so two writers can never both extend the same entry and fork the chain."""

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    # The newest entry's timestamp: the next may not be earlier (see audit_record).
    last_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"audit head #{self.last_seq} {self.last_hash[:12]}"
