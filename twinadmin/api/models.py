"""The product's way in: service tokens (ApiClient), the results of write calls kept per
Idempotency-Key, a rate-limit counter per client, and webhook endpoints with their deliveries.

Tokens are stored as SHA-256 digests only: a token is 32 random bytes, so a plain hash cannot be
brute-forced and a lookup by digest is one indexed query (a slow password hash would cost a
quarter of a second on every call). The first characters are kept in clear to tell tokens apart.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

SCOPES = (
    ("registry:read", "Read creators and twins"),
    ("registry:write", "Create creators and twins"),
    ("twins:delete", "Request twin deletions"),
    ("erasure:request", "File erasure requests"),
    ("erasure:read", "Read erasure requests and receipts"),
    ("webhooks:write", "Register webhook endpoints"),
)
SCOPE_NAMES = tuple(name for name, _ in SCOPES)
EVENTS = ("erasure.approved", "erasure.completed", "erasure.failed", "twin.deleted")


class ApiClient(models.Model):
    name = models.CharField(max_length=100, unique=True)
    token_prefix = models.CharField(max_length=16)
    token_sha256 = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_name = models.CharField(max_length=200)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(name__regex=r"^[a-z0-9][a-z0-9._-]*$"), name="api_client_name_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def actor(self) -> str:
        """Whom the audit log names for this client's calls."""
        return f"api:{self.name}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first result of a write call under one Idempotency-Key. The unique constraint is what
    makes a concurrent second call wait: its insert blocks on the first's uncommitted row and
    fails once that commits, and it then answers with the stored result."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="api_idempotency_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or 'running'})"


class RateWindow(models.Model):
    """Calls of one client in one fixed window (its start, epoch seconds). In the database, not a
    process's memory: every web host counts against the same window."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    window_start = models.BigIntegerField()
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "window_start"], name="api_rate_window_unique")
        ]

    def __str__(self) -> str:
        return f"{self.calls} calls from {self.window_start}"


class WebhookEndpoint(models.Model):
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    # The HMAC key receivers verify with; shown once when the endpoint is registered. It has to
    # be kept in clear: deliveries are signed with it.
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    event_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    event = models.CharField(max_length=40)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    log = models.JSONField(default=list)  # one entry per attempt: at, status code or error
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id} ({self.status})"
