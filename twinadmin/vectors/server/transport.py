"""HTTP on the standard library's ThreadingHTTPServer: one thread per connection is plenty for a
test double and a single-machine deployment, and needs no new dependency. A request is read,
checked (faults, API key, body), routed by the application and answered in Pinecone's shape;
every request, answered or refused, goes to the request log."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from .. import limits
from ..errors import InvalidRequest, NamespaceExists, NotFound, TransientError, VectorError
from .protocol import API_VERSION, ApiError, check_body_size, parse_body

if TYPE_CHECKING:
    from .app import Decoded, LocalPineconeServer

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
    # Seconds a connection may sit idle or trickle a body: socket reads time out after this,
    # so a slow or short request cannot hold a thread forever.
    timeout = 30.0
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

    def __getattr__(self, name: str) -> Any:
        # Any other method (HEAD, OPTIONS, TRACE, ...) is routed too, so it gets Pinecone's JSON
        # 405/404 instead of the standard library's HTML 501.
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return lambda: self._dispatch(name[3:])
        raise AttributeError(name)

    def _body_length(self) -> int:
        """The declared body size, checked before anything is read: a malformed Content-Length
        is 400, and a body over Pinecone's limit is refused unread (the connection is closed
        after the answer, since the unread body cannot be skipped)."""
        raw = self.headers.get("Content-Length")
        if raw is None or raw.strip() == "":
            return 0
        if not raw.strip().isdigit():
            self.close_connection = True
            raise InvalidRequest(f"Content-Length must be a non-negative integer, got {raw[:40]!r}")
        length = int(raw)
        if length > limits.MAX_UPSERT_BYTES:
            self.close_connection = True
            check_body_size(length)
        return length

    def _check_api_key(self) -> None:
        """Before the body is read: a client without the key gets nothing read or parsed."""
        try:
            self.server.app.check_api_key(self.headers.get("Api-Key"))
        except ApiError:
            self.close_connection = True
            raise

    def _read_body(self, length: int) -> bytes:
        """Read exactly `length` bytes; a slow or short body times out (the handler's socket
        timeout) and frees this thread instead of holding it forever."""
        if length <= 0:
            return b""
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            raise ApiError(408, "Timed out reading the request body") from None
        if len(raw) != length:
            self.close_connection = True
            raise InvalidRequest(f"request body ended after {len(raw)} of {length} bytes")
        return raw

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self._method = method
        raw = b""

        def receive() -> None:
            nonlocal raw
            length = self._body_length()
            self._check_api_key()
            raw = self._read_body(length)  # drained whole, so the connection stays usable

        def decode() -> Decoded:
            query = parse_qs(url.query, keep_blank_values=True)
            return query, parse_body(method, url.path, raw), len(raw)

        reply = self.server.app.serve(method, url.path, receive=receive, decode=decode)
        self._send(reply.status, reply.payload, reply.headers)

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Pinecone-Api-Version", API_VERSION)
        self.send_header("X-Pinecone-Request-Id", str(self.server.app.next_request_id()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "_method", "") != "HEAD":  # a HEAD answer has headers only
            self.wfile.write(data)


class ConnectionTrackingServer(ThreadingHTTPServer):
    """Remembers its open connections, so stopping hangs up on keep-alive clients too."""

    daemon_threads = True
    allow_reuse_address = True
    app: LocalPineconeServer

    def __init__(
        self, address: tuple[str, int], app: LocalPineconeServer, *, read_timeout: float | None = None
    ) -> None:
        self.app = app
        handler: type[RequestHandler] = RequestHandler
        if read_timeout is not None:
            seconds = float(read_timeout)

            class TimedHandler(RequestHandler):
                timeout = seconds

            handler = TimedHandler
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

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
