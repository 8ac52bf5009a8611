"""A Pinecone-compatible data-plane server over the local store.

It speaks the REST API exactly as the pinecone SDK 10.x (API version 2026-07) sends it: camelCase
vector bodies, snake_case namespace bodies, Pinecone's error JSON (`{"code", "message",
"details"}`) and status codes. Any script written for Pinecone works unchanged when pointed at
`http://127.0.0.1:PORT` with any API key.

Fault injection makes it a test double for the hard parts of the real service: a share of
requests answered 429 (with Retry-After) or 503, added latency, stats/namespace counts that lag
writes by N seconds (Pinecone's counts are eventually consistent), and an outage refusing writes
to chosen namespaces for a while. Faults are decided before a request touches the store, so a
failed request never half-applies.

Built on the standard library's ThreadingHTTPServer: one thread per connection is plenty for a
test double and a single-machine deployment, and needs no new dependency.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import orjson

from . import limits
from .errors import InvalidRequest, NotFound, TransientError, VectorError
from .local import LocalStore
from .types import Vector

logger = logging.getLogger(__name__)

API_VERSION = "2026-07"
# gRPC status codes Pinecone's data plane puts in error bodies.
_GRPC_CODES = {400: 3, 401: 16, 404: 5, 405: 12, 413: 3, 429: 8, 500: 13, 503: 14}


_WRITE_ROUTES = {
    ("POST", "/vectors/upsert"): "upsert",
    ("POST", "/vectors/update"): "update",
    ("POST", "/vectors/delete"): "delete",
}
WRITE_OPERATIONS = frozenset(_WRITE_ROUTES.values())


@dataclass(frozen=True)
class FaultConfig:
    """What the server does wrong on purpose. Shares are probabilities per request."""

    fail_429: float = 0.0
    fail_503: float = 0.0
    latency_ms: float = 0.0
    count_lag_seconds: float = 0.0
    retry_after: float = 1.0  # seconds sent in Retry-After with 429 and 503
    seed: int | None = None
    # A partial outage: every write of `outage_operations` (upsert, update, delete; a namespace
    # delete is a delete) naming one of these namespaces is answered 503, from the first such
    # request on for `outage_seconds` (0: until the faults are changed). Reads keep working.
    outage_namespaces: frozenset[str] = frozenset()
    outage_operations: frozenset[str] = WRITE_OPERATIONS
    outage_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not (0 <= self.fail_429 <= 1 and 0 <= self.fail_503 <= 1 and self.fail_429 + self.fail_503 <= 1):
            raise ValueError("fail_429 and fail_503 are shares between 0 and 1 that sum to at most 1")
        if (
            self.latency_ms < 0
            or self.count_lag_seconds < 0
            or self.retry_after < 0
            or self.outage_seconds < 0
        ):
            raise ValueError("latency, lag, retry_after and outage_seconds cannot be negative")
        if isinstance(self.outage_namespaces, str):
            raise ValueError("outage_namespaces is a collection of namespace names, not one string")
        names = frozenset(limits.normalize_namespace(name) for name in self.outage_namespaces)
        object.__setattr__(self, "outage_namespaces", names)
        operations = frozenset(self.outage_operations)
        if isinstance(self.outage_operations, str) or not operations <= WRITE_OPERATIONS:
            raise ValueError(f"outage_operations are some of {', '.join(sorted(WRITE_OPERATIONS))}")
        object.__setattr__(self, "outage_operations", operations)


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class LaggedCounts:
    """Namespace counts as a reader would see them `lag` seconds ago.

    After every write the server records a snapshot of the exact counts; a read returns the
    newest snapshot at least `lag` seconds old (or the oldest one kept, taken when lag began)."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._snapshots: deque[tuple[float, dict[str, int]]] = deque()

    def reset(self) -> None:
        with self._lock:
            self._snapshots.clear()
            self._snapshots.append((time.monotonic(), self._store.counts()))

    def record(self, lag: float) -> None:
        """After a write. Without lag, reads see the store itself: nothing to keep (and nothing
        to pay: a snapshot counts every namespace). `reset()` starts the history when lag does."""
        if lag <= 0:
            return
        counts = self._store.counts()
        with self._lock:
            self._snapshots.append((time.monotonic(), counts))

    def view(self, lag: float) -> dict[str, int]:
        if lag <= 0:
            return self._store.counts()
        cutoff = time.monotonic() - lag
        with self._lock:
            # Drop snapshots superseded by a newer one that is already old enough.
            while len(self._snapshots) > 1 and self._snapshots[1][0] <= cutoff:
                self._snapshots.popleft()
            return dict(self._snapshots[0][1]) if self._snapshots else self._store.counts()


