"""Twin deletions, creator erasure requests and what each erased, as lasting records.

Rows name creators and twins by their ids (strings), not by foreign keys to the registry: a
receipt must outlive the registry rows it talks about (`cleanup --all` removes those), and an id
is what auditors search for. Users are kept as a foreign key (for permission checks such as
"never approve your own") plus the name as it was, which survives the user being removed and
also holds `cli:<command>` when a shell did it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from twinadmin.jobs.models import Job
from twinadmin.registry import codec

_USER = settings.AUTH_USER_MODEL


class TwinDeletion(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Running"
        VERIFIED = "verified", "Deleted and verified"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.PENDING, Status.RUNNING)

    creator_id = models.CharField(max_length=codec.MAX_ID_LENGTH, db_index=True)
    twin_id = models.CharField(max_length=codec.MAX_ID_LENGTH)
    namespace = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=200)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    count_before = models.PositiveBigIntegerField(null=True, blank=True)
    count_after = models.PositiveBigIntegerField(null=True, blank=True)
    # "deleted" when this run removed the namespace, "not_found" when it was already gone.
    delete_outcome = models.CharField(max_length=20, blank=True)
    verification = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One deletion in flight per twin; filing again while one runs returns that one.
            models.UniqueConstraint(
                fields=["creator_id", "twin_id"],
                condition=Q(status__in=["pending", "running"]),
                name="erasure_one_active_twin_deletion",
            )
        ]

    def __str__(self) -> str:
        return f"delete {self.namespace} ({self.status})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("erasure-twin-deletion-detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        """Pages stop polling once this is true."""
        return self.status in (self.Status.VERIFIED, self.Status.FAILED)


class ErasureRequestStatus(models.TextChoices):
    PENDING = "pending", "Awaiting approval"
    REJECTED = "rejected", "Rejected"
    APPROVED = "approved", "Approved, queued"
    RUNNING = "running", "Erasing"
    FAILED = "failed", "Not verified (retry)"
    COMPLETED = "completed", "Erased and verified"


# A creator has at most one of these at a time; a failed request stays open until retried to
# completion, so its failures stay visible.
OPEN_STATUSES = (
    ErasureRequestStatus.PENDING,
    ErasureRequestStatus.APPROVED,
    ErasureRequestStatus.RUNNING,
    ErasureRequestStatus.FAILED,
)


class ErasureRequest(models.Model):
    """A creator's right-to-erasure request, from filing through four-eyes approval to a
    verified erasure. The receipt is rendered from this row and its namespaces and backups."""

    Status = ErasureRequestStatus

    creator_id = models.CharField(max_length=codec.MAX_ID_LENGTH, db_index=True)
    reason = models.TextField()
    ticket_reference = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=20,
        choices=ErasureRequestStatus.choices,
        default=ErasureRequestStatus.PENDING,
        db_index=True,
    )
    correlation_id = models.UUIDField(default=uuid.uuid4, editable=False)

    requested_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=200)
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(_USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_by_name = models.CharField(max_length=200, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by_name = models.CharField(max_length=200, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_note = models.TextField(blank=True)

    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attempts = models.PositiveIntegerField(default=0)
    executor = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    verification = models.JSONField(default=dict, blank=True)
    # The audit entry that closed the request, and with it the chain's head at completion.
    audit_seq = models.BigIntegerField(null=True, blank=True)
    audit_head_hash = models.CharField(max_length=64, blank=True)
    # What the approver saw when approving (scope.py): read live from the index and the rows,
    # its digest recorded in the approval's audit entry. Whatever execution finds beyond it is
    # erased too and marked "found at execution".
    approved_scope = models.JSONField(default=dict, blank=True)
    approved_scope_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["creator_id"],
                condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
                name="erasure_one_open_request_per_creator",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ErasureRequestStatus.values), name="erasure_request_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"erasure #{self.pk} of {self.creator_id} ({self.status})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("erasure-request-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_active(self) -> bool:
        """Approved and not yet finished: pages poll while this holds."""
        return self.status in (self.Status.APPROVED, self.Status.RUNNING)

    def is_requested_by(self, user) -> bool:
        return user.pk is not None and user.pk == self.requested_by_id

    def can_be_decided_by(self, user) -> bool:
        """Four eyes: an approver who did not file the request. Whoever filed it may never
        approve or reject it, whatever their roles (a superuser included)."""
        from twinadmin.accounts.roles import APPROVERS, has_role

        return has_role(user, APPROVERS) and not self.is_requested_by(user)


class ErasureNamespace(models.Model):
    """One namespace an erasure request covers: how many vectors it held when found, what the
    delete did, and whether verification saw it gone. Doubles as the job's checkpoint: a resumed
    or retried job skips namespaces already deleted and verifies them again."""

    class Kind(models.TextChoices):
        CREATOR_WIDE = "creator-wide", "Creator-wide"
        TWIN = "twin", "Registry twin"
        ORPHAN = "orphan", "Not in the registry"
        # Lineage: a legacy namespace the creator's vectors were copied from (lineage.py).
        LEGACY_SOURCE = "legacy-source", "Legacy source (copied from)"
        # Lineage from the shared `__default__`: only the ids copied to this creator.
        DEFAULT_IDS = "default-ids", "Copied ids in __default__"

    LINEAGE_KINDS = (Kind.LEGACY_SOURCE, Kind.DEFAULT_IDS)

    class Mode(models.TextChoices):
        NAMESPACE = "namespace", "Whole namespace"
        IDS = "ids", "Copied ids only"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELETED = "deleted", "Deleted"
        NOT_FOUND = "not_found", "Not found"
        FAILED = "failed", "Failed"

    request = models.ForeignKey(ErasureRequest, on_delete=models.CASCADE, related_name="namespaces")
    name = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    twin_id = models.CharField(max_length=codec.MAX_ID_LENGTH, blank=True)
    count_before = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    delete_calls = models.PositiveIntegerField(default=0)
    # Lineage rows: how the source was erased, how many copied ids it was asked for, and how many
    # vectors that were not the creator's it still holds afterwards (kept, reported).
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.NAMESPACE)
    ids_targeted = models.PositiveBigIntegerField(null=True, blank=True)
    ids_present_before = models.PositiveBigIntegerField(null=True, blank=True)
    kept_after = models.PositiveBigIntegerField(null=True, blank=True)
    # Not in the scope the approver approved: found when the job ran (erased all the same).
    found_at_execution = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["request", "name"], name="erasure_namespace_once_per_request")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def is_lineage(self) -> bool:
        return self.kind in self.LINEAGE_KINDS


class ErasureBackup(models.Model):
    """A namespace-migration backup that held the creator's data, and what erasure did to it."""

    class Action(models.TextChoices):
        DELETED = "deleted", "Deleted"
        NEVER_RESTORABLE = "never_restorable", "Kept by policy, never restorable"
        FAILED = "failed", "Failed"

    request = models.ForeignKey(ErasureRequest, on_delete=models.CASCADE, related_name="backups")
    backup_ref = models.CharField(max_length=100)
    source_namespace = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH)
    path = models.CharField(max_length=1000, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    checksum = models.CharField(max_length=200, blank=True)
    status_before = models.CharField(max_length=30, blank=True)
    action = models.CharField(max_length=30, choices=Action.choices)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    handled_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source_namespace", "backup_ref"]
        constraints = [
            models.UniqueConstraint(fields=["request", "backup_ref"], name="erasure_backup_once_per_request")
        ]

    def __str__(self) -> str:
        return f"backup {self.backup_ref} of {self.source_namespace}: {self.action}"
