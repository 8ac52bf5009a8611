"""Real Celery workers for the drill: each test starts its own (the erasure integration tests'
`start_worker`), reaching the vectors through the real SDK and a local Pinecone server here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.erasure.integration.conftest import start_worker  # noqa: F401  (fixture)
from tests.support.vectors import DIM
from tests.support.workers import shared_vector_backend
from twinadmin.vectors.server import LocalPineconeServer


@pytest.fixture
def server(make_server) -> LocalPineconeServer:
    return make_server(dimension=DIM)


@pytest.fixture
def worker_env(server: LocalPineconeServer, settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The worker and this test on the same index. One adapter attempt per call in the worker,
    so a refused write reaches the drill at once; the drill's cleanup does its own retrying."""
    shared = shared_vector_backend("sdk", tmp_path=tmp_path, settings=settings, dimension=DIM, server=server)
    with shared as env:
        yield env | {"PINECONE_RETRY_ATTEMPTS": "1", "ERASURE_VERIFY_TIMEOUT_SECONDS": "5"}
