"""One run of the erasure drill: what it did, step by step, and whether the erasure path held."""

from __future__ import annotations

from django.db import models

from twinadmin.jobs.models import Job


class DrillRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    creator_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    # [{"name", "ok", "seconds", "detail"}, ...] in the order the steps ran.
    steps = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    actor = models.CharField(max_length=200, blank=True)
    job = models.OneToOneField(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="drill_run"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"erasure drill #{self.pk} ({self.status})"

    @property
    def passed(self) -> bool:
        return self.status == self.Status.PASSED

    @property
    def seconds(self) -> float | None:
        if not (self.started_at and self.finished_at):
            return None
        return (self.finished_at - self.started_at).total_seconds()
