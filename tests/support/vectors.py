"""Vectors, the local Pinecone-compatible server, and pointing get_index() at it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from twinadmin.vectors import reset_index_cache
from twinadmin.vectors.base import VectorIndex
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.pinecone_adapter import PineconeIndex, RetryPolicy
from twinadmin.vectors.server import FaultConfig, LocalPineconeServer
from twinadmin.vectors.types import Vector

# The dimension of every test index (small: the behaviour under test does not depend on it).
DIM = 8
# Tests retry fast: the behaviour (retry until it works) is what matters, not the waits.
FAST_RETRY = RetryPolicy(attempts=25, initial_wait=0.005, max_wait=0.05, deadline=60)
# Distinctive vector content: receipts and audit entries must never contain any of it.
SECRET_TEXT = "tell-no-one-7f3a"


def random_vectors(
    count: int, *, dim: int = DIM, prefix: str = "v-", seed: int = 0, metadata: bool = True
) -> list[Vector]:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((count, dim)).astype(np.float32)
    return [
        Vector(
            f"{prefix}{i:05d}",
            values[i],
            {"i": i, "parity": "odd" if i % 2 else "even"} if metadata else None,
        )
        for i in range(count)
    ]


def vectors(count: int, *, prefix: str = "doc", seed: int = 0) -> list[Vector]:
    """Vectors whose ids and metadata carry SECRET_TEXT."""
    rng = np.random.default_rng(seed)
    return [
        Vector(
            f"{prefix}-{SECRET_TEXT}-{i}",
            rng.uniform(0.1, 1.0, DIM),
            {"text": f"{SECRET_TEXT} chunk {i}", "source": f"uploads/{SECRET_TEXT}.pdf"},
        )
        for i in range(count)
    ]


def fill(index: VectorIndex, counts: dict[str, int]) -> None:
    for i, (name, count) in enumerate(counts.items()):
        if count:
            index.upsert(name, vectors(count, seed=i))


def counts_of(index: VectorIndex) -> dict[str, int]:
    return index.describe_index_stats().namespaces


def start_server(
    path: Path,
    *,
    dimension: int = DIM,
    metric: str = "cosine",
    faults: FaultConfig | None = None,
    request_log: Path | None = None,
    store: LocalStore | None = None,
) -> LocalPineconeServer:
    """A local Pinecone server on a free loopback port, serving `store` or a new store at `path`.
    The caller stops it."""
    store = store or LocalStore(path, dimension=dimension, metric=metric)
    return LocalPineconeServer(store, faults=faults, request_log=request_log).start()


def use_server(settings, server: LocalPineconeServer, *, retry_attempts: int | None = 1) -> None:
    """Point get_index() at `server` through the real SDK. One adapter attempt per call by
    default (the SDK still retries a 503 a few times itself), so a failure the server injects
    reaches the caller at once instead of after minutes of backoff; None keeps the configured
    budget, for tests that rely on the adapter riding out injected faults."""
    settings.VECTOR_BACKEND = "pinecone"
    settings.PINECONE_API_KEY = "test-key"
    settings.PINECONE_INDEX_HOST = server.url
    if retry_attempts is not None:
        settings.PINECONE_RETRY_ATTEMPTS = retry_attempts
    reset_index_cache()


def adapter_for(server: LocalPineconeServer, retry: RetryPolicy = FAST_RETRY) -> PineconeIndex:
    return PineconeIndex(
        api_key="test-key",
        host=server.url,
        dimension=server.store.dimension,
        metric=server.store.metric,
        retry=retry,
    )


def pinecone_local_process(*args: str, **popen: Any) -> subprocess.Popen[str]:
    """`manage.py pinecone_local ARGS` in a process of its own, its output as text lines (the
    first line on stdout says where it serves)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "pinecone_local", *args],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DEBUG": "1", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )
