"""Real Celery workers for the erasure integration tests, built with the helpers of
tests/integration/conftest.py. These tests kill a worker and start another, so each test gets
its own workers (the shared package-scoped `celery_worker` must survive its tests), and the
workers reach the vectors through the real SDK and the local Pinecone server running here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections

from tests.integration.conftest import (
    _ORPHAN_GUARD,
    REAL_BROKER_SCHEMES,
    WORKER_START_TIMEOUT,
    CeleryWorker,
    _broker_url,
    _stop,
    database_url,
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
        full_env = {
            **os.environ,
            "DATABASE_URL": database_url(connections["default"].settings_dict),
            "CELERY_BROKER_URL": broker,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        celery = Path(sys.executable).with_name("celery")
        command = [sys.executable, "-c", _ORPHAN_GUARD, str(os.getpid())]
        command += [str(celery)] if celery.exists() else [sys.executable, "-m", "celery"]
        command += [
            "-A", "twinadmin", "worker", "--pool=prefork", "--concurrency=1",
            "-Q", celery_app.conf.task_default_queue, "--loglevel=INFO",
            f"--hostname=erasure-{name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]  # fmt: skip
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
        worker = CeleryWorker(process=process, log_path=log_path, vector_path=Path(), vector_dimension=0)
        started.append(worker)
        worker.wait_for_log(r"@\S+ ready\.", timeout=WORKER_START_TIMEOUT)
        return worker

    yield start
    for worker in started:
        _stop(worker.process)
    celery_app.control.purge()


def kill_hard(worker: CeleryWorker) -> None:
    """SIGKILL to the whole worker (main process and pool children): no warm shutdown, no ack."""
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=20)
