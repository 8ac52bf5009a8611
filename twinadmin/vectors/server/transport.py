"""HTTP on the standard library's ThreadingHTTPServer: one thread per connection is plenty for a
test double and a single-machine deployment, and needs no new dependency. A request is read,
checked (faults, API key, body), routed by the application and answered in Pinecone's shape;
every request, answered or refused, goes to the request log."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from ..errors import InvalidRequest, NamespaceExists, NotFound, TransientError, VectorError
from .protocol import API_VERSION, ApiError, error_body, parse_body, request_namespace

if TYPE_CHECKING:
    from .app import LocalPineconeServer

logger = logging.getLogger(__package__)


def error_response(exc: Exception, method: str, path: str) -> tuple[int, str, Mapping[str, str]]:
    """Status, message and headers answering `exc`. A bug answers 500, never kills the
    connection silently (and is logged with its traceback: call this in an `except` block)."""
    if isinstance(exc, ApiError):
        return exc.status, exc.message, exc.headers
    if isinstance(exc, NamespaceExists):
        return 409, str(exc), {}
    if isinstance(exc, InvalidRequest):
        return 400, str(exc), {}
    if isinstance(exc, NotFound):
        return 404, str(exc), {}
    if isinstance(exc, VectorError):
        return (503 if isinstance(exc, TransientError) else 500), str(exc), {}
    logger.exception("pinecone_local: unhandled error for %s %s", method, path)
    return 500, f"internal error: {exc}", {}


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write with Nagle off: otherwise the client's delayed ACK
    # adds ~40 ms to every keep-alive request.
    wbufsize = 256 * 1024
    disable_nagle_algorithm = True
    server: ConnectionTrackingServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("pinecone_local: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        started = time.perf_counter()
        url = urlsplit(self.path)
        path = url.path
        namespace: str | None = None
        status = 500
        try:
            raw = self._read_body()  # always drain the body so the connection stays usable
            app.before_request()
            if not self.headers.get("Api-Key"):
                raise ApiError(401, "Unauthorized: pass your API key in the Api-Key header")
            query = parse_qs(url.query, keep_blank_values=True)
            body = parse_body(method, path, raw)
            namespace = request_namespace(path, body, query)
            app.refuse_during_outage(method, path, namespace)
            status, payload = app.route(method, path, query, body, len(raw))
            self._send(status, payload)
        except Exception as exc:
            status, message, headers = error_response(exc, method, path)
            self._send_error(status, message, headers)
        finally:
            app.log_request(
                method=method,
                path=path,
                namespace=namespace,
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000,
            )

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Pinecone-Api-Version", API_VERSION)
        self.send_header("X-Pinecone-Request-Id", str(self.server.app.next_request_id()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, error_body(status, message), headers)


class ConnectionTrackingServer(ThreadingHTTPServer):
    """Remembers its open connections, so stopping hangs up on keep-alive clients too."""

    daemon_threads = True
    allow_reuse_address = True
    app: LocalPineconeServer

    def __init__(self, address: tuple[str, int], app: LocalPineconeServer) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        with self._connections_lock:
            self._connections.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on keep-alive clients so their handler threads end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
