"""Query-latency reports: what a `query_latency` job measured, per namespace and overall."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from twinadmin.jobs.models import Job


class Recall(models.TextChoices):
    EXACT = "exact", "exact search (recall 1 by construction)"
    MEASURED = "measured", "measured against brute force"
    SKIPPED = "skipped", "not measured (namespace too large)"
    PARTIAL = "partial", "measured on some namespaces only"
    EMPTY = "empty", "no queries"


class LatencyFigures(models.Model):
    """Milliseconds, null until measured (or when nothing was queried), and recall@k."""

    query_count = models.PositiveIntegerField(default=0)
    p50_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    p99_ms = models.FloatField(null=True, blank=True)
    max_ms = models.FloatField(null=True, blank=True)
    mean_ms = models.FloatField(null=True, blank=True)
    recall = models.CharField(max_length=20, choices=Recall.choices, blank=True)
    recall_at_k = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True


class LatencyReport(LatencyFigures):
    """One run of the latency job. Created with its Job, filled in when the job finishes; the
    figures are in milliseconds and are null until then (or when nothing was queried)."""

    Recall = Recall

    job = models.OneToOneField(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="latency_report"
    )
    label = models.CharField(max_length=200, blank=True)
    creator_id = models.CharField(max_length=64, blank=True)
    # Explicit namespaces asked for ([] with creator_id or for "every namespace in the index").
    requested_namespaces = models.JSONField(default=list, blank=True)
    backend = models.CharField(max_length=20, blank=True)
    metric = models.CharField(max_length=20, blank=True)
    dimension = models.PositiveIntegerField(null=True, blank=True)
    queries_per_namespace = models.PositiveIntegerField()
    top_k = models.PositiveIntegerField()
    seed = models.BigIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"latency report #{self.pk}{f' ({self.label})' if self.label else ''}"

    def get_absolute_url(self) -> str:
        return reverse("search-report-detail", args=[self.pk])

    @property
    def scope(self) -> str:
        if self.creator_id:
            return f"creator {self.creator_id}"
        if self.requested_namespaces:
            return f"{len(self.requested_namespaces)} namespace(s)"
        return "every namespace in the index"

    @property
    def is_finished(self) -> bool:
        """Finished when its job ended (a report made without a job is written whole)."""
        return self.job is None or self.job.is_finished

    @property
    def succeeded(self) -> bool:
        return self.finished_at is not None


class LatencyNamespace(LatencyFigures):
    """One namespace's figures within a report."""

    report = models.ForeignKey(LatencyReport, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField()
    namespace = models.CharField(max_length=512)
    kind = models.CharField(max_length=20, blank=True)
    twin_id = models.CharField(max_length=64, blank=True)
    vector_count = models.PositiveBigIntegerField(default=0)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["report", "position"]
        constraints = [
            models.UniqueConstraint(fields=["report", "namespace"], name="latency_row_unique_namespace")
        ]

    def __str__(self) -> str:
        return self.namespace
