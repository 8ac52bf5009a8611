"""The registry: creators and their twins, mirroring the index's namespaces, plus the stored
snapshot of what the index held when it was last observed (IndexNamespace)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from twinadmin.registry import codec

# The same rule as the codec, enforced by the database too (Django registers REGEXP on SQLite).
_ID_REGEX = rf"^{codec.ID_PATTERN}$"


class CreatorStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ERASURE_PENDING = "erasure-pending", "Erasure pending"
    ERASED = "erased", "Erased"


class TwinStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DELETING = "deleting", "Deleting"
    DELETED = "deleted", "Deleted"


class Creator(models.Model):
    Status = CreatorStatus

    creator_id = models.CharField(max_length=codec.MAX_ID_LENGTH, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    # Last number handed out by the `sequential` twin naming policy; bumped under a row lock.
    twin_sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["creator_id"]
        constraints = [
            models.CheckConstraint(condition=Q(creator_id__regex=_ID_REGEX), name="creator_id_valid"),
            models.CheckConstraint(condition=Q(status__in=CreatorStatus.values), name="creator_status_valid"),
        ]

    def __str__(self) -> str:
        return self.creator_id

    @property
    def namespace(self) -> str:
        return codec.creator_namespace(self.creator_id)


class Twin(models.Model):
    Status = TwinStatus

    class Naming(models.TextChoices):
        UUID = "uuid", "UUID"
        SEMANTIC = "semantic", "Semantic (slug of the name)"
        SEQUENTIAL = "sequential", "Sequential (001, 002, …)"
        LEGACY = "legacy", "Legacy namespace UUID"
        ADOPTED = "adopted", "Adopted from an orphan namespace"

    # Policies a person picks for a new twin; the others record how a twin came to be.
    USER_POLICIES = (Naming.UUID, Naming.SEMANTIC, Naming.SEQUENTIAL)

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="twins")
    twin_id = models.CharField(max_length=codec.MAX_ID_LENGTH)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    naming = models.CharField(max_length=20, choices=Naming.choices, default=Naming.UUID)
    legacy_namespace = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH, blank=True, default="")
    vector_count = models.PositiveBigIntegerField(null=True, blank=True)
    count_observed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["creator__creator_id", "twin_id"]
        constraints = [
            models.UniqueConstraint(fields=["creator", "twin_id"], name="twin_unique_per_creator"),
            # One legacy namespace maps onto at most one twin.
            models.UniqueConstraint(
                fields=["legacy_namespace"], condition=~Q(legacy_namespace=""), name="twin_legacy_ns_unique"
            ),
            models.CheckConstraint(condition=Q(twin_id__regex=_ID_REGEX), name="twin_id_valid"),
            models.CheckConstraint(condition=Q(status__in=TwinStatus.values), name="twin_status_valid"),
        ]
        indexes = [
            # The partial unique index above cannot serve `legacy_namespace = <a namespace name>`
            # (neither database can prove the name is not ""); the drift report looks every
            # legacy namespace up this way.
            models.Index(fields=["legacy_namespace"], name="twin_legacy_ns"),
        ]

    def __str__(self) -> str:
        return self.namespace

    @property
    def namespace(self) -> str:
        return codec.twin_namespace(self.creator.creator_id, self.twin_id)


class IndexNamespace(models.Model):
    """One namespace as last observed in the vector index.

    The index can hold 25,000 namespaces; pages list, filter and count them from this table (one
    refresh job reads the index through the vector layer) instead of calling the index per view.
    Parsed owner ids are stored so that joins to the registry are plain indexed lookups.
    """

    name = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH, unique=True)
    kind = models.CharField(max_length=20, choices=[(k.value, k.value) for k in codec.NamespaceKind])
    creator_id = models.CharField(max_length=codec.MAX_ID_LENGTH, blank=True, default="")
    twin_id = models.CharField(max_length=codec.MAX_ID_LENGTH, blank=True, default="")
    vector_count = models.PositiveBigIntegerField(default=0)
    observed_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["kind", "name"], name="indexns_kind_name"),
            models.Index(fields=["creator_id", "twin_id"], name="indexns_owner"),
        ]

    def __str__(self) -> str:
        return self.name


class IndexSnapshot(models.Model):
    """Singleton-ish summary of the last refresh: when, dimension, totals (cheap for the overview)."""

    observed_at = models.DateTimeField()
    dimension = models.PositiveIntegerField(default=0)
    metric = models.CharField(max_length=20, blank=True)
    total_vector_count = models.PositiveBigIntegerField(default=0)
    namespace_count = models.PositiveIntegerField(default=0)

    class Meta:
        get_latest_by = "observed_at"

    def __str__(self) -> str:
        return f"{self.namespace_count} namespaces, {self.total_vector_count} vectors at {self.observed_at}"


__all__ = ["Creator", "Twin", "IndexNamespace", "IndexSnapshot"]
