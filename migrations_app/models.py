"""Namespace migrations: moving legacy index namespaces (bare UUIDs, `__default__`) into the
creator/twin layout. Not Django schema migrations: a `NamespaceMigration` is one *run* of the
data move, a `MigrationItem` is one source -> target namespace inside it, a `NamespaceBackup` is
the Parquet copy of a source taken before anything is written.

The rows are the job's state: every phase reads what it must do from them and writes its
checkpoints back, so a killed worker or a re-run continues where the rows say it stopped.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from twinadmin.jobs.models import Job
from twinadmin.registry import codec

_USER = settings.AUTH_USER_MODEL


_RUN_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "rolling-back", "rolled-back"]


class NamespaceMigration(models.Model):
    """One run: a saved plan and its execution (backup -> copy -> verify -> cut-over)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Cut over, verified"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        ROLLING_BACK = "rolling-back", "Rolling back"
        ROLLED_BACK = "rolled-back", "Rolled back"

    class Phase(models.TextChoices):
        BACKUP = "backup", "Backup"
        COPY = "copy", "Copy"
        VERIFY = "verify", "Verify"
        CUTOVER = "cutover", "Cut over"
        DONE = "done", "Done"
        ROLLBACK = "rollback", "Roll back"

    class DefaultPolicy(models.TextChoices):
        CREATOR = "creator", "Copy into the creator-wide namespace"
        TWIN = "twin", "Copy into a new twin"
        KEEP = "keep", "Keep as is"
        DELETE = "delete", "Delete (after backup)"

    class Naming(models.TextChoices):
        UUID = "uuid", "Keep the legacy UUID as the twin id"
        SEMANTIC = "semantic", "Semantic (slug of the name)"
        SEQUENTIAL = "sequential", "Sequential (001, 002, …)"

    # States in which the run may still write to the index (the page polls, cancel applies).
    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.ROLLING_BACK)
    FORWARD_PHASES = (Phase.BACKUP, Phase.COPY, Phase.VERIFY, Phase.CUTOVER)

    creator_id = models.CharField(max_length=codec.MAX_ID_LENGTH, db_index=True)
    # The plan registered the creator; rollback removes it again when nothing else uses it.
    created_creator = models.BooleanField(default=False)
    naming = models.CharField(max_length=20, choices=Naming.choices, default=Naming.UUID)
    default_policy = models.CharField(
        max_length=20, choices=DefaultPolicy.choices, default=DefaultPolicy.CREATOR
    )
    delete_source = models.BooleanField(default=False)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    phase = models.CharField(max_length=20, choices=Phase.choices, default=Phase.BACKUP)
    # How many jobs have carried the run: the first, then one per resume, rollback or take-over
    # after a worker died. The job (`job`, the current one) and its lease are the fence.
    attempt = models.PositiveIntegerField(default=1)
    cancel_requested = models.BooleanField(default=False)

    requested_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who asked, as the audit log names them: a username or `cli:<command>`.
    requested_by_name = models.CharField(max_length=200)
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    correlation_id = models.UUIDField(default=uuid.uuid4, editable=False)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=_RUN_STATUSES), name="nsmigration_status_valid"),
        ]

    def __str__(self) -> str:
        return f"migration run {self.pk} -> {self.creator_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("migrations-run-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        """Pages keep polling while a worker may still change the rows."""
        return self.status in self.ACTIVE

    @property
    def can_cancel(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING, self.Status.FAILED) and not (
            self.cancel_requested and self.status != self.Status.FAILED
        )

    @property
    def can_resume(self) -> bool:
        """Failed or cancelled runs continue from their checkpoints. A running run whose worker
        died continues by itself (the jobs sweep); the service also resumes it on request."""
        return self.status in (self.Status.FAILED, self.Status.CANCELLED)

    @property
    def can_rollback(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELLED)


