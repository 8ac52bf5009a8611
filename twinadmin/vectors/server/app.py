"""The server itself: its lifecycle, its routes, its faults and its request log."""

from __future__ import annotations

import hmac
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..local import LocalStore
from . import control_routes, namespace_routes, vector_routes
from .counts import LaggedCounts
from .faults import FaultConfig, FaultInjector
from .protocol import NAMESPACES_PATH, ApiError, error_body, namespace_in_path, request_namespace
from .rate_limits import RateLimiter, RateLimits
from .request_log import RequestLog
from .transport import ConnectionTrackingServer, error_response

if TYPE_CHECKING:
    from .grpc_transport import GrpcTransport

Route = Callable[..., tuple[int, Any]]
# What a transport decoded of a request: its query parameters, its JSON-shaped body (None for a
# method without one) and its size on the wire in bytes.
Decoded = tuple[dict[str, list[str]], dict[str, Any] | None, int]

# Routes by method and exact path, each with the operation it is (the names Pinecone's rate
# limits and the request log use); `/namespaces/NAME` and `/indexes/NAME` are matched in `route`.
ROUTES: dict[tuple[str, str], tuple[str, Route]] = {
    ("POST", "/vectors/upsert"): ("upsert", vector_routes.upsert),
    ("GET", "/vectors/fetch"): ("fetch", vector_routes.fetch),
    ("POST", "/vectors/fetch_by_metadata"): ("fetch_by_metadata", vector_routes.fetch_by_metadata),
    ("POST", "/query"): ("query", vector_routes.query),
    ("POST", "/vectors/delete"): ("delete", vector_routes.delete),
    ("POST", "/vectors/update"): ("update", vector_routes.update),
    ("GET", "/vectors/list"): ("list", vector_routes.list_vectors),
    ("POST", "/describe_index_stats"): ("describe_index_stats", namespace_routes.stats),
    ("GET", "/describe_index_stats"): ("describe_index_stats", namespace_routes.stats),
    ("GET", "/namespaces"): ("list_namespaces", namespace_routes.list_namespaces),
    ("POST", "/namespaces"): ("create_namespace", namespace_routes.create_namespace),
    ("GET", "/indexes"): ("list_indexes", control_routes.list_indexes),
}
INDEXES_PATH = "/indexes/"
_ROUTE_PATHS = frozenset(path for _, path in ROUTES)
_NAMESPACE_OPERATIONS = {"GET": "describe_namespace", "DELETE": "delete_namespace"}


def operation_of(method: str, path: str) -> str | None:
    if path.startswith(NAMESPACES_PATH):
        return _NAMESPACE_OPERATIONS.get(method)
    if path.startswith(INDEXES_PATH):
        return "describe_index" if method == "GET" else None
    entry = ROUTES.get((method, path))
    return entry[0] if entry else None


@dataclass(frozen=True)
class Reply:
    """A request's answer, for its transport to send: the status (HTTP's, which the gRPC
    transport maps to its codes), the JSON-shaped payload (Pinecone's error body for an error),
    headers to send, and for an error its message."""

    status: int
    payload: Any
    headers: Mapping[str, str]
    error: str | None = None


