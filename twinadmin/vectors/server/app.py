"""The server itself: its lifecycle, its routes, its faults and its request log."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..local import LocalStore
from . import control_routes, namespace_routes, vector_routes
from .counts import LaggedCounts
from .faults import FaultConfig, FaultInjector
from .protocol import ApiError, namespace_in_path
from .request_log import RequestLog
from .transport import ConnectionTrackingServer

Route = Callable[..., tuple[int, Any]]

# Routes by method and exact path; `/namespaces/NAME` is matched in `route`.
ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/vectors/upsert"): vector_routes.upsert,
    ("GET", "/vectors/fetch"): vector_routes.fetch,
    ("POST", "/vectors/fetch_by_metadata"): vector_routes.fetch_by_metadata,
    ("POST", "/query"): vector_routes.query,
    ("POST", "/vectors/delete"): vector_routes.delete,
    ("POST", "/vectors/update"): vector_routes.update,
    ("GET", "/vectors/list"): vector_routes.list_vectors,
    ("POST", "/describe_index_stats"): namespace_routes.stats,
    ("GET", "/describe_index_stats"): namespace_routes.stats,
    ("GET", "/namespaces"): namespace_routes.list_namespaces,
    ("POST", "/namespaces"): namespace_routes.create_namespace,
    ("GET", "/indexes"): control_routes.list_indexes,
}
INDEXES_PATH = "/indexes/"
_ROUTE_PATHS = frozenset(path for _, path in ROUTES)


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
    ) -> None:
        self.store = store
        self.index_name = index_name
        self.api_key = api_key or None  # None: any non-empty key is accepted
        self._faults = FaultInjector(faults or FaultConfig())
        self._request_ids = itertools.count(1)
        self.requests = RequestLog(request_log)
        self.counts = LaggedCounts(store)
        self.counts.reset()
        self._httpd = ConnectionTrackingServer((host, port), self, read_timeout=read_timeout)
        self._thread: threading.Thread | None = None

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

    def start(self) -> LocalPineconeServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how quickly stop() returns
            name=f"pinecone-local-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
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

    # -- request log ----------------------------------------------------------------------------

    def next_request_id(self) -> int:
        return next(self._request_ids)

    def log_request(self, **record: Any) -> None:
        self.requests.add(**record)

    def request_count(self, *, path: str | None = None, status: int | None = None) -> int:
        return self.requests.count(path=path, status=status)

    # -- routing --------------------------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: dict[str, Any] | None,
        body_bytes: int,
    ) -> tuple[int, Any]:
        handler = ROUTES.get((method, path))
        if handler is not None:
            return handler(self, query=query, body=body or {}, body_bytes=body_bytes)
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
