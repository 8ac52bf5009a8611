"""Fixtures for the vector layer: the two contract targets and a local Pinecone server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from twinadmin.vectors.base import VectorIndex
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.pinecone_adapter import PineconeIndex, RetryPolicy
from twinadmin.vectors.server import FaultConfig, LocalPineconeServer
from twinadmin.vectors.types import Vector

DIM = 8
# Tests retry fast: the behaviour (retry until it works) is what matters, not the waits.
FAST_RETRY = RetryPolicy(attempts=25, initial_wait=0.005, max_wait=0.05, deadline=60)


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


@pytest.fixture(autouse=True)
def _vector_settings(settings, tmp_path: Path) -> None:
    """What these tests assume of get_index(), whatever the suite-wide defaults become: a fresh
    local store of dimension DIM per test."""
    settings.VECTOR_BACKEND = "local"
    settings.VECTOR_LOCAL_PATH = tmp_path / "vectors.sqlite3"
    settings.VECTOR_DIMENSION = DIM
    settings.VECTOR_METRIC = "cosine"


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., LocalPineconeServer]]:
    """Start in-process local Pinecone servers on free loopback ports; stopped after the test."""
    servers: list[LocalPineconeServer] = []

    def make(
        *,
        dimension: int = DIM,
        metric: str = "cosine",
        faults: FaultConfig | None = None,
        request_log: Path | None = None,
        store: LocalStore | None = None,
    ) -> LocalPineconeServer:
        store = store or LocalStore(
            tmp_path / f"server-{len(servers)}.sqlite3", dimension=dimension, metric=metric
        )
        server = LocalPineconeServer(store, faults=faults, request_log=request_log).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def use_server(settings, server: LocalPineconeServer, *, retry_attempts: int | None = 1) -> None:
    """Point get_index() at `server` through the real SDK. One adapter attempt per call by
    default (the SDK still retries a 503 a few times itself), so a failure the server injects
    reaches the caller at once instead of after minutes of backoff; None keeps the configured
    budget, for tests that rely on the adapter riding out injected faults."""
    from twinadmin.vectors import reset_index_cache

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


@pytest.fixture(params=["local", "sdk"], ids=["local-store", "sdk-via-local-server"])
def make_index(request, tmp_path: Path, make_server) -> Callable[..., VectorIndex]:
    """Contract target factory: the local store itself, or the Pinecone adapter driving the real
    SDK against the local server. Same tests, same assertions."""
    target = request.param
    made: list[VectorIndex] = []

    def make(*, dimension: int = DIM, metric: str = "cosine") -> VectorIndex:
        if target == "local":
            index: VectorIndex = LocalStore(
                tmp_path / f"local-{len(made)}.sqlite3", dimension=dimension, metric=metric
            )
        else:
            index = adapter_for(make_server(dimension=dimension, metric=metric))
        made.append(index)
        return index

    yield make
    for index in made:
        index.close()


@pytest.fixture
def index(make_index) -> VectorIndex:
    return make_index()