class LocalPineconeServer:
    """The server, startable in-process (`start()`/`stop()`, or as a context manager) on a free
    loopback port, or in the foreground by `manage.py pinecone_local` (`serve_forever()`)."""

    def __init__(
        self,
        store: LocalStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | None = None,
        request_log: str | Path | None = None,
        index_name: str = control_routes.DEFAULT_INDEX_NAME,
        api_key: str | None = None,
        read_timeout: float | None = None,
        grpc_port: int | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        """`grpc_port`: also serve Pinecone's gRPC data plane (plaintext) on this port of `host`
        (0: a free one); None: REST only. `rate_limits`: Pinecone's rate limits (None: none)."""
        self.store = store
        self.index_name = index_name
        self.api_key = api_key or None  # None: any non-empty key is accepted
        self._faults = FaultInjector(faults or FaultConfig())
        # The one limiter of both transports (a test may give it a clock of its own).
        self.rate_limiter = RateLimiter(rate_limits)
        self._request_ids = itertools.count(1)
        self.requests = RequestLog(request_log)
        self.counts = LaggedCounts(store)
        self.counts.reset()
        self._httpd = ConnectionTrackingServer((host, port), self, read_timeout=read_timeout)
        self._grpc: GrpcTransport | None = None
        if grpc_port is not None:
            try:
                self._grpc = self._bind_grpc(grpc_port)
            except BaseException:
                self._httpd.server_close()
                self.requests.close()
                raise
        self._thread: threading.Thread | None = None
        self._serving = False  # in serve_forever(), in the foreground

    def _bind_grpc(self, port: int) -> GrpcTransport:
        from .grpc_transport import GrpcTransport  # grpcio is loaded only when gRPC is served

        return GrpcTransport(self, self.host, port)

    def serve_grpc(self, port: int = 0) -> str:
        """Serve the gRPC data plane too, from now on (0: on a free port); its address. On a
        server that already serves it, nothing changes."""
        if self._grpc is None:
            self._grpc = self._bind_grpc(port)
        self._grpc.start()
        return str(self.grpc_url)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def grpc_port(self) -> int | None:
        return self._grpc.port if self._grpc is not None else None

    @property
    def grpc_url(self) -> str | None:
        """The gRPC data plane's address for the SDK (`pc.index(host=grpc_url, grpc=True)`, with
        `grpc_scheme="http"`: it is plaintext), None when gRPC is not served."""
        return f"http://{self.host}:{self.grpc_port}" if self._grpc is not None else None

    def start(self) -> LocalPineconeServer:
        if self._grpc is not None:
            self._grpc.start()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how quickly stop() returns
            name=f"pinecone-local-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        if self._grpc is not None:
            self._grpc.start()
        self._serving = True
        try:
            self._httpd.serve_forever()
        finally:
            self._serving = False

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop()
        # shutdown() waits for a serving loop to end: only when one runs or is about to (a
        # thread's), never after a Ctrl-C that came before serve_forever() began its loop.
        if self._thread is not None or self._serving:
            self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.requests.close()

    def __enter__(self) -> LocalPineconeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ---------------------------------------------------------------------------------

    @property
    def faults(self) -> FaultConfig:
        return self._faults.config

    @faults.setter
    def faults(self, config: FaultConfig) -> None:
        self._faults.config = config

    def set_faults(self, **changes: Any) -> FaultConfig:
        """Change fault injection while running, e.g. `set_faults(fail_429=0.3, seed=1)`."""
        old_lag = self.faults.count_lag_seconds
        faults = self._faults.change(**changes)
        if faults.count_lag_seconds != old_lag:
            self.counts.reset()
        return faults

    def before_request(self) -> None:
        """Latency and injected failures, decided before the store is touched."""
        self._faults.before_request()

    def refuse_during_outage(self, method: str, path: str, namespace: str) -> None:
        """503 for a write to a namespace under an injected outage, before the store is touched."""
        self._faults.refuse_during_outage(method, path, namespace)

    # -- rate limits ----------------------------------------------------------------------------

    @property
    def rate_limits(self) -> RateLimits | None:
        return self.rate_limiter.config

    @rate_limits.setter
    def rate_limits(self, config: RateLimits | None) -> None:
        self.rate_limiter.config = config

    # -- one request, whichever transport brought it ---------------------------------------------

    def check_api_key(self, given: str | None) -> None:
        if not given or (self.api_key is not None and not hmac.compare_digest(given, self.api_key)):
            raise ApiError(401, "Invalid API Key: pass your API key in the Api-Key header")

    def serve(
        self,
        method: str,
        path: str,
        *,
        receive: Callable[[], None],
        decode: Callable[[], Decoded],
        transport: str = "rest",
        log_path: str | None = None,
    ) -> Reply:
        """Answer one request as a (method, path) of the REST API. `receive` authenticates and
        reads it, before anything else (a client without the key gets nothing parsed); then the
        injected faults, `decode`, an injected outage, the rate limits and the route, in that
        order, so a refused request never touches the store. Every request, answered or refused,
        goes to the request log (under `log_path` when the transport names it otherwise)."""
        started = time.perf_counter()
        operation = operation_of(method, path)
        namespace: str | None = None
        status = 500
        try:
            receive()
            self.before_request()
            query, body, size = decode()
            namespace = request_namespace(path, body, query)
            self.refuse_during_outage(method, path, namespace)
            self.rate_limiter.admit(operation, namespace, size)
            status, payload = self.route(method, path, query, body, size)
            return Reply(status, payload, {})
        except Exception as exc:
            status, message, headers = error_response(exc, method, path)
            return Reply(status, error_body(status, message, path), headers, message)
        finally:
            self.log_request(
                method=method,
                path=log_path or path,
                namespace=namespace,
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000,
                transport=transport,
                operation=operation,
            )

    # -- request log ----------------------------------------------------------------------------

    def next_request_id(self) -> int:
        return next(self._request_ids)

    def log_request(self, **record: Any) -> None:
        self.requests.add(**record)

    def request_count(self, **filters: Any) -> int:
        """Requests logged, by RequestLog.count's filters: path, status, operation (e.g. "fetch",
        over both transports) and transport ("rest" or "grpc")."""
        return self.requests.count(**filters)

    # -- routing --------------------------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: dict[str, Any] | None,
        body_bytes: int,
    ) -> tuple[int, Any]:
        entry = ROUTES.get((method, path))
        if entry is not None:
            return entry[1](self, query=query, body=body or {}, body_bytes=body_bytes)
        if path.startswith(INDEXES_PATH) and "/" not in path[len(INDEXES_PATH) :]:
            if method == "GET":
                return control_routes.describe_index(self, unquote(path[len(INDEXES_PATH) :]))
            raise ApiError(405, f"{method} is not allowed on {path}")
        name = namespace_in_path(path)
        if name:
            if method == "GET":
                return namespace_routes.describe_namespace(self, name)
            if method == "DELETE":
                return namespace_routes.delete_namespace(self, name)
            raise ApiError(405, f"{method} is not allowed on {path}")
        if path in _ROUTE_PATHS:
            raise ApiError(405, f"{method} is not allowed on {path}")
        raise ApiError(404, f"no route for {method} {path}")
