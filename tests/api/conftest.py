"""API fixtures: clients with tokens, a Django test client that sends the token, and a webhook
receiver (a real HTTP server on loopback, in a thread) that records what it was sent."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from twinadmin.api.models import SCOPE_NAMES
from twinadmin.api.services import api_client_create
from twinadmin.celery import app as celery_app


class ApiCaller:
    """Calls /api/v1/ through the whole Django stack with one token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.http = Client()

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, path: str, **headers: str) -> Any:
        return self.http.get("/api/v1" + path, headers=self._headers(headers))

    def post(self, path: str, body: Any = None, *, raw: bytes | None = None, **headers: str) -> Any:
        data = raw if raw is not None else json.dumps(body or {})
        return self.http.post(
            "/api/v1" + path, data=data, content_type="application/json", headers=self._headers(headers)
        )

    def patch(self, path: str, body: Any = None, **headers: str) -> Any:
        return self._send("patch", path, body, headers)

    def put(self, path: str, body: Any = None, **headers: str) -> Any:
        return self._send("put", path, body, headers)

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        send = getattr(self.http, method)
        data = json.dumps(body or {})
        return send(
            "/api/v1" + path, data=data, content_type="application/json", headers=self._headers(headers)
        )

    def delete(self, path: str) -> Any:
        return self.http.delete("/api/v1" + path, headers=self._headers(None))


@pytest.fixture
def make_api(db) -> Callable[..., ApiCaller]:
    counter = iter(range(1, 1000))

    def make(*scopes: str, name: str | None = None) -> ApiCaller:
        _, token = api_client_create(
            name=name or f"product-{next(counter)}", scopes=list(scopes or SCOPE_NAMES), actor="cli:test"
        )
        return ApiCaller(token)

    return make


@pytest.fixture
def product(make_api) -> ApiCaller:
    """The product's client, every scope."""
    return make_api(name="product")


@pytest.fixture
def signing_key(settings):
    call_command("audit_keygen", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Celery tasks run in this process when sent (the broker is a process boundary)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    """A webhook receiver on a free loopback port: answers 500 to the first `fail_first`
    deliveries, 200 after; records every request's headers and raw body."""
    settings.API_WEBHOOK_ALLOW_PRIVATE = True
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append({"headers": dict(self.headers), "body": body})
            failing = len(state.received) <= state.fail_first
            self.send_response(500 if failing else 200)
            self.end_headers()
            if not failing:
                state.arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def problem(response: Any, status: int) -> dict[str, Any]:
    """The response is Problem Details with this status."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


def concurrently(count: int, call: Callable[[], Any]) -> list[Any]:
    """Run `call` in `count` real threads released together, each on its own database connection
    (closed after); returns what the calls returned. Needs a transactional test on PostgreSQL:
    SQLite serialises all writers."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row-level waiting on a unique key is PostgreSQL's (SQLite serialises all writers)")
    barrier = threading.Barrier(count)
    results: list[Any] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(call())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