def _namespace_from(body: Mapping[str, Any] | None, query: Mapping[str, list[str]] | None) -> str:
    if body is not None:
        value = body.get("namespace", "")
    elif query is not None:
        value = query.get("namespace", [""])[-1]
    else:
        value = ""
    if not isinstance(value, str):
        raise InvalidRequest("namespace must be a string")
    return value


def _require_fields(body: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(f"{what}: unknown field(s) {', '.join(unknown)}")


def _bool_field(body: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be a boolean")
    return value


def _int_param(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer, got {value!r}") from None


def _float32_values(raw: Any, what: str) -> np.ndarray:
    if not isinstance(raw, list):
        raise InvalidRequest(f"{what} must be an array of numbers")
    array = np.array(raw) if raw else np.empty(0, dtype=np.float32)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "fiu"):
        raise InvalidRequest(f"{what} must be an array of numbers")
    return array.astype(np.float32)


def _vector_json(vector: Vector) -> dict[str, Any]:
    body: dict[str, Any] = {"id": vector.id, "values": vector.values}
    if vector.metadata is not None:
        body["metadata"] = vector.metadata
    return body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write with Nagle off: otherwise the client's delayed ACK
    # adds ~40 ms to every keep-alive request.
    wbufsize = 256 * 1024
    disable_nagle_algorithm = True
    server: _HTTPServer

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
            body: dict[str, Any] | None = None
            if method in ("POST", "PUT", "PATCH"):
                if path == "/vectors/upsert" and len(raw) > limits.MAX_UPSERT_BYTES:
                    raise ApiError(
                        413,
                        f"Request size {len(raw)} bytes exceeds the maximum supported size of "
                        f"{limits.MAX_UPSERT_BYTES} bytes",
                    )
                try:
                    parsed = orjson.loads(raw) if raw else {}
                except orjson.JSONDecodeError as exc:
                    raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc
                if not isinstance(parsed, dict):
                    raise InvalidRequest("request body must be a JSON object")
                body = parsed
            if path.startswith("/namespaces/"):
                namespace = unquote(path[len("/namespaces/") :])
            else:
                namespace = _namespace_from(body, query if body is None else None)
            app.refuse_during_outage(method, path, namespace)
            status, payload = app.route(method, path, query, body, len(raw))
            self._send(status, payload)
        except ApiError as exc:
            status = exc.status
            self._send_error(exc.status, exc.message, exc.headers)
        except InvalidRequest as exc:
            status = 400
            self._send_error(400, str(exc))
        except NotFound as exc:
            status = 404
            self._send_error(404, str(exc))
        except (TransientError, VectorError) as exc:
            status = 503 if isinstance(exc, TransientError) else 500
            self._send_error(status, str(exc))
        except Exception as exc:  # a bug must answer 500, never kill the connection silently
            logger.exception("pinecone_local: unhandled error for %s %s", method, path)
            status = 500
            self._send_error(500, f"internal error: {exc}")
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
        payload = {"code": _GRPC_CODES.get(status, 2), "message": message, "details": []}
        self._send(status, payload, headers)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: LocalPineconeServer

    def __init__(self, address: tuple[str, int], app: LocalPineconeServer) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

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


@dataclass
class _RequestRecord:
    method: str
    path: str
    namespace: str | None
    status: int
    duration_ms: float
    ts: float = field(default_factory=time.time)


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
    ) -> None:
        self.store = store
        self.faults = faults or FaultConfig()
        self._rng = random.Random(self.faults.seed)
        self._rng_lock = threading.Lock()
        self._outage_began: float | None = None
        self._request_ids = itertools.count(1)
        self._records: list[_RequestRecord] = []
        self._records_lock = threading.Lock()
        self._log_path = Path(request_log) if request_log else None
        self._log_file = self._log_path.open("a", encoding="utf-8") if self._log_path else None
        self.counts = LaggedCounts(store)
        self.counts.reset()
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None
        self._routes: dict[tuple[str, str], Callable[..., tuple[int, Any]]] = {
            ("POST", "/vectors/upsert"): self._upsert,
            ("GET", "/vectors/fetch"): self._fetch,
            ("POST", "/vectors/fetch_by_metadata"): self._fetch_by_metadata,
            ("POST", "/query"): self._query,
            ("POST", "/vectors/delete"): self._delete,
            ("POST", "/vectors/update"): self._update,
            ("GET", "/vectors/list"): self._list,
            ("POST", "/describe_index_stats"): self._stats,
            ("GET", "/describe_index_stats"): self._stats,
            ("GET", "/namespaces"): self._list_namespaces,
        }

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
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> LocalPineconeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_faults(self, **changes: Any) -> FaultConfig:
        """Change fault injection while running, e.g. `set_faults(fail_429=0.3, seed=1)`."""
        old_lag = self.faults.count_lag_seconds
        self.faults = replace(self.faults, **changes)
        if "seed" in changes:
            with self._rng_lock:
                self._rng = random.Random(self.faults.seed)
        if self.faults.count_lag_seconds != old_lag:
            self.counts.reset()
        if {"outage_namespaces", "outage_operations", "outage_seconds"} & set(changes):
            with self._rng_lock:
                self._outage_began = None
        return self.faults

    # -- request log ----------------------------------------------------------------------------

    def next_request_id(self) -> int:
        return next(self._request_ids)

    def log_request(self, **record: Any) -> None:
        entry = _RequestRecord(**record)
        with self._records_lock:
            self._records.append(entry)
            if self._log_file is not None:
                line = {
                    "ts": round(entry.ts, 6),
                    "method": entry.method,
                    "path": entry.path,
                    "namespace": entry.namespace,
                    "status": entry.status,
                    "duration_ms": round(entry.duration_ms, 3),
                }
                self._log_file.write(json.dumps(line) + "\n")
                self._log_file.flush()

    def request_count(self, *, path: str | None = None, status: int | None = None) -> int:
        with self._records_lock:
            return sum(
                1
                for r in self._records
                if (path is None or r.path == path) and (status is None or r.status == status)
            )

    # -- request handling -----------------------------------------------------------------------

    def before_request(self) -> None:
        """Latency and injected failures, decided before the store is touched."""
        faults = self.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if not (faults.fail_429 or faults.fail_503):
            return
        with self._rng_lock:
            roll = self._rng.random()
        retry_after = {"Retry-After": f"{faults.retry_after:g}"}
        if roll < faults.fail_429:
            raise ApiError(429, "Too many requests (injected by pinecone_local)", retry_after)
        if roll < faults.fail_429 + faults.fail_503:
            raise ApiError(503, "Service unavailable (injected by pinecone_local)", retry_after)

    def refuse_during_outage(self, method: str, path: str, namespace: str) -> None:
        """503 for a write to a namespace under an injected outage, before the store is touched."""
        faults = self.faults
        if not faults.outage_namespaces:
            return
        operation = "delete" if method == "DELETE" else _WRITE_ROUTES.get((method, path))
        if operation not in faults.outage_operations:
            return
        if limits.normalize_namespace(namespace) not in faults.outage_namespaces:
            return
        now = time.monotonic()
        with self._rng_lock:
            if self._outage_began is None:
                self._outage_began = now
            began = self._outage_began
        if faults.outage_seconds and now - began >= faults.outage_seconds:
            return
        raise ApiError(
            503,
            f"Namespace {limits.normalize_namespace(namespace)!r} is unavailable for {operation}s "
            "(outage injected by pinecone_local)",
            {"Retry-After": f"{faults.retry_after:g}"},
        )

    def route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: dict[str, Any] | None,
        body_bytes: int,
    ) -> tuple[int, Any]:
        handler = self._routes.get((method, path))
        if handler is not None:
            return handler(query=query, body=body or {}, body_bytes=body_bytes)
        if path.startswith("/namespaces/") and len(path) > len("/namespaces/"):
            name = unquote(path[len("/namespaces/") :])
            if method == "GET":
                return self._describe_namespace(name)
            if method == "DELETE":
                return self._delete_namespace(name)
            raise ApiError(405, f"{method} is not allowed on {path}")
        if any(route_path == path for _, route_path in self._routes):
            raise ApiError(405, f"{method} is not allowed on {path}")
        raise ApiError(404, f"no route for {method} {path}")

    def _upsert(self, *, body: dict[str, Any], body_bytes: int, **_: Any) -> tuple[int, Any]:
        _require_fields(body, {"vectors", "namespace"}, "upsert")
        raw_vectors = body.get("vectors")
        if not isinstance(raw_vectors, list):
            raise InvalidRequest("upsert: vectors must be an array")
        vectors = []
        for raw in raw_vectors:
            if not isinstance(raw, dict):
                raise InvalidRequest("upsert: each vector must be an object")
            _require_fields(raw, {"id", "values", "metadata", "sparseValues"}, "vector")
            if raw.get("sparseValues") is not None:
                raise InvalidRequest("sparse values are not supported by this dense index")
            values = _float32_values(raw.get("values"), "values")
            if values.size == 0:
                raise InvalidRequest(
                    "Vector must have at least one of non-empty dense values or sparse values"
                )
            limits.validate_id(raw.get("id"))
            metadata = raw.get("metadata")
            vectors.append(Vector(raw["id"], values, metadata))
        count = self.store.upsert_request(_namespace_from(body, None), vectors, request_bytes=body_bytes)
        self.counts.record(self.faults.count_lag_seconds)
        return 200, {"upsertedCount": count}

    def _fetch(self, *, query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        _require_fields(query, {"ids", "namespace"}, "fetch")
        namespace = _namespace_from(None, query)
        found = self.store.fetch_request(namespace, query.get("ids", []))
        return 200, {
            "vectors": {vector_id: _vector_json(v) for vector_id, v in found.items()},
            "namespace": namespace,
            "usage": {"readUnits": max(1, len(found) // 10)},
        }

    def _fetch_by_metadata(self, *, body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        _require_fields(body, {"filter", "namespace", "limit", "paginationToken"}, "fetch_by_metadata")
        namespace = _namespace_from(body, None)
        found, token = self.store.fetch_by_metadata(
            namespace,
            body.get("filter") or {},
            limit=body.get("limit", 100),
            pagination_token=body.get("paginationToken"),
        )
        payload: dict[str, Any] = {
            "vectors": {vector_id: _vector_json(v) for vector_id, v in found.items()},
            "namespace": namespace,
            "usage": {"readUnits": 1},
        }
        if token:
            payload["pagination"] = {"next": token}
        return 200, payload

    def _query(self, *, body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        allowed = {"topK", "includeValues", "includeMetadata", "namespace", "vector", "id", "filter"}
        _require_fields(body, allowed | {"sparseVector", "scanFactor", "maxCandidates"}, "query")
        if body.get("sparseVector") is not None:
            raise InvalidRequest("sparse vectors are not supported by this dense index")
        if body.get("scanFactor") is not None or body.get("maxCandidates") is not None:
            raise InvalidRequest("scanFactor and maxCandidates need dedicated read nodes")
        top_k = body.get("topK")
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise InvalidRequest("topK must be an integer")
        vector = body.get("vector")
        vector_id = body.get("id")
        if vector is not None and vector_id is not None:
            raise InvalidRequest("Cannot provide both 'ID' and 'vector' at the same time")
        if vector is not None:
            vector = _float32_values(vector, "vector")
        filter_ = body.get("filter")
        if filter_ is not None and not isinstance(filter_, dict):
            raise InvalidRequest("filter must be an object")
        include_values = _bool_field(body, "includeValues")
        include_metadata = _bool_field(body, "includeMetadata")
        namespace = _namespace_from(body, None)
        matches = self.store.query(
            namespace,
            vector=vector,
            id=vector_id,
            top_k=top_k,
            filter=filter_,
            include_values=include_values,
            include_metadata=include_metadata,
        )
        out = []
        for match in matches:
            item: dict[str, Any] = {"id": match.id, "score": match.score}
            if include_values:
                item["values"] = match.values
            if include_metadata and match.metadata is not None:
                item["metadata"] = match.metadata
            out.append(item)
        return 200, {"matches": out, "namespace": namespace, "usage": {"readUnits": 5}}

    def _delete(self, *, body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        _require_fields(body, {"ids", "deleteAll", "filter", "namespace"}, "delete")
        namespace = _namespace_from(body, None)
        ids, delete_all, filter_ = body.get("ids"), _bool_field(body, "deleteAll"), body.get("filter")
        if sum([ids is not None, delete_all, filter_ is not None]) != 1:
            raise InvalidRequest("delete needs exactly one of ids, deleteAll or filter")
        if ids is not None:
            if not isinstance(ids, list):
                raise InvalidRequest("ids must be an array of strings")
            self.store.delete_request(namespace, ids)
        elif delete_all:
            self.store.delete_namespace(namespace)
        else:
            if not isinstance(filter_, dict):
                raise InvalidRequest("filter must be an object")
            self.store.delete_by_filter(namespace, filter_)
        self.counts.record(self.faults.count_lag_seconds)
        return 200, {}

    def _update(self, *, body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        _require_fields(
            body, {"id", "values", "setMetadata", "namespace", "filter", "dryRun", "sparseValues"}, "update"
        )
        if body.get("filter") is not None:
            raise InvalidRequest("update by metadata filter is not supported by the local server")
        if body.get("sparseValues") is not None:
            raise InvalidRequest("sparse values are not supported by this dense index")
        set_metadata = body.get("setMetadata")
        if set_metadata is not None and not isinstance(set_metadata, dict):
            raise InvalidRequest("setMetadata must be an object")
        values = body.get("values")
        self.store.update(
            _namespace_from(body, None),
            limits.validate_id(body.get("id")),
            values=_float32_values(values, "values") if values is not None else None,
            set_metadata=set_metadata,
        )
        self.counts.record(self.faults.count_lag_seconds)
        return 200, {}

    def _list(self, *, query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        _require_fields(query, {"namespace", "prefix", "limit", "paginationToken"}, "list")
        namespace = _namespace_from(None, query)
        limit = _int_param(query.get("limit", [None])[-1], "limit")
        page = self.store.list_ids(
            namespace,
            prefix=query.get("prefix", [None])[-1],
            limit=100 if limit is None else limit,
            pagination_token=query.get("paginationToken", [None])[-1],
        )
        payload: dict[str, Any] = {
            "vectors": [{"id": vector_id} for vector_id in page.ids],
            "namespace": namespace,
            "usage": {"readUnits": 1},
        }
        if page.next_token:
            payload["pagination"] = {"next": page.next_token}
        return 200, payload

    def _stats(self, *, body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        _require_fields(body, {"filter"}, "describe_index_stats")
        if body.get("filter"):
            raise InvalidRequest("describe_index_stats does not support a metadata filter on this index")
        counts = self.counts.view(self.faults.count_lag_seconds)
        return 200, {
            "namespaces": {name: {"vectorCount": count} for name, count in sorted(counts.items())},
            "dimension": self.store.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": self.store.metric,
            "vectorType": "dense",
        }

    def _list_namespaces(self, *, query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        _require_fields(query, {"prefix", "limit", "paginationToken"}, "list_namespaces")
        counts = self.counts.view(self.faults.count_lag_seconds)
        limit = _int_param(query.get("limit", [None])[-1], "limit")
        page, token = limits.page_namespaces(
            counts,
            prefix=query.get("prefix", [None])[-1],
            limit=100 if limit is None else limit,
            pagination_token=query.get("paginationToken", [None])[-1],
        )
        payload: dict[str, Any] = {
            "namespaces": [{"name": name, "record_count": count} for name, count in page],
            "total_count": sum(1 for count in counts.values() if count > 0),
        }
        if token:
            payload["pagination"] = {"next": token}
        return 200, payload

    def _describe_namespace(self, name: str) -> tuple[int, Any]:
        name = limits.normalize_namespace(name)
        counts = self.counts.view(self.faults.count_lag_seconds)
        info = limits.namespace_info(name, counts.get(name))
        return 200, {"name": info.name, "record_count": info.vector_count}

    def _delete_namespace(self, name: str) -> tuple[int, Any]:
        # 404 for an absent (or, for the default namespace, empty) one: "deleted something"
        # and "nothing to delete" must stay distinguishable to callers, as on Pinecone.
        name = limits.normalize_namespace(name)
        if not self.store.delete_namespace(name):
            raise NotFound(f"Namespace {name!r} not found")
        self.counts.record(self.faults.count_lag_seconds)
        return 202, {}
