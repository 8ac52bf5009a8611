"""Fault injection: what the server does wrong on purpose, decided before a request touches the
store, so a failed request never half-applies."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from .. import limits
from .protocol import ApiError

WRITE_ROUTES = {
    ("POST", "/vectors/upsert"): "upsert",
    ("POST", "/vectors/update"): "update",
    ("POST", "/vectors/delete"): "delete",
}
WRITE_OPERATIONS = frozenset(WRITE_ROUTES.values())


@dataclass(frozen=True)
class FaultConfig:
    """What the server does wrong on purpose. Shares are probabilities per request."""

    fail_429: float = 0.0
    fail_503: float = 0.0
    latency_ms: float = 0.0
    count_lag_seconds: float = 0.0
    retry_after: float = 1.0  # seconds sent in Retry-After with 429 and 503
    seed: int | None = None
    # A partial outage: every write of `outage_operations` (upsert, update, delete; a namespace
    # delete is a delete) naming one of these namespaces is answered 503, from the first such
    # request on for `outage_seconds` (0: until the faults are changed). Reads keep working.
    outage_namespaces: frozenset[str] = frozenset()
    outage_operations: frozenset[str] = WRITE_OPERATIONS
    outage_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not (0 <= self.fail_429 <= 1 and 0 <= self.fail_503 <= 1 and self.fail_429 + self.fail_503 <= 1):
            raise ValueError("fail_429 and fail_503 are shares between 0 and 1 that sum to at most 1")
        if (
            self.latency_ms < 0
            or self.count_lag_seconds < 0
            or self.retry_after < 0
            or self.outage_seconds < 0
        ):
            raise ValueError("latency, lag, retry_after and outage_seconds cannot be negative")
        if isinstance(self.outage_namespaces, str):
            raise ValueError("outage_namespaces is a collection of namespace names, not one string")
        names = frozenset(limits.normalize_namespace(name) for name in self.outage_namespaces)
        object.__setattr__(self, "outage_namespaces", names)
        operations = frozenset(self.outage_operations)
        if isinstance(self.outage_operations, str) or not operations <= WRITE_OPERATIONS:
            raise ValueError(f"outage_operations are some of {', '.join(sorted(WRITE_OPERATIONS))}")
        object.__setattr__(self, "outage_operations", operations)


class FaultInjector:
    """A FaultConfig in force, with the state it needs: the seeded random draws and when the
    outage began. Shared by the server's request threads."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()
        self._outage_began: float | None = None

    def change(self, **changes: Any) -> FaultConfig:
        """Replace fields of the config; a new seed restarts the draws, a changed outage starts
        again at its next request."""
        self.config = replace(self.config, **changes)
        if "seed" in changes:
            with self._lock:
                self._rng = random.Random(self.config.seed)
        if {"outage_namespaces", "outage_operations", "outage_seconds"} & set(changes):
            with self._lock:
                self._outage_began = None
        return self.config

    def before_request(self) -> None:
        """Latency and injected failures, decided before the store is touched."""
        faults = self.config
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if not (faults.fail_429 or faults.fail_503):
            return
        with self._lock:
            roll = self._rng.random()
        retry_after = {"Retry-After": f"{faults.retry_after:g}"}
        if roll < faults.fail_429:
            raise ApiError(429, "Too many requests (injected by pinecone_local)", retry_after)
        if roll < faults.fail_429 + faults.fail_503:
            raise ApiError(503, "Service unavailable (injected by pinecone_local)", retry_after)

    def refuse_during_outage(self, method: str, path: str, namespace: str) -> None:
        """503 for a write to a namespace under an injected outage, before the store is touched."""
        faults = self.config
        if not faults.outage_namespaces:
            return
        operation = "delete" if method == "DELETE" else WRITE_ROUTES.get((method, path))
        if operation not in faults.outage_operations:
            return
        if limits.normalize_namespace(namespace) not in faults.outage_namespaces:
            return
        now = time.monotonic()
        with self._lock:
            if self._outage_began is None:
                self._outage_began = now
            began = self._outage_began
        if faults.outage_seconds and now - began >= faults.outage_seconds:
            return
        raise ApiError(
            503,
            f"Namespace {limits.normalize_namespace(namespace)!r} is unavailable for {operation}s "
            "(outage injected by pinecone_local)",
            {"Retry-After": f"{faults.retry_after:g}"},
        )
