from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Job(models.Model):
    """A unit of background work. The task claims the row, the handler records progress on it,
    and pages poll it. Kinds are registered by the apps that own them (twinadmin.jobs.handlers)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    # The params key of a job paused on purpose (services.JobPaused): pending, but nobody's lost
    # message, so the sweep leaves it alone.
    PAUSED = "paused"

    kind = models.CharField(max_length=50, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    correlation_id = models.UUIDField(default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the job's latest message was handed to the broker (for a delayed one: when it falls
    # due). The sweep re-sends a pending job only once this is older than a grace period, so a
    # message lost with a broker restarted empty is sent again once, not on every sweep.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at"], name="job_created_desc")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("jobs-job-detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        """Pages stop polling once this is true."""
        return self.status in self.FINISHED

    @property
    def can_retry(self) -> bool:
        from twinadmin.jobs.handlers import is_retryable

        return self.status in (self.Status.FAILED, self.Status.CANCELLED) and is_retryable(self.kind)

    @property
    def can_cancel(self) -> bool:
        """Only a job that has not started can be cancelled (running ones stop at their own
        checkpoints, finished ones are history), and never one of a kind that carries out an
        approval made elsewhere (an approved erasure; see `job_handler(cancellable=False)`)."""
        from twinadmin.jobs.handlers import is_cancellable

        return self.status == self.Status.PENDING and is_cancellable(self.kind)

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        from django.utils import timezone

        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class JobLease(models.Model):
    """Who runs a resumable job, and until when that claim holds without being renewed.

    The job row's PENDING -> RUNNING claim says *that* a job started; the lease says whether its
    runner is still alive. A worker killed mid-job leaves the job RUNNING with a lease that stops
    being renewed; once it lapses the sweeper (or any delivery) hands the work to a new job that
    continues from the owning app's checkpoints (see `leases.py`)."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, primary_key=True, related_name="lease")
    owner = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()
    # Set when the job was taken over: the job that continues its work.
    continued_by = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"lease on job {self.job_id} by {self.owner or '-'} until {self.expires_at}"
