"""Real Celery workers for integration tests, and waiting for what they do.

`launch_worker` starts `celery -A twinadmin worker` in its own process group, with the same
database as the test run (pytest-django has already rewritten NAME to the test database) and the
broker from CELERY_BROKER_URL. `shared_vector_backend` points a test and the workers it starts at
one vector index.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connections

from tests.support.vectors import start_server, use_server
from twinadmin.celery import app as celery_app
from twinadmin.jobs.models import Job
from twinadmin.vectors import reset_index_cache

WORKER_START_TIMEOUT = 60.0
WORKER_STOP_TIMEOUT = 20.0
# Brokers a worker in another process can share with the test: Redis and RabbitMQ, and kombu's
# filesystem transport (a queue directory under var/), which `make test` uses on a machine
# with no Redis. Not memory://, which lives inside one process.
REAL_BROKER_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://", "filesystem://")


def wait_until(
    condition: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str | Callable[[], str]
) -> Any:
    """Poll `condition` until it returns something truthy; fail saying `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def database_url(db: dict[str, Any]) -> str:
    """The DATABASE_URL that makes another process open the database described by `db`."""
    engine = db["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            pytest.fail(f"the worker cannot share an in-memory SQLite test database ({name!r})")
        return f"sqlite:///{Path(name).resolve()}"
    if engine == "django.db.backends.postgresql":
        auth = ""
        if db.get("USER"):
            auth = quote(db["USER"], safe="")
            if db.get("PASSWORD"):
                auth += ":" + quote(db["PASSWORD"], safe="")
            auth += "@"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}{db.get('HOST') or ''}{port}/{quote(db['NAME'], safe='')}"
    pytest.fail(f"no DATABASE_URL form known for {engine}")


def broker_url() -> str:
    return str(celery_app.conf.broker_url or "")


@dataclass
class CeleryWorker:
    process: subprocess.Popen[bytes]
    log_path: Path
    vector_path: Path
    vector_dimension: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"the Celery worker exited with {self.process.returncode}:\n{self.log_tail()}")

    def wait_for_log(self, pattern: str, *, timeout: float = 30.0) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            self.check_alive()
            return re.search(pattern, self.log())

        return wait_until(
            found, timeout=timeout, what=lambda: f"/{pattern}/ in the worker log:\n{self.log_tail()}"
        )

    def wait_for_task(self, task_id: str, *, timeout: float = 60.0) -> str:
        """Wait until the worker logged the end of task `task_id`; return its outcome word."""
        match = self.wait_for_log(
            rf"Task [\w.]+\[{re.escape(task_id)}\] (succeeded|failed|raised|retry)", timeout=timeout
        )
        return match.group(1)

    def wait_for_job(self, job_id: int, *, timeout: float = 60.0) -> Job:
        def finished() -> Job | None:
            self.check_alive()
            job = Job.objects.get(pk=job_id)
            return job if job.is_finished else None

        def stuck() -> str:
            status = Job.objects.get(pk=job_id).status
            return f"job {job_id} to finish (still {status}); worker log:\n{self.log_tail()}"

        return wait_until(finished, timeout=timeout, interval=0.2, what=stuck)


# Runs in the child, then execs the worker. On Linux the worker gets SIGTERM when this test
# process dies without tearing it down (SIGKILL, OOM): an orphaned worker would otherwise go on
# consuming the shared queue and swallow the next run's jobs.
_ORPHAN_GUARD = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit("the test process is already gone")
os.execv(sys.argv[2], sys.argv[2:])
"""


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM), then SIGKILL for the whole process group: no prefork child may
    outlive the test run holding a connection to the test database (it could not be dropped)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=WORKER_STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=WORKER_STOP_TIMEOUT)


def kill_hard(worker: CeleryWorker) -> None:
    """SIGKILL to the whole worker (main process and pool children): no warm shutdown, no ack."""
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=20)


def launch_worker(
    *,
    env: dict[str, str],
    log_path: Path,
    name: str,
    concurrency: int = 1,
    vector_path: Path | None = None,
    vector_dimension: int = 0,
    beat: bool = False,
) -> CeleryWorker:
    """Start a real `celery -A twinadmin worker` on this run's test database and broker, with
    `env` over this process's environment, in its own process group behind the orphan guard, and
    wait until it is ready. The caller stops it with `stop_worker(worker.process)`."""
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url(connections["default"].settings_dict),
        "CELERY_BROKER_URL": broker_url(),
        "PYTHONUNBUFFERED": "1",
        # The worker's own audit key and checkpoints beside its log, never a checkout's var/ (a
        # worker started for a whole package outlives any one test's settings).
        "AUDIT_SIGNING_KEY_FILE": str(log_path.parent / "audit" / "signing-key.pem"),
        "AUDIT_CHECKPOINT_DIR": str(log_path.parent / "audit" / "checkpoints"),
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
        f"--concurrency={concurrency}",
        "-Q",
        celery_app.conf.task_default_queue,
        "--loglevel=INFO",
        f"--hostname={name}-{uuid.uuid4().hex[:8]}@%h",
        # No cluster chatter: mingle would wait a second for replies from other workers.
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]
    if beat:  # the periodic tasks too (jobs.sweep), as `make run`'s worker has them
        command += ["--beat", f"--schedule={log_path.with_suffix('.beat-schedule')}"]
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
        vector_path=vector_path or Path(),
        vector_dimension=vector_dimension,
    )
    try:
        worker.wait_for_log(r"@\S+ ready\.", timeout=WORKER_START_TIMEOUT)
    except BaseException:
        stop_worker(process)
        raise
    return worker


@contextlib.contextmanager
def shared_vector_backend(
    backend: str, *, tmp_path: Path, settings: Any, dimension: int, server: Any = None
) -> Iterator[dict[str, str]]:
    """Point this test and the workers it starts at one vector index: a local store file
    (`"local"`) or the real SDK against an in-process Pinecone-compatible server (`"sdk"`; the
    caller's `server`, or one started and stopped here). Yields the environment to start the
    workers with."""
    settings.VECTOR_DIMENSION, settings.VECTOR_METRIC = dimension, "cosine"
    env = {"VECTOR_DIMENSION": str(dimension), "VECTOR_METRIC": "cosine"}
    started = None
    if backend == "local":
        settings.VECTOR_BACKEND, settings.VECTOR_LOCAL_PATH = "local", tmp_path / "shared.sqlite3"
        env |= {"VECTOR_BACKEND": "local", "VECTOR_LOCAL_PATH": str(settings.VECTOR_LOCAL_PATH)}
    else:
        if server is None:
            server = started = start_server(tmp_path / "server.sqlite3", dimension=dimension)
        use_server(settings, server, retry_attempts=None)
        env |= {
            "VECTOR_BACKEND": "pinecone",
            "PINECONE_API_KEY": settings.PINECONE_API_KEY,
            "PINECONE_INDEX_HOST": server.url,
        }
    reset_index_cache()
    try:
        yield env
    finally:
        reset_index_cache()
        if started is not None:
            started.stop()