class MigrationItem(models.Model):
    """One source namespace of a run and what happens to it (a step of the run)."""

    class Action(models.TextChoices):
        COPY = "copy", "Copy"
        DELETE = "delete", "Delete after backup"

    class TargetKind(models.TextChoices):
        TWIN = "twin", "Twin"
        CREATOR_WIDE = "creator-wide", "Creator-wide"
        NONE = "", "—"

    class Step(models.TextChoices):
        PENDING = "pending", "Pending"
        BACKING_UP = "backing-up", "Backing up"
        BACKED_UP = "backed-up", "Backed up"
        COPYING = "copying", "Copying"
        COPIED = "copied", "Copied"
        VERIFYING = "verifying", "Verifying"
        VERIFIED = "verified", "Verified"
        CUTTING_OVER = "cutting-over", "Cutting over"
        CUT_OVER = "cut-over", "Cut over"
        FAILED = "failed", "Failed"
        ROLLING_BACK = "rolling-back", "Rolling back"
        ROLLED_BACK = "rolled-back", "Rolled back"

    run = models.ForeignKey(NamespaceMigration, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    source_namespace = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.COPY)
    target_namespace = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH, blank=True)
    target_kind = models.CharField(max_length=20, choices=TargetKind.choices, blank=True)
    twin_id = models.CharField(max_length=codec.MAX_ID_LENGTH, blank=True)
    twin_name = models.CharField(max_length=200, blank=True)
    twin_naming = models.CharField(max_length=20, blank=True)
    # Holds this source (and target) for the run: the partial unique constraints below make
    # "one active run per source namespace" a database fact, not a check that can race.
    active = models.BooleanField(default=True)

    step = models.CharField(max_length=20, choices=Step.choices, default=Step.PENDING)
    source_count = models.PositiveBigIntegerField(default=0)  # as seen when planned
    # Copy checkpoint: rows of the backup file (in file order) already upserted to the target.
    copied = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)  # rows in the backup
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    progress_started_at = models.DateTimeField(null=True, blank=True)
    verified = models.BooleanField(null=True, blank=True)
    verification = models.JSONField(default=dict, blank=True)
    source_deleted = models.BooleanField(default=False)
    twin_created = models.BooleanField(default=False)
    registry_before = models.JSONField(default=dict, blank=True)
    restored = models.BooleanField(default=False)
    target_deleted = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "source_namespace"], name="migration_item_source_once"),
            models.UniqueConstraint(
                fields=["source_namespace"],
                condition=Q(active=True),
                name="migration_one_active_run_per_source",
            ),
            models.UniqueConstraint(
                fields=["target_namespace"],
                condition=Q(active=True) & ~Q(target_namespace=""),
                name="migration_one_active_run_per_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_namespace} -> {self.target_namespace or '(delete)'}"

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def rate(self) -> float | None:
        """Vectors per second in the current step: what an operator uses to judge a stall."""
        if not self.progress_started_at or not self.progress_done:
            return None
        from django.utils import timezone

        seconds = (self.updated_at or timezone.now()) - self.progress_started_at
        elapsed = seconds.total_seconds()
        return self.progress_done / elapsed if elapsed > 0 else None

    @property
    def target_count(self) -> int | None:
        return self.verification.get("target_count") if self.verification else None


class NamespaceBackup(models.Model):
    """A Parquet + JSON manifest copy (vector-io's VDF layout) of one source namespace.

    It holds a creator's data, so erasure must find it: `creator_id` names whose data it is, and
    a row exists from the moment the first file is created (a worker killed mid-write leaves a
    partial directory that `backup_delete` still removes)."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        DELETED = "deleted", "Deleted"
        # Cannot be restored from: still being written, never completed, or failed its checksum.
        NEVER_RESTORABLE = "never_restorable", "Never restorable"

    run = models.ForeignKey(NamespaceMigration, on_delete=models.PROTECT, related_name="backups")
    item = models.OneToOneField(MigrationItem, on_delete=models.PROTECT, related_name="backup")
    creator_id = models.CharField(max_length=codec.MAX_ID_LENGTH, db_index=True)
    source_namespace = models.CharField(max_length=codec.MAX_NAMESPACE_LENGTH)
    # Where the backup lives, as a URL every worker host resolves the same way (`file:///…`,
    # `s3://bucket/prefix/…`; migrations_app/storage.py), never a path of one host's disk.
    location = models.CharField(max_length=1024)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.NEVER_RESTORABLE, db_index=True
    )
    complete = models.BooleanField(default=False)
    vector_count = models.PositiveBigIntegerField(default=0)
    dimension = models.PositiveIntegerField(default=0)
    metric = models.CharField(max_length=20, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    checksum = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_reason = models.CharField(max_length=500, blank=True)
    # How many objects the deletion removed from the store (what a receipt states).
    objects_deleted = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["available", "deleted", "never_restorable"]),
                name="nsbackup_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"backup of {self.source_namespace} for {self.creator_id} ({self.status})"


class CreatorBackupKey(models.Model):
    """A creator's data key for their backups (AES-256), stored only wrapped by the
    key-encryption key (`kek_id` names which). Erasing the creator destroys it: the wrapped key
    is overwritten and `destroyed_at` set, and no copy of their backups, wherever one survives,
    can be decrypted again. The row stays as the proof, and as a bar to new backups of them."""

    creator_id = models.CharField(max_length=codec.MAX_ID_LENGTH, unique=True)
    kek_id = models.CharField(max_length=64, blank=True)
    wrapped_key = models.BinaryField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)
    destroyed_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(destroyed_at__isnull=True) | Q(wrapped_key=b""),
                name="backupkey_destroyed_has_no_key",
            ),
        ]

    def __str__(self) -> str:
        state = f"destroyed {self.destroyed_at:%Y-%m-%d}" if self.destroyed_at else "live"
        return f"backup data key of {self.creator_id} ({state})"
