"""The vector layer's errors. Callers never see SDK or sqlite3 exception classes: every backend
maps its failures onto these, so retry and erasure logic is written once."""

from __future__ import annotations


class VectorError(Exception):
    """Base class of every error the vector layer raises."""


class NotFound(VectorError):
    """The namespace (or other named resource) does not exist."""


class InvalidRequest(VectorError):
    """The request breaks a rule of the index (limits, dimension, filter syntax). Retrying the
    same request can never succeed."""


class NamespaceExists(InvalidRequest):
    """An explicit namespace creation named a namespace that exists already (HTTP 409)."""


class RateLimited(VectorError):
    """The index asked us to slow down (HTTP 429). `retry_after` is the server's hint in seconds,
    when it sent one."""

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(VectorError):
    """A failure that may go away on retry: 5xx, timeouts, dropped connections, a locked store."""


class ConfigurationError(VectorError):
    """The configured index does not match what is stored (dimension, metric), or the backend
    settings are unusable. Fix the settings; retrying will not help."""
