"""Lineage: every copy the project makes of a creator's vectors, recorded when it is made.

A migration reads a legacy namespace (a bare UUID, or the shared `__default__`) into a backup and
copies it into the creator's layout; with "sources kept" the vectors then live in two places. A
rollback writes a backup back into its source. Each such copy is one `Lineage` row (source,
target, run, creator) with one `LineageVector` per vector id and its digest, so that erasing
the creator can find every copy again and, from a shared source such as `__default__`, delete
exactly the ids that were the creator's and nothing written there since.

Rows are kept after an erasure (`erased_at`, the request that erased them): they are the
evidence of what was copied, and they hold ids and digests only, never values or metadata.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from twinadmin.registry import codec


class Lineage(models.Model):
    class Kind(models.TextChoices):
        # source namespace -> backup (and, for a copy item, -> target namespace)
        MIGRATION = "migration", "Migration copy"
        # backup -> source namespace again (rollback of a deleted source)
        RESTORE = "restore", "Rollback restore"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    creator_id = models.CharField(max_length=codec.MAX_ID_LENGTH, db_index=True)
    # The legacy namespace that holds (or held) the vectors outside the creator's own layout.
    source_namespace = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH, db_index=True)
    # The creator's namespace the vectors were copied into; empty when only backed up (the
    # `__default__` "delete after backup" policy) or for a restore.
    target_namespace = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH, blank=True)
    run = models.ForeignKey(
        "migrations_app.NamespaceMigration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    item = models.ForeignKey(
        "migrations_app.MigrationItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    backup_ref = models.CharField(max_length=100, blank=True)
    vector_count = models.PositiveBigIntegerField(default=0)
    # All of the source's ids are recorded (the backup that read them completed).
    complete = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    erased_by_request = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["source_namespace", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "kind"], condition=Q(item__isnull=False), name="lineage_once_per_item_kind"
            ),
        ]
        indexes = [models.Index(fields=["source_namespace", "erased_at"], name="lineage_source_live")]

    def __str__(self) -> str:
        arrow = self.target_namespace or "backup"
        return f"{self.source_namespace} -> {arrow} ({self.creator_id}, {self.vector_count} ids)"


class LineageVector(models.Model):
    """One copied vector: its id and the digest it had when copied (checksums.vector_digest)."""

    lineage = models.ForeignKey(Lineage, on_delete=models.CASCADE, related_name="vectors")
    vector_id = models.CharField(max_length=512)
    digest = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lineage", "vector_id"], name="lineage_vector_once"),
        ]

    def __str__(self) -> str:
        return self.vector_id
