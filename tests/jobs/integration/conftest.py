"""Faults of the real parts, on real workers: a private redis-server this test may kill and
restart empty, and the Celery app of this process pointed at it for the test's duration."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.vectors import DIM, use_server
from tests.support.workers import CeleryWorker, database_url, launch_worker, stop_worker, wait_until
from twinadmin.celery import app as celery_app
from twinadmin.vectors import reset_index_cache
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.server import LocalPineconeServer

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(path: str, what: str) -> str:
    """The program at `path` (or on PATH); skipped without it, except in CI, which never skips."""
    found = path if os.access(path, os.X_OK) else shutil.which(Path(path).name)
    if found is None:
        message = f"{what} needs {path} (not installed here)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@dataclass
class RedisServer:
    """A redis-server of this test's own, keeping nothing on disk (like the machine's)."""

    binary: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
                + ["--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_until(lambda: _listening(self.port), timeout=10, what=f"redis-server on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: whatever it held (queued and unacknowledged messages) is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        wait_until(lambda: not _listening(self.port), timeout=10, what="redis-server to go away")


def point_celery_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send this process's tasks to `url` until the test ends (the connection pools are
    rebuilt). Celery reads CELERY_BROKER_URL from the environment before its own settings."""
    # Drop the app's pools, as a forked child does (not closed: kombu keeps one registry of
    # pools per broker, and the run's own broker must still work once the test is done).
    celery_app._after_fork()
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setattr(celery_app.conf, "broker_url", url)


@pytest.fixture
def private_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A private redis-server on a free port, and this process's Celery app sending to it."""
    server = RedisServer(require_binary(REDIS_SERVER, "this test"), free_port(), tmp_path / "redis.log")
    server.start()
    try:
        with monkeypatch.context() as patched:
            point_celery_at(server.url, patched)
            yield server
        celery_app._after_fork()  # back to the run's own broker
    finally:
        server.kill()


@pytest.fixture
def server(tmp_path: Path, settings: Any) -> Iterator[LocalPineconeServer]:
    """A local Pinecone server for the test and its workers (through the real SDK), and one
    backup directory for the migrations of both."""
    settings.MIGRATION_BACKUP_DIR = tmp_path / "backups"
    store = LocalStore(tmp_path / "index.sqlite3", dimension=DIM, metric="cosine")
    server = LocalPineconeServer(store).start()
    use_server(settings, server, retry_attempts=None)
    yield server
    reset_index_cache()
    server.stop()


def worker_env(server: LocalPineconeServer, settings: Any, *, lease: str) -> dict[str, str]:
    """A worker on `server` that notices faults within seconds: a short lease, a sweep every
    second, a lost message sent again after 4 s, small batches."""
    return {
        "VECTOR_BACKEND": "pinecone",
        "PINECONE_API_KEY": settings.PINECONE_API_KEY,
        "PINECONE_INDEX_HOST": server.url,
        "VECTOR_DIMENSION": str(DIM),
        "VECTOR_METRIC": "cosine",
        "MIGRATION_BACKUP_DIR": str(settings.MIGRATION_BACKUP_DIR),
        "MIGRATION_BATCH_SIZE": "20",
        "MIGRATION_CONCURRENCY": "1",
        "JOB_LEASE_SECONDS": lease,
        "JOB_SWEEP_SECONDS": "1",
        "JOB_RESEND_AFTER_SECONDS": "4",
    }


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., CeleryWorker]]:
    """Real `celery -A twinadmin worker` processes on this test's broker; stopped after it."""
    started: list[CeleryWorker] = []

    def start(*, env: dict[str, str], beat: bool = False, concurrency: int = 1) -> CeleryWorker:
        worker = launch_worker(
            env=env,
            log_path=tmp_path / f"worker-{len(started)}.log",
            name="faults",
            concurrency=concurrency,
            beat=beat,
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop_worker(worker.process)


@dataclass
class PostgresOutage:
    """Every connection to the test database cut and new ones refused for a while, as a
    restart of PostgreSQL looks to its clients (the server's other databases, which other
    test runs on this machine use, are left alone)."""

    maintenance_url: str
    database: str

    def __call__(self, *, down_seconds: float) -> None:
        import psycopg
        from django.db import connections
        from psycopg import sql

        name = sql.Identifier(self.database)
        with psycopg.connect(self.maintenance_url, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
            try:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    [self.database],
                )
                time.sleep(down_seconds)
            finally:
                conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(name))
        connections.close_all()  # this process's own connection was cut too


@pytest.fixture
def postgres_outage(transactional_db: None) -> PostgresOutage:
    from django.db import connections

    db = connections["default"].settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(
            "a PostgreSQL restart needs PostgreSQL as the test database (DATABASE_URL=postgres://...)"
        )
    url = database_url(db)
    return PostgresOutage(maintenance_url=url.rsplit("/", 1)[0] + "/postgres", database=db["NAME"])
