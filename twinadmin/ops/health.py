"""What `/healthz` checks: the database, the Celery broker and the vector index, each answering
within a deadline, reported without anything secret.

Each check runs on a daemon thread of its own and the answer waits for all of them together, up
to `HEALTH_TIMEOUT_SECONDS`: a check still running then is reported as timed out. The thread is
left to finish by itself (a database or index client blocked in a connect cannot be interrupted
from outside), and while it runs the next probe of that check waits for the same call instead of
starting another one, so a dead dependency never piles up threads, however often a load balancer
asks. Daemon threads, not a ThreadPoolExecutor, because an executor's threads are joined at
interpreter exit: a probe stuck in a connect would hold a gunicorn worker's shutdown.

A failure is named by exception classes only ("OperationalError (ConnectionRefusedError)"),
never by its message: drivers put hosts, user names and sometimes whole URLs in their messages.
The full error goes to the log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

# The whole answer's budget; under the ~3 s a load balancer's probe usually allows.
DEFAULT_TIMEOUT_SECONDS = 2.0
# How long a broker connection may take to open (kombu's connect_timeout).
BROKER_CONNECT_TIMEOUT_SECONDS = 1.5


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    ms: float
    error: str = ""

    def as_dict(self) -> dict[str, object]:
        answer: dict[str, object] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.error:
            answer["error"] = self.error
        return answer


def check_database() -> None:
    """A trivial query on a connection of this thread's own, closed afterwards (a probe thread
    that kept its connection would leak one per probe)."""
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


def check_broker() -> None:
    """Open (and close) a connection to CELERY_BROKER_URL, with no retries."""
    from twinadmin.celery import app

    with app.connection_for_write(connect_timeout=BROKER_CONNECT_TIMEOUT_SECONDS) as connection:
        connection.ensure_connection(max_retries=0, timeout=BROKER_CONNECT_TIMEOUT_SECONDS)


def check_vector_index() -> None:
    """One cheap request through the vector layer: list one id of the default namespace. Its
    retries (and the index's opening) stop within the answer's budget: the probe's thread does
    not inherit the page's deadline, and a worker's minutes would hold the index cache's first
    opening for as long."""
    from twinadmin.vectors import DEFAULT_NAMESPACE, get_index
    from twinadmin.vectors.deadlines import deadline_at_most

    with deadline_at_most(_timeout()):
        get_index().has_ids(DEFAULT_NAMESPACE)


def _timeout() -> float:
    return float(getattr(settings, "HEALTH_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "vector_index": check_vector_index,
}

_lock = threading.Lock()
_in_flight: dict[str, Future[CheckResult]] = {}


def _run(name: str, check: Callable[[], None], future: Future[CheckResult]) -> None:
    started = time.monotonic()
    try:
        check()
    except BaseException as exc:  # noqa: BLE001 - every failure is an answer, never a 500
        log.warning("health check %s failed: %s: %s", name, type(exc).__name__, exc)
        future.set_result(CheckResult(False, _ms_since(started), describe_error(exc)))
    else:
        future.set_result(CheckResult(True, _ms_since(started)))
    finally:
        with _lock:
            if _in_flight.get(name) is future:
                del _in_flight[name]


def _start(name: str, check: Callable[[], None]) -> Future[CheckResult]:
    """The running probe of this check, or a new one."""
    with _lock:
        future = _in_flight.get(name)
        if future is None:
            future = _in_flight[name] = Future()
            threading.Thread(
                target=_run, args=(name, check, future), name=f"healthz-{name}", daemon=True
            ).start()
        return future


def run_checks(
    checks: dict[str, Callable[[], None]] | None = None, *, timeout: float | None = None
) -> dict[str, CheckResult]:
    """Every check's result, all of them within `timeout` seconds."""
    checks = CHECKS if checks is None else checks
    if timeout is None:
        timeout = _timeout()
    started = time.monotonic()
    futures = {name: _start(name, check) for name, check in checks.items()}
    results: dict[str, CheckResult] = {}
    for name, future in futures.items():
        remaining = max(0.0, timeout - (time.monotonic() - started))
        try:
            results[name] = future.result(timeout=remaining)
        except TimeoutError:
            results[name] = CheckResult(False, _ms_since(started), f"timed out after {timeout:g} s")
    return results


def wait_idle(timeout: float) -> bool:
    """Whether every probe still running finished within `timeout` (tests wait for this)."""
    deadline = time.monotonic() + timeout
    while True:
        with _lock:
            pending = list(_in_flight.values())
        if not pending:
            return True
        for future in pending:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return False


def describe_error(exc: BaseException) -> str:
    """The error's class, and the class of the root cause it wraps: nothing from messages."""
    root = exc
    seen = {id(root)}
    while (nxt := root.__cause__ or root.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        root = nxt
    outer = type(exc).__name__
    inner = type(root).__name__
    return outer if inner == outer else f"{outer} ({inner})"


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000
