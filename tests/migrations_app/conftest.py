"""Fixtures for namespace migrations: the seed's legacy layout (805 vectors in 30 namespaces,
376 in __default__, at dimension 8), backups under tmp, and the same index reached through the
real pinecone SDK against the in-process Pinecone-compatible server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.seed import CREATOR
from tests.support.vectors import DIM, start_server, use_server
from tests.support.workers import REAL_BROKER_SCHEMES, CeleryWorker, broker_url, launch_worker, stop_worker
from twinadmin.celery import app as celery_app
from twinadmin.registry.services import creator_create
from twinadmin.vectors import get_index, reset_index_cache
from twinadmin.vectors.seed import LegacySeed, generate_legacy_seed, legacy_index_seed
from twinadmin.vectors.server import FaultConfig, LocalPineconeServer


@pytest.fixture(autouse=True)
def _migration_settings(settings, tmp_path: Path) -> None:
    settings.MIGRATION_BACKUP_DIR = tmp_path / "backups"
    settings.MIGRATION_COUNT_DEADLINE_SECONDS = 10
    settings.VECTOR_DIMENSION = DIM
    settings.VECTOR_METRIC = "cosine"


@pytest.fixture
def seed_data() -> LegacySeed:
    return generate_legacy_seed(dimension=DIM, seed=0)


@pytest.fixture
def seeded(seed_data: LegacySeed):
    """The seed written into whatever get_index() is configured as (local store by default)."""
    index = get_index()
    legacy_index_seed(index=index, seed_data=seed_data)
    return index


@pytest.fixture
def creator(db):
    return creator_create(creator_id=CREATOR, display_name="Sainath (test creator)")


@pytest.fixture
def pinecone_local(settings, tmp_path: Path) -> Iterator[Callable[..., LocalPineconeServer]]:
    """Start the local Pinecone server and point get_index() at it through the real SDK."""
    servers: list[LocalPineconeServer] = []

    def start(*, faults: FaultConfig | None = None, dimension: int = DIM) -> LocalPineconeServer:
        server = start_server(tmp_path / f"server-{len(servers)}.sqlite3", dimension=dimension, faults=faults)
        servers.append(server)
        use_server(settings, server, retry_attempts=None)
        return server

    yield start
    reset_index_cache()
    for server in servers:
        server.stop()


# -- real Celery workers (integration) ------------------------------------------------------------


@pytest.fixture
def start_worker(django_db_setup, tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Start real `celery -A twinadmin worker` processes (own process group, same test database,
    the broker from CELERY_BROKER_URL) with extra environment (the settings read MIGRATION_* and
    VECTOR_* from it); all are stopped after the test. The test may SIGKILL one itself: that is
    the point of some of them."""
    if not broker_url().startswith(REAL_BROKER_SCHEMES):
        pytest.skip("needs a real broker: CELERY_BROKER_URL=redis://... (scripts/test.sh sets one)")
    celery_app.control.purge()  # nothing from earlier tests may run against this database
    workers: list[CeleryWorker] = []

    def start(*, env: dict[str, str], beat: bool = False) -> CeleryWorker:
        worker = launch_worker(
            env={
                "DJANGO_SETTINGS_MODULE": "twinadmin.settings",
                "MIGRATION_COUNT_DEADLINE_SECONDS": "30",
                "VECTOR_DIMENSION": str(DIM),
                "VECTOR_METRIC": "cosine",
                **env,
            },
            log_path=tmp_path / f"worker-{len(workers)}.log",
            name="mtest",
            beat=beat,
            vector_path=Path(env.get("VECTOR_LOCAL_PATH", "")),
            vector_dimension=DIM,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        stop_worker(worker.process)
