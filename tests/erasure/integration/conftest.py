"""Real Celery workers for the erasure integration tests, built with the helpers of
tests/integration/conftest.py. These tests kill a worker and start another, so each test gets
its own workers (the shared package-scoped `celery_worker` must survive its tests), and the
workers reach the vectors through the real SDK and the local Pinecone server running here."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    REAL_BROKER_SCHEMES,
    CeleryWorker,
    _broker_url,
    _stop,
    launch_worker,
)
from twinadmin.celery import app as celery_app


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., CeleryWorker]]:
    broker = _broker_url()
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
        _stop(worker.process)
    celery_app.control.purge()


def kill_hard(worker: CeleryWorker) -> None:
    """SIGKILL to the whole worker (main process and pool children): no warm shutdown, no ack."""
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=20)
