"""Dependencies that fail the way production ones do: a port that refuses, a server that accepts
connections and never answers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from twinadmin.celery import app as celery_app
from twinadmin.ops import health

# Nothing listens on port 1: connections are refused at once.
REFUSING_HOST = "127.0.0.1:1"


@pytest.fixture(autouse=True)
def _probes_finish() -> Iterator[None]:
    """A probe left running by one test (it outlives the answer on purpose) must not answer the
    next test's health check."""
    yield
    assert health.wait_idle(timeout=30), "a health probe was still running 30 s after its test"


@pytest.fixture
def broker_url(monkeypatch: pytest.MonkeyPatch):
    """Point the Celery app at another broker for this test."""

    def use(url: str) -> None:
        # Celery reads CELERY_BROKER_URL from the environment before its settings (make test
        # always exports one), so both are pointed there.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        monkeypatch.setitem(celery_app.conf, "broker_url", url)

    return use


@pytest.fixture
def silent_server() -> Iterator[str]:
    """`http://127.0.0.1:PORT` of a server that accepts connections and never answers; they are
    closed when the test ends (so that any client still waiting gives up)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()
    for conn in accepted:
        conn.close()
    thread.join(timeout=5)
