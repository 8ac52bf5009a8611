"""Fixtures for namespace migrations: the seed's legacy layout (805 vectors in 30 namespaces,
376 in __default__, at dimension 8), backups under tmp, and the same index reached through the
real pinecone SDK against the in-process Pinecone-compatible server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from twinadmin.registry.services import creator_create
from twinadmin.vectors import get_index, reset_index_cache
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.seed import LegacySeed, generate_legacy_seed, legacy_index_seed
from twinadmin.vectors.server import FaultConfig, LocalPineconeServer

DIM = 8
CREATOR = "sainath.no.1"


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
        store = LocalStore(tmp_path / f"server-{len(servers)}.sqlite3", dimension=dimension, metric="cosine")
        server = LocalPineconeServer(store, faults=faults).start()
        servers.append(server)
        settings.VECTOR_BACKEND = "pinecone"
        settings.PINECONE_API_KEY = "test-key"
        settings.PINECONE_INDEX_HOST = server.url
        reset_index_cache()
        return server

    yield start
    reset_index_cache()
    for server in servers:
        server.stop()


# -- real Celery workers (integration) ------------------------------------------------------------


@pytest.fixture
def start_worker(django_db_setup, tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Start real `celery -A twinadmin worker` processes (own process group, same test database,
    the broker from CELERY_BROKER_URL) with extra environment; all are stopped after the test.
    The test may SIGKILL one itself: that is the point of some of them."""
    import os
    import subprocess
    import sys
    import uuid

    from django.db import connections

    from tests.integration.conftest import (
        _ORPHAN_GUARD,
        REAL_BROKER_SCHEMES,
        WORKER_START_TIMEOUT,
        CeleryWorker,
        _stop,
        database_url,
    )
    from twinadmin.celery import app as celery_app

    broker = str(celery_app.conf.broker_url or "")
    if not broker.startswith(REAL_BROKER_SCHEMES):
        pytest.skip("needs a real broker: CELERY_BROKER_URL=redis://... (scripts/test.sh sets one)")
    celery_app.control.purge()  # nothing from earlier tests may run against this database
    workers: list[CeleryWorker] = []

    def start(*, env: dict[str, str]) -> CeleryWorker:
        log_path = tmp_path / f"worker-{len(workers)}.log"
        full_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.migrations_app.worker_settings",
            "DATABASE_URL": database_url(connections["default"].settings_dict),
            "CELERY_BROKER_URL": broker,
            "VECTOR_DIMENSION": str(DIM),
            "VECTOR_METRIC": "cosine",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        celery = Path(sys.executable).with_name("celery")
        command = [sys.executable, "-c", _ORPHAN_GUARD, str(os.getpid())]
        command += [str(celery)] if celery.exists() else [sys.executable, "-m", "celery"]
        command += [
            "-A",
            "twinadmin",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--loglevel=INFO",
            f"--hostname=mtest-{uuid.uuid4().hex[:8]}@%h",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
        from django.conf import settings as django_settings

        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                cwd=django_settings.BASE_DIR,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = CeleryWorker(
            process=process,
            log_path=log_path,
            vector_path=Path(env.get("VECTOR_LOCAL_PATH", "")),
            vector_dimension=DIM,
        )
        workers.append(worker)
        worker.wait_for_log(r"@\S+ ready\.", timeout=WORKER_START_TIMEOUT)
        return worker

    yield start
    for worker in workers:
        _stop(worker.process)
