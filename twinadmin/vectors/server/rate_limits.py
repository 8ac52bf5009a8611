"""Pinecone's serverless rate limits, enforced by the server when asked (`--rate-limits`).

The numbers are those of Pinecone's "Database limits" page: query, upsert, delete and update 100
requests/s per namespace; fetch 100 and list 200 requests/s per index; describe_index_stats 100
requests/s per index; upsert 50 MB/s per namespace. Each is a token bucket per scope (one per
namespace, or one for the index) holding one second of its rate, so a burst of up to a second's
budget passes and a steady stream is held to the rate. A request beyond a budget is answered 429
with Retry-After (the seconds until the bucket has room again) and a message naming the limit,
before it touches the store; over gRPC it is RESOURCE_EXHAUSTED with the same message. One limiter
serves both transports, so REST and gRPC clients share every budget, as on Pinecone.

The per-request limits (1,000 ids per fetch or delete, 1,000 vectors and 2 MB per upsert) are
not rates: they are always enforced, by the store (`twinadmin.vectors.limits`).

A limits file (JSON, or TOML by its `.toml` suffix) holds some of the preset's keys with other
numbers; a key left out is not limited:

    {"fetch_per_index": 5, "upsert_bytes_per_namespace": 1048576}
"""

from __future__ import annotations

import json
import math
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import limits
from .protocol import ApiError

# key: (operation, scope, unit); operations as `app.ROUTES` names them.
LIMIT_KEYS: dict[str, tuple[str, str, str]] = {
    "query_per_namespace": ("query", "namespace", "requests"),
    "upsert_per_namespace": ("upsert", "namespace", "requests"),
    "delete_per_namespace": ("delete", "namespace", "requests"),
    "update_per_namespace": ("update", "namespace", "requests"),
    "fetch_per_index": ("fetch", "index", "requests"),
    "list_per_index": ("list", "index", "requests"),
    "describe_index_stats_per_index": ("describe_index_stats", "index", "requests"),
    "upsert_bytes_per_namespace": ("upsert", "namespace", "bytes"),
}
PRESETS: dict[str, dict[str, float]] = {
    "pinecone": {
        "query_per_namespace": 100,
        "upsert_per_namespace": 100,
        "delete_per_namespace": 100,
        "update_per_namespace": 100,
        "fetch_per_index": 100,
        "list_per_index": 200,
        "describe_index_stats_per_index": 100,
        "upsert_bytes_per_namespace": 50 * 1024 * 1024,
    },
}


@dataclass(frozen=True)
class RateLimits:
    """Per-second budgets by key of LIMIT_KEYS; a key absent is not limited."""

    rates: Mapping[str, float]

    def __post_init__(self) -> None:
        unknown = sorted(set(self.rates) - set(LIMIT_KEYS))
        if unknown:
            raise ValueError(
                f"unknown rate limit(s) {', '.join(unknown)}; known: {', '.join(sorted(LIMIT_KEYS))}"
            )
        for key, rate in self.rates.items():
            if (
                isinstance(rate, bool)
                or not isinstance(rate, int | float)
                or not math.isfinite(rate)
                or rate <= 0
            ):
                raise ValueError(f"rate limit {key} must be a positive number per second, got {rate!r}")
        object.__setattr__(self, "rates", {key: float(rate) for key, rate in self.rates.items()})

    @classmethod
    def load(cls, spec: str | Path) -> RateLimits:
        """A preset by name (`pinecone`) or a JSON/TOML file of limits."""
        if str(spec) in PRESETS:
            return cls(PRESETS[str(spec)])
        path = Path(spec)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(
                f"--rate-limits takes a preset ({', '.join(PRESETS)}) or a JSON/TOML file: {exc}"
            ) from exc
        try:
            data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(
                f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {exc}"
            ) from exc
        if not isinstance(data, dict):
            raise ValueError(f'{path}: expected an object of limits, e.g. {{"fetch_per_index": 100}}')
        return cls(data)


class TokenBucket:
    """`rate` tokens a second, holding at most one second's worth. Not thread-safe: the limiter
    holds its lock around every use."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = rate
        self._tokens = rate
        self._at = now

    def wait(self, cost: float, now: float) -> float:
        """Seconds until `cost` tokens can be taken (0: now). A cost above the capacity waits
        for a full bucket and then drives it into debt, so an oversized request is slowed, not
        refused forever."""
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        need = min(cost, self.capacity)
        return 0.0 if self._tokens >= need else (need - self._tokens) / self.rate

    def take(self, cost: float) -> None:
        self._tokens -= cost


class RateLimiter:
    """The buckets of a RateLimits, one per key and scope (a namespace, or the index)."""

    def __init__(self, config: RateLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._by_operation: dict[str, list[tuple[str, str, str, float]]] = {}
        self.config = config

    @property
    def config(self) -> RateLimits | None:
        return self._config

    @config.setter
    def config(self, config: RateLimits | None) -> None:
        """New limits start with full buckets."""
        by_operation: dict[str, list[tuple[str, str, str, float]]] = {}
        for key, rate in (config.rates if config else {}).items():
            operation, scope, unit = LIMIT_KEYS[key]
            by_operation.setdefault(operation, []).append((key, scope, unit, rate))
        with self._lock:
            self._config = config
            self._by_operation = by_operation
            self._buckets.clear()

    def admit(self, operation: str | None, namespace: str, request_bytes: int) -> None:
        """Take this request's tokens from every bucket it draws on, or take none and raise 429
        naming the limit that is out of budget the longest."""
        rules = self._by_operation.get(operation or "")
        if not rules:
            return
        name = limits.normalize_namespace(namespace)
        now = self._clock()
        with self._lock:
            drawn = []
            for key, scope, unit, rate in rules:
                bucket_key = (key, name if scope == "namespace" else "")
                bucket = self._buckets.get(bucket_key)
                if bucket is None:
                    bucket = self._buckets[bucket_key] = TokenBucket(rate, now)
                cost = float(request_bytes) if unit == "bytes" else 1.0
                drawn.append((bucket, cost, key, scope, unit, rate, bucket.wait(cost, now)))
            worst = max(drawn, key=lambda d: d[-1])
            if worst[-1] <= 0:
                for bucket, cost, *_ in drawn:
                    bucket.take(cost)
                return
        _, _, key, scope, unit, rate, wait = worst
        retry_after = max(0.001, round(wait, 3))
        where = f"namespace {name!r}" if scope == "namespace" else "the index"
        raise ApiError(
            429,
            f"Too many requests: {operation} is limited to {rate:g} {unit} per second per {scope} "
            f"({key}), reached for {where}; retry after {retry_after:g}s (rate limits of pinecone_local)",
            {"Retry-After": f"{retry_after:g}"},
        )
