"""The embedded vector store: one SQLite file that behaves like a Pinecone index.

Concurrency and crash safety come from SQLite: WAL mode lets readers go on while one writer
commits, every write request is one `BEGIN IMMEDIATE` transaction (so a killed process leaves
each batch either fully applied or not at all), and a busy timeout makes writers from the web
server and several worker processes queue for the lock instead of failing. Connections are per
thread and per process (a forked worker never reuses its parent's connection).

Vectors are float32 blobs (bit-exact round trip), metadata canonical JSON. Per-namespace counts
live in a table maintained by triggers inside the same transactions, so stats are exact and
cheap. Search is exact: the namespace is scanned in bounded chunks keeping a running top-k.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from . import limits
from .base import VectorIndex
from .errors import ConfigurationError, InvalidRequest, TransientError, VectorError
from .filters import Predicate, compile_filter
from .types import IdPage, IndexStats, Match, NamespaceInfo, NamespacePage, Vector

SCHEMA_VERSION = "1"
# Rows per query chunk are sized so one chunk of float32 values stays around this many bytes.
SCAN_CHUNK_BYTES = 16 * 1024 * 1024
SCAN_CHUNK_MAX_ROWS = 10_000
_SQL_IN_CHUNK = 500

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # A rowid table (not WITHOUT ROWID): rows carry multi-kilobyte blobs.
    "CREATE TABLE IF NOT EXISTS vectors ("
    " namespace TEXT NOT NULL, id TEXT NOT NULL, vals BLOB NOT NULL, metadata TEXT,"
    " PRIMARY KEY (namespace, id))",
    "CREATE TABLE IF NOT EXISTS namespaces ("
    " name TEXT PRIMARY KEY, vector_count INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TRIGGER IF NOT EXISTS vectors_count_insert AFTER INSERT ON vectors BEGIN"
    " INSERT INTO namespaces (name, vector_count) VALUES (NEW.namespace, 1)"
    " ON CONFLICT (name) DO UPDATE SET vector_count = vector_count + 1; END",
    "CREATE TRIGGER IF NOT EXISTS vectors_count_delete AFTER DELETE ON vectors BEGIN"
    " UPDATE namespaces SET vector_count = vector_count - 1 WHERE name = OLD.namespace;"
    " DELETE FROM namespaces WHERE name = OLD.namespace AND vector_count <= 0; END",
)

_UPSERT_SQL = (
    "INSERT INTO vectors (namespace, id, vals, metadata) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (namespace, id) DO UPDATE SET vals = excluded.vals, metadata = excluded.metadata"
)


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """sqlite3 errors become layer errors: a lock we waited too long for is transient."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise TransientError(f"vector store is busy: {exc}") from exc
        raise VectorError(f"vector store error: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise VectorError(f"vector store error: {exc}") from exc


def _delete_rows(conn: sqlite3.Connection, namespace: str, ids: Sequence[str]) -> None:
    for chunk in limits.chunked(ids, _SQL_IN_CHUNK):
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM vectors WHERE namespace = ? AND id IN ({marks})", [namespace, *chunk])


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    # Ids are ASCII and SQLite compares text bytewise, so every id starting with `prefix` sorts in
    # [prefix, prefix + U+0080): U+0080 encodes as 0xC2 0x80, above every ASCII byte.
    return prefix, prefix + "\x80"


class LocalStore(VectorIndex):
    """A Pinecone-like index in one SQLite file. `dimension`/`metric` None adopt what an existing
    file holds; given values must match it (ConfigurationError otherwise)."""

    is_exact = True  # every query scans the namespace: the exact top-k
    concurrency_hint = 1  # in-process and CPU-bound, one writer (see bench/search_bench.py)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        dimension: int | None = None,
        metric: str | None = None,
        busy_timeout: float = 30.0,
        scan_chunk_rows: int = SCAN_CHUNK_MAX_ROWS,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.scan_chunk_rows = max(1, int(scan_chunk_rows))  # at most this many rows per query chunk
        self._local = threading.local()
        if metric is not None and metric not in limits.METRICS:
            raise ConfigurationError(f"metric must be one of {', '.join(limits.METRICS)}, got {metric!r}")
        if dimension is not None and not 1 <= int(dimension) <= limits.MAX_DIMENSION:
            raise ConfigurationError(f"dimension must be 1-{limits.MAX_DIMENSION}, got {dimension}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dimension, self.metric = self._init_schema(dimension, metric)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.path)!r}, dimension={self.dimension}, metric={self.metric!r})"

    # -- connections and transactions -----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: atomic and crash-safe, fewer fsyncs
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-16000")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._connect()
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. IMMEDIATE takes the write lock up front, so two writers never
        deadlock upgrading read locks; the busy timeout queues them instead."""
        conn = self._conn()
        with _mapped_errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees the same snapshot."""
        conn = self._conn()
        with _mapped_errors():
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @staticmethod
    def _stored_meta(conn: sqlite3.Connection) -> dict[str, str]:
        """The index's fixed settings, read without taking the write lock."""
        try:
            return dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {}
            raise

    def _init_schema(self, dimension: int | None, metric: str | None) -> tuple[int, str]:
        conn = self._conn()
        deadline = time.monotonic() + self.busy_timeout
        while True:  # switching to WAL needs a moment of exclusive access; retry if contended
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise ConfigurationError(f"cannot open vector store {self.path}: {exc}") from exc
                time.sleep(0.05)
        stored = self._stored_meta(conn)
        if not stored:  # a new file: create the schema, unless another process just did
            with self._write() as conn:
                for statement in _SCHEMA:
                    conn.execute(statement)
                stored = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                if not stored:
                    if dimension is None or metric is None:
                        raise ConfigurationError(
                            f"{self.path} holds no index yet: give its dimension and metric to create one"
                        )
                    conn.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("dimension", str(dimension)), ("metric", metric), ("schema", SCHEMA_VERSION)],
                    )
                    return int(dimension), metric
        stored_dimension, stored_metric = int(stored["dimension"]), stored["metric"]
        if dimension is not None and int(dimension) != stored_dimension:
            raise ConfigurationError(
                f"{self.path} holds an index of dimension {stored_dimension}, but dimension {dimension} "
                "is configured; point VECTOR_LOCAL_PATH at another file or fix VECTOR_DIMENSION"
            )
        if metric is not None and metric != stored_metric:
            raise ConfigurationError(
                f"{self.path} holds an index with metric {stored_metric!r}, but {metric!r} is configured"
            )
        return stored_dimension, stored_metric

    # -- reads ----------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Exact per-namespace counts of non-empty namespaces."""
        with _mapped_errors():
            rows = self._conn().execute(
                "SELECT name, vector_count FROM namespaces WHERE vector_count > 0 ORDER BY name"
            )
            return dict(rows.fetchall())

    def describe_index_stats(self) -> IndexStats:
        counts = self.counts()
        return IndexStats(
            dimension=self.dimension,
            metric=self.metric,
            total_vector_count=sum(counts.values()),
            namespaces=counts,
        )

    def list_namespaces(
        self, *, prefix: str | None = None, limit: int = 100, pagination_token: str | None = None
    ) -> NamespacePage:
        page, token = limits.page_namespaces(
            self.counts(), prefix=prefix, limit=limit, pagination_token=pagination_token
        )
        return NamespacePage([NamespaceInfo(name, count) for name, count in page], token)

    def describe_namespace(self, name: str) -> NamespaceInfo:
        name = limits.normalize_namespace(name)
        with _mapped_errors():
            row = (
                self._conn().execute("SELECT vector_count FROM namespaces WHERE name = ?", (name,)).fetchone()
            )
        return limits.namespace_info(name, row[0] if row else None)

    def list_ids(
        self,
        namespace: str,
        *,
        prefix: str | None = None,
        limit: int = 100,
        pagination_token: str | None = None,
    ) -> IdPage:
        namespace = limits.normalize_namespace(namespace)
        prefix = limits.validate_prefix(prefix)
        limit = limits.validate_limit(limit, limits.MAX_LIST_LIMIT)
        after = limits.decode_token("ids", pagination_token)
        low, high = _prefix_bounds(prefix)
        sql = "SELECT id FROM vectors WHERE namespace = ? AND id >= ? AND id < ?"
        params: list[Any] = [namespace, low, high]
        if after is not None:
            sql += " AND id > ?"
            params.append(after)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit + 1)
        with _mapped_errors():
            ids = [row[0] for row in self._conn().execute(sql, params)]
        token = limits.encode_token("ids", ids[limit - 1]) if len(ids) > limit else None
        return IdPage(ids=ids[:limit], next_token=token)

    def _vector(self, vector_id: str, blob: bytes, metadata: str | None) -> Vector:
        values = np.frombuffer(blob, dtype=np.float32)  # read-only view of the immutable blob
        return Vector(vector_id, values, json.loads(metadata) if metadata is not None else None)

    def fetch(self, namespace: str, ids: Sequence[str]) -> dict[str, Vector]:
        namespace = limits.normalize_namespace(namespace)
        if isinstance(ids, str):
            raise InvalidRequest("ids must be a sequence of strings, not one string")
        wanted = list(dict.fromkeys(limits.validate_id(i) for i in ids))
        found: dict[str, Vector] = {}
        with self._read() as conn:
            for chunk in limits.chunked(wanted, _SQL_IN_CHUNK):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT id, vals, metadata FROM vectors WHERE namespace = ? AND id IN ({marks})",
                    [namespace, *chunk],
                )
                for vector_id, blob, metadata in rows:
                    found[vector_id] = self._vector(vector_id, blob, metadata)
        return {i: found[i] for i in wanted if i in found}

    def fetch_request(self, namespace: str, ids: Sequence[str]) -> dict[str, Vector]:
        """fetch() as one API request: at most MAX_FETCH_IDS ids."""
        if not ids:
            raise InvalidRequest("fetch needs at least one id")
        if len(ids) > limits.MAX_FETCH_IDS:
            raise InvalidRequest(f"fetch takes at most {limits.MAX_FETCH_IDS} ids, got {len(ids)}")
        return self.fetch(namespace, ids)

    def fetch_by_metadata(
        self,
        namespace: str,
        filter: Mapping[str, Any],
        *,
        limit: int = 100,
        pagination_token: str | None = None,
    ) -> tuple[dict[str, Vector], str | None]:
        """Vectors whose metadata matches `filter`, in id order, one page at a time."""
        namespace = limits.normalize_namespace(namespace)
        predicate = compile_filter(filter)
        if predicate is None:
            raise InvalidRequest("fetch by metadata needs a non-empty filter")
        limit = limits.validate_limit(limit, 10_000)
        after = limits.decode_token("meta", pagination_token) or ""
        page: dict[str, Vector] = {}
        token = None
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, vals, metadata FROM vectors WHERE namespace = ? AND id > ? ORDER BY id",
                (namespace, after),
            )
            for vector_id, blob, metadata in rows:
                meta = json.loads(metadata) if metadata is not None else None
                if not predicate(meta):
                    continue
                if len(page) == limit:
                    token = limits.encode_token("meta", next(reversed(page)))
                    break
                page[vector_id] = Vector(vector_id, np.frombuffer(blob, dtype=np.float32), meta)
        return page, token

    # -- search ---------------------------------------------------------------------------------

    def _scores(self, matrix: np.ndarray, query: np.ndarray, query_norm: float) -> np.ndarray:
        if self.metric == "dotproduct":
            return matrix @ query
        if self.metric == "cosine":
            norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
            return (matrix @ query) / (norms * query_norm)
        diff = matrix - query  # euclidean: Pinecone reports the squared distance, lower is closer
        return np.einsum("ij,ij->i", diff, diff)

    def _scan(
        self,
        conn: sqlite3.Connection,
        namespace: str,
        query: np.ndarray,
        top_k: int,
        predicate: Predicate | None,
    ) -> list[tuple[str, float]]:
        """Exact top-k over the namespace, reading bounded chunks and keeping a running best."""
        chunk_rows = max(1, min(self.scan_chunk_rows, SCAN_CHUNK_BYTES // (4 * self.dimension)))
        lower_is_better = self.metric == "euclidean"
        query_norm = float(np.linalg.norm(query))
        columns = "id, vals, metadata" if predicate is not None else "id, vals"
        cursor = conn.execute(f"SELECT {columns} FROM vectors WHERE namespace = ?", (namespace,))
        best_ids = np.empty(0, dtype=object)
        best_keys = np.empty(0, dtype=np.float32)
        while True:
            rows = cursor.fetchmany(chunk_rows)
            if not rows:
                break
            if predicate is not None:
                rows = [row for row in rows if predicate(json.loads(row[2]) if row[2] is not None else None)]
                if not rows:
                    continue
            ids = np.array([row[0] for row in rows], dtype=object)
            matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(
                len(rows), self.dimension
            )
            scores = self._scores(matrix, query, query_norm).astype(np.float32, copy=False)
            keys = scores if lower_is_better else -scores
            best_ids = np.concatenate([best_ids, ids])
            best_keys = np.concatenate([best_keys, keys])
            if len(best_keys) > top_k:
                keep = np.argpartition(best_keys, top_k - 1)[:top_k]
                best_ids, best_keys = best_ids[keep], best_keys[keep]
        order: Any = np.lexsort((best_ids.astype(str), best_keys)) if len(best_ids) else []
        sign = 1.0 if lower_is_better else -1.0
        return [(str(best_ids[i]), sign * float(best_keys[i])) for i in order]

    def query(
        self,
        namespace: str,
        *,
        vector: Sequence[float] | np.ndarray | None = None,
        id: str | None = None,
        top_k: int = 10,
        filter: Mapping[str, Any] | None = None,
        include_values: bool = False,
        include_metadata: bool = True,
    ) -> list[Match]:
        namespace = limits.normalize_namespace(namespace)
        top_k = limits.validate_top_k(top_k)
        if (vector is None) == (id is None):
            raise InvalidRequest("query needs exactly one of vector or id")
        predicate = compile_filter(filter)
        with self._read() as conn:
            if id is not None:
                row = conn.execute(
                    "SELECT vals FROM vectors WHERE namespace = ? AND id = ?",
                    (namespace, limits.validate_id(id, "query id")),
                ).fetchone()
                if row is None:
                    return []
                query = np.frombuffer(row[0], dtype=np.float32)
            else:
                try:
                    query = np.asarray(vector, dtype=np.float32)
                except (TypeError, ValueError) as exc:
                    raise InvalidRequest(f"query vector is not a list of numbers: {exc}") from exc
                if query.ndim != 1:
                    raise InvalidRequest("query vector must be a flat list of numbers")
                limits.validate_values(query, self.dimension, self.metric, "query")
            hits = self._scan(conn, namespace, query, top_k, predicate)
            extra: dict[str, Vector] = {}
            if hits and (include_values or include_metadata):
                ids = [hit_id for hit_id, _ in hits]
                for chunk in limits.chunked(ids, _SQL_IN_CHUNK):
                    marks = ",".join("?" * len(chunk))
                    for vector_id, blob, metadata in conn.execute(
                        f"SELECT id, vals, metadata FROM vectors WHERE namespace = ? AND id IN ({marks})",
                        [namespace, *chunk],
                    ):
                        extra[vector_id] = self._vector(vector_id, blob, metadata)
        return [
            Match(
                id=hit_id,
                score=score,
                values=extra[hit_id].values if include_values else None,
                metadata=extra[hit_id].metadata if include_metadata else None,
            )
            for hit_id, score in hits
        ]

    # -- writes ---------------------------------------------------------------------------------

    def _prepare(self, vectors: Sequence[Vector]) -> list[tuple[str, bytes, str | None, int]]:
        """Validate every vector before anything is written: a bad vector fails the whole
        request, as on Pinecone. Returns (id, blob, metadata JSON, wire bytes) rows."""
        rows = []
        for vector in vectors:
            if not isinstance(vector, Vector):
                raise InvalidRequest(f"expected Vector objects, got {type(vector).__name__}")
            limits.validate_id(vector.id)
            limits.validate_values(vector.values, self.dimension, self.metric, vector.id)
            _, metadata_json = limits.normalize_metadata(vector.metadata)
            size = limits.vector_wire_bytes(vector, metadata_json)
            rows.append((vector.id, vector.values.tobytes(), metadata_json, size))
        return rows

    def upsert_request(
        self, namespace: str, vectors: Sequence[Vector], *, request_bytes: int | None = None
    ) -> int:
        """One upsert request, all or nothing, held to Pinecone's per-request limits. The local
        server passes the body size it received; direct callers get the JSON size estimated."""
        namespace = limits.normalize_namespace(namespace)
        if not vectors:
            raise InvalidRequest("upsert needs at least one vector")
        limits.check_upsert_request(len(vectors), 0)
        rows = self._prepare(vectors)
        if request_bytes is None:
            request_bytes = sum(row[3] for row in rows)
        limits.check_upsert_request(len(rows), request_bytes)
        return self._write_rows(namespace, rows)

    def _write_rows(self, namespace: str, rows: Sequence[tuple[str, bytes, str | None, int]]) -> int:
        with self._write() as conn:
            conn.executemany(_UPSERT_SQL, [(namespace, r[0], r[1], r[2]) for r in rows])
        return len(rows)

    def upsert(self, namespace: str, vectors: Sequence[Vector]) -> int:
        """Any number of vectors, written as a series of requests within the limits. Each
        request is atomic; a failure part-way leaves earlier requests applied (as Pinecone)."""
        namespace = limits.normalize_namespace(namespace)
        if not vectors:
            return 0
        rows = self._prepare(vectors)
        return sum(
            self._write_rows(namespace, batch)
            for batch in limits.plan_upsert_batches(rows, [row[3] for row in rows])
        )

    def update(
        self,
        namespace: str,
        vector_id: str,
        *,
        values: Sequence[float] | np.ndarray | None = None,
        set_metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """Patch one vector: new values and/or metadata keys merged in. False when absent."""
        namespace = limits.normalize_namespace(namespace)
        limits.validate_id(vector_id)
        with self._write() as conn:
            row = conn.execute(
                "SELECT vals, metadata FROM vectors WHERE namespace = ? AND id = ?", (namespace, vector_id)
            ).fetchone()
            if row is None:
                return False
            blob, metadata_json = row
            if values is not None:
                array = np.asarray(values, dtype=np.float32)
                limits.validate_values(array, self.dimension, self.metric, vector_id)
                blob = array.tobytes()
            if set_metadata is not None:
                merged = json.loads(metadata_json) if metadata_json else {}
                merged.update(set_metadata)
                _, metadata_json = limits.normalize_metadata(merged)
            conn.execute(
                "UPDATE vectors SET vals = ?, metadata = ? WHERE namespace = ? AND id = ?",
                (blob, metadata_json, namespace, vector_id),
            )
        return True

    def delete_ids(self, namespace: str, ids: Sequence[str]) -> None:
        namespace = limits.normalize_namespace(namespace)
        if isinstance(ids, str):
            raise InvalidRequest("ids must be a sequence of strings, not one string")
        wanted = [limits.validate_id(i) for i in ids]
        if not wanted:
            return
        # One transaction for the whole call: a killed process deletes all of these or none.
        with self._write() as conn:
            _delete_rows(conn, namespace, wanted)

    def delete_request(self, namespace: str, ids: Sequence[str]) -> None:
        """delete_ids() as one API request: at most 1000 ids, as Pinecone."""
        if len(ids) > limits.MAX_FETCH_IDS:
            raise InvalidRequest(f"delete takes at most {limits.MAX_FETCH_IDS} ids, got {len(ids)}")
        self.delete_ids(namespace, ids)

    def delete_by_filter(self, namespace: str, filter: Mapping[str, Any]) -> int:
        namespace = limits.normalize_namespace(namespace)
        predicate = compile_filter(filter)
        if predicate is None:
            raise InvalidRequest("Delete with empty metadata filter is not allowed")
        with self._write() as conn:
            rows = conn.execute("SELECT id, metadata FROM vectors WHERE namespace = ?", (namespace,))
            # Only the matching ids are kept; the cursor is drained before anything is deleted.
            doomed = [
                vector_id
                for vector_id, metadata in rows
                if predicate(json.loads(metadata) if metadata is not None else None)
            ]
            _delete_rows(conn, namespace, doomed)
        return len(doomed)

    def delete_namespace(self, namespace: str) -> bool:
        namespace = limits.normalize_namespace(namespace)
        with self._write() as conn:
            row = conn.execute("SELECT vector_count FROM namespaces WHERE name = ?", (namespace,)).fetchone()
            if row is None or row[0] <= 0:
                return False
            conn.execute("DELETE FROM vectors WHERE namespace = ?", (namespace,))
        return True
