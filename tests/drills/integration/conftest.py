"""Real Celery workers for the drill: each test starts its own (the erasure integration tests'
`start_worker`), reaching the vectors through the real SDK and a local Pinecone server here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.erasure.integration.conftest import start_worker  # noqa: F401  (fixture)
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.server import LocalPineconeServer

DIM = 8


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalPineconeServer]:
    store = LocalStore(tmp_path / "server.sqlite3", dimension=DIM, metric="cosine")
    with LocalPineconeServer(store) as server:
        yield server


@pytest.fixture
def worker_env(server: LocalPineconeServer, settings) -> dict[str, str]:
    """The worker and this test on the same index. One adapter attempt per call, so a refused
    write reaches the drill at once; the drill's cleanup does its own retrying."""
    from twinadmin.vectors import reset_index_cache

    settings.VECTOR_BACKEND, settings.VECTOR_DIMENSION = "pinecone", DIM
    settings.PINECONE_API_KEY, settings.PINECONE_INDEX_HOST = "test-key", server.url
    reset_index_cache()
    return {
        "VECTOR_BACKEND": "pinecone",
        "PINECONE_API_KEY": "test-key",
        "PINECONE_INDEX_HOST": server.url,
        "VECTOR_DIMENSION": str(DIM),
        "PINECONE_RETRY_ATTEMPTS": "1",
        "ERASURE_VERIFY_TIMEOUT_SECONDS": "5",
    }
