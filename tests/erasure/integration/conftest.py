"""Real Celery workers for the erasure integration tests, launched by tests.support.workers.
These tests kill a worker and start another, so each test gets its own workers (the shared
package-scoped `celery_worker` must survive its tests), and the workers reach the vectors through
the real SDK and the local Pinecone server running here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.workers import REAL_BROKER_SCHEMES, CeleryWorker, broker_url, launch_worker, stop_worker
from twinadmin.celery import app as celery_app


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., CeleryWorker]]:
    broker = broker_url()
    if not broker.startswith(REAL_BROKER_SCHEMES):
        pytest.skip(f"integration tests need a real broker, not {broker.split('://')[0]}://")
    celery_app.control.purge()
    started: list[CeleryWorker] = []

    def start(*, env: dict[str, str], name: str = "w") -> CeleryWorker:
        log_path = tmp_path / f"worker-{name}-{len(started)}.log"
        worker = launch_worker(env=env, log_path=log_path, name=f"erasure-{name}")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop_worker(worker.process)
    celery_app.control.purge()
