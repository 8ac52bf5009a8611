"""The embedded vector store: one SQLite file that behaves like a Pinecone index.

Concurrency and crash safety come from SQLite: WAL mode lets readers go on while one writer
commits, every write request is one `BEGIN IMMEDIATE` transaction (so a killed process leaves
each batch either fully applied or not at all), and a busy timeout makes writers from the web
server and several worker processes queue for the lock instead of failing. Connections are per
thread and per process (a forked worker never reuses its parent's connection).

Vectors are float32 blobs (bit-exact round trip), metadata canonical JSON; the sparse part of a
hybrid vector (or the whole of one in a sparse-only index) is one blob of uint32 indices followed
by as many float32 weights. Namespaces created explicitly (empty) are kept in their own table.
Per-namespace counts live in a table maintained by triggers inside the same transactions, so
stats are exact and cheap; the same triggers bump the namespace's version on every row written
or deleted, which is what tells any process's query cache that its copy is stale. Each row keeps
the L2 norm of its dense values, computed when it is written. Search is exact (local_search.py):
from a cached per-namespace matrix, or by scanning the namespace in bounded chunks.

Files written by an earlier schema are migrated in place when opened (see `_migrate`).
"""

from __future__ import annotations

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
from .errors import ConfigurationError, InvalidRequest, NamespaceExists, TransientError, VectorError
from .filters import Predicate, compile_filter
from .local_search import (
    _ROW_COLUMNS,
    _SQL_IN_CHUNK,
    DEFAULT_CACHE_MB,
    SCAN_CHUNK_MAX_ROWS,
    LocalSearch,
    MatrixCache,
    dense_norms,
    load_metadata,
    sparse_blob,
    sparse_from_blob,
)
from .types import (
    DEFAULT_NAMESPACE,
    IdPage,
    IndexStats,
    NamespaceInfo,
    NamespacePage,
    SparseValues,
    Vector,
)

# 1: the first layout; 2: `vectors.norm`, `namespaces.version` and the triggers that bump it.
SCHEMA_VERSION = "2"
# Rows a migration backfills norms for per statement batch.
_BACKFILL_ROWS = 2000

_TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # A rowid table (not WITHOUT ROWID): rows carry multi-kilobyte blobs.
    "CREATE TABLE IF NOT EXISTS vectors ("
    " namespace TEXT NOT NULL, id TEXT NOT NULL, vals BLOB NOT NULL, metadata TEXT, sparse BLOB,"
    " norm REAL, PRIMARY KEY (namespace, id))",
    # Namespaces created explicitly (POST /namespaces): they exist while empty, until deleted.
    "CREATE TABLE IF NOT EXISTS created_namespaces (name TEXT PRIMARY KEY, schema TEXT) WITHOUT ROWID",
    # One row per namespace ever written, kept at count 0 when emptied so that its version only
    # ever grows: a cache keyed by (namespace, version) can never mistake new rows for old ones.
    "CREATE TABLE IF NOT EXISTS namespaces ("
    " name TEXT PRIMARY KEY, vector_count INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 0)"
    " WITHOUT ROWID",
)
# Triggers rather than bumps in Python: a write by any process or any version of this code, even
# a plain SQL statement, moves the version in the same transaction as the rows it changes.
_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS vectors_v2_insert AFTER INSERT ON vectors BEGIN"
    " INSERT INTO namespaces (name, vector_count, version) VALUES (NEW.namespace, 1, 1)"
    " ON CONFLICT (name) DO UPDATE SET vector_count = vector_count + 1, version = version + 1; END",
    "CREATE TRIGGER IF NOT EXISTS vectors_v2_delete AFTER DELETE ON vectors BEGIN"
    " UPDATE namespaces SET vector_count = vector_count - 1, version = version + 1"
    " WHERE name = OLD.namespace; END",
    "CREATE TRIGGER IF NOT EXISTS vectors_v2_update AFTER UPDATE ON vectors BEGIN"
    " UPDATE namespaces SET version = version + 1 WHERE name IN (OLD.namespace, NEW.namespace); END",
)
# Schema 1's triggers: they deleted a namespace's row (and so its version) when it emptied.
_OLD_TRIGGERS = ("vectors_count_insert", "vectors_count_delete")

_UPSERT_SQL = (
    "INSERT INTO vectors (namespace, id, vals, metadata, sparse, norm) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (namespace, id) DO UPDATE SET vals = excluded.vals, metadata = excluded.metadata,"
    " sparse = excluded.sparse, norm = excluded.norm"
)
# A stored row: (id, blob, metadata JSON, sparse blob, stored bytes).
Row = tuple[str, bytes, str | None, bytes | None, int]


def stored_bytes(vector: Vector, metadata_json: str | None = None) -> int:
    """The bytes a vector takes in the file (id, values, metadata JSON, sparse part): what
    `upsert` sizes its transactions by, arithmetically (no JSON encoding of the values)."""
    if metadata_json is None and vector.metadata is not None:
        metadata_json = limits.normalize_metadata(vector.metadata)[1]
    size = len(vector.id) + vector.values.nbytes
    if metadata_json:
        size += len(metadata_json.encode("utf-8"))
    if vector.sparse_values is not None:
        size += 8 * len(vector.sparse_values)
    return size


def _configured_cache_mb() -> float:
    """VECTOR_LOCAL_CACHE_MB when Django is configured (the web process, workers, commands),
    the default otherwise (a script using the store on its own)."""
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
    except ImportError:
        return DEFAULT_CACHE_MB
    try:
        return float(getattr(settings, "VECTOR_LOCAL_CACHE_MB", DEFAULT_CACHE_MB))
    except ImproperlyConfigured:  # settings not configured: nothing to read
        return DEFAULT_CACHE_MB


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


class LocalStore(LocalSearch, VectorIndex):
    """A Pinecone-like index in one SQLite file. `dimension`/`metric`/`vector_type` None adopt
    what an existing file holds; given values must match it (ConfigurationError otherwise). A
    sparse-only index (`vector_type="sparse"`) has dimension 0 and the dotproduct metric.
    `cache_mb` bounds the memory of the query cache (0 turns it off); None reads
    VECTOR_LOCAL_CACHE_MB."""

    is_exact = True  # every query scores every row (cached matrix or scan): the exact top-k
    concurrency_hint = 1  # in-process and CPU-bound, one writer (see bench/search_bench.py)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        dimension: int | None = None,
        metric: str | None = None,
        vector_type: str | None = None,
        busy_timeout: float = 30.0,
        scan_chunk_rows: int = SCAN_CHUNK_MAX_ROWS,
        cache_mb: float | None = None,
    ) -> None:
        self.path = Path(path)
        cache_mb = _configured_cache_mb() if cache_mb is None else float(cache_mb)
        if not cache_mb >= 0:
            raise ConfigurationError(f"the query cache bound must be 0 or more megabytes, got {cache_mb}")
        self.matrix_cache = MatrixCache(int(cache_mb * 1024 * 1024))
        self.busy_timeout = busy_timeout
        self.scan_chunk_rows = max(1, int(scan_chunk_rows))  # at most this many rows per query chunk
        self._local = threading.local()
        if metric is not None and metric not in limits.METRICS:
            raise ConfigurationError(f"metric must be one of {', '.join(limits.METRICS)}, got {metric!r}")
        if vector_type is not None and vector_type not in limits.VECTOR_TYPES:
            raise ConfigurationError(f"vector type must be dense or sparse, got {vector_type!r}")
        if vector_type == "sparse":
            if metric not in (None, "dotproduct"):
                raise ConfigurationError("a sparse index uses the dotproduct metric")
            metric, dimension = "dotproduct", 0
        elif dimension is not None and not 1 <= int(dimension) <= limits.MAX_DIMENSION:
            raise ConfigurationError(f"dimension must be 1-{limits.MAX_DIMENSION}, got {dimension}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dimension, self.metric, self.vector_type = self._init_schema(dimension, metric, vector_type)

    def __repr__(self) -> str:
        return (
            f"LocalStore({str(self.path)!r}, dimension={self.dimension}, metric={self.metric!r}, "
            f"vector_type={self.vector_type!r})"
        )

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

    def _init_schema(
        self, dimension: int | None, metric: str | None, vector_type: str | None
    ) -> tuple[int, str, str]:
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
        if stored.get("schema") != SCHEMA_VERSION:
            # A new file (or one an earlier schema wrote): create or migrate what is missing,
            # unless another process just did.
            with self._write() as conn:
                for statement in _TABLES:
                    conn.execute(statement)
                stored = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                if stored and stored.get("schema") != SCHEMA_VERSION:
                    self._migrate(conn, int(stored["dimension"]))
                    stored["schema"] = SCHEMA_VERSION
                for statement in _TRIGGERS:
                    conn.execute(statement)
                if not stored:
                    if dimension is None or metric is None:
                        raise ConfigurationError(
                            f"{self.path} holds no index yet: give its dimension and metric to create one"
                        )
                    conn.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [
                            ("dimension", str(dimension)),
                            ("metric", metric),
                            ("vector_type", vector_type or "dense"),
                            ("schema", SCHEMA_VERSION),
                        ],
                    )
                    return int(dimension), metric, vector_type or "dense"
        stored_dimension, stored_metric = int(stored["dimension"]), stored["metric"]
        stored_type = stored.get("vector_type", "dense")
        if vector_type is not None and vector_type != stored_type:
            raise ConfigurationError(
                f"{self.path} holds a {stored_type} index, but {vector_type} is asked for"
            )
        if dimension is not None and int(dimension) != stored_dimension:
            raise ConfigurationError(
                f"{self.path} holds an index of dimension {stored_dimension}, but dimension {dimension} "
                "is configured; point VECTOR_LOCAL_PATH at another file or fix VECTOR_DIMENSION"
            )
        if metric is not None and metric != stored_metric:
            raise ConfigurationError(
                f"{self.path} holds an index with metric {stored_metric!r}, but {metric!r} is configured"
            )
        return stored_dimension, stored_metric, stored_type

    @staticmethod
    def _migrate(conn: sqlite3.Connection, dimension: int) -> None:
        """Bring a file of an earlier schema up to this one, in the caller's write transaction
        (all or nothing; a second process opening the file meanwhile waits, then finds it done).
        Existing rows keep their values bit for bit; their norms are computed now."""
        columns = {row[1] for row in conn.execute("PRAGMA table_info(vectors)")}
        if "sparse" not in columns:  # files from before hybrid vectors
            conn.execute("ALTER TABLE vectors ADD COLUMN sparse BLOB")
        if "norm" not in columns:
            conn.execute("ALTER TABLE vectors ADD COLUMN norm REAL")
        if "version" not in {row[1] for row in conn.execute("PRAGMA table_info(namespaces)")}:
            conn.execute("ALTER TABLE namespaces ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
        for name in _OLD_TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        last = 0
        while True:
            rows = conn.execute(
                "SELECT rowid, vals FROM vectors WHERE rowid > ? AND norm IS NULL ORDER BY rowid LIMIT ?",
                (last, _BACKFILL_ROWS),
            ).fetchall()
            if not rows:
                break
            norms = dense_norms([row[1] for row in rows], dimension)
            conn.executemany(
                "UPDATE vectors SET norm = ? WHERE rowid = ?",
                [(norm, row[0]) for norm, row in zip(norms, rows, strict=True)],
            )
            last = rows[-1][0]
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))

    # -- reads ----------------------------------------------------------------------------------

    def counts(self, *, include_created: bool = False) -> dict[str, int]:
        """Exact per-namespace counts of non-empty namespaces; with `include_created`, the
        explicitly created empty ones too (count 0)."""
        sql = "SELECT name, vector_count FROM namespaces WHERE vector_count > 0"
        if include_created:
            sql += (
                " UNION SELECT name, 0 FROM created_namespaces"
                " WHERE name NOT IN (SELECT name FROM namespaces WHERE vector_count > 0)"
            )
        with _mapped_errors():
            return dict(self._conn().execute(sql + " ORDER BY name").fetchall())

    def describe_index_stats(self) -> IndexStats:
        counts = self.counts()
        return IndexStats(
            dimension=self.dimension,
            metric=self.metric,
            total_vector_count=sum(counts.values()),
            namespaces=counts,
            vector_type=self.vector_type,
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
        return limits.namespace_info(name, self.counts(include_created=True).get(name))

    def create_namespace(self, name: str, schema: Mapping[str, Any] | None = None) -> NamespaceInfo:
        """Create an empty namespace (Pinecone's POST /namespaces). InvalidRequest when it
        exists already (the server answers 409 then)."""
        name = limits.normalize_namespace(name)
        with self._write() as conn:
            exists = conn.execute(
                "SELECT 1 FROM namespaces WHERE name = ? AND vector_count > 0"
                " UNION SELECT 1 FROM created_namespaces WHERE name = ?",
                (name, name),
            ).fetchone()
            if exists or name == DEFAULT_NAMESPACE:
                raise NamespaceExists(f"Namespace {name!r} already exists")
            conn.execute(
                "INSERT INTO created_namespaces (name, schema) VALUES (?, ?)",
                (name, limits.canonical_json(schema) if schema is not None else None),
            )
        return NamespaceInfo(name, 0)

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
        # One lower bound only: given two (`id >= prefix AND id > token`), SQLite seeks the
        # index by one and filters by the other, and paging a namespace becomes quadratic.
        if after is not None and after >= low:
            sql = "SELECT id FROM vectors WHERE namespace = ? AND id > ? AND id < ? ORDER BY id LIMIT ?"
            params: list[Any] = [namespace, after, high, limit + 1]
        else:
            sql = "SELECT id FROM vectors WHERE namespace = ? AND id >= ? AND id < ? ORDER BY id LIMIT ?"
            params = [namespace, low, high, limit + 1]
        with _mapped_errors():
            ids = [row[0] for row in self._conn().execute(sql, params)]
        token = limits.encode_token("ids", ids[limit - 1]) if len(ids) > limit else None
        return IdPage(ids=ids[:limit], next_token=token)

    def _vector(
        self, vector_id: str, blob: bytes, metadata: str | None, sparse: bytes | None = None
    ) -> Vector:
        values = np.frombuffer(blob, dtype=np.float32)  # read-only view of the immutable blob
        return Vector(
            vector_id,
            values,
            load_metadata(metadata),
            sparse_from_blob(sparse),
        )

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
                    f"SELECT {_ROW_COLUMNS} FROM vectors WHERE namespace = ? AND id IN ({marks})",
                    [namespace, *chunk],
                )
                for vector_id, blob, metadata, sparse in rows:
                    found[vector_id] = self._vector(vector_id, blob, metadata, sparse)
        return {i: found[i] for i in wanted if i in found}

    def fetch_request(self, namespace: str, ids: Sequence[str]) -> dict[str, Vector]:
        """fetch() as one API request: at most MAX_FETCH_IDS ids."""
        if not ids:
            raise InvalidRequest("fetch needs at least one id")
        if len(ids) > limits.MAX_FETCH_IDS:
            raise InvalidRequest(f"fetch takes at most {limits.MAX_FETCH_IDS} ids, got {len(ids)}")
        return self.fetch(namespace, ids)

    # -- writes ---------------------------------------------------------------------------------

    def _prepare(self, vectors: Sequence[Vector]) -> list[Row]:
        """Validate every vector before anything is written: a bad vector fails the whole
        request, as on Pinecone. Returns (id, blob, metadata JSON, sparse blob, stored bytes)."""
        rows = []
        for vector in vectors:
            if not isinstance(vector, Vector):
                raise InvalidRequest(f"expected Vector objects, got {type(vector).__name__}")
            limits.validate_id(vector.id)
            limits.validate_vector(vector, self.dimension, self.metric, self.vector_type)
            _, metadata_json = limits.normalize_metadata(vector.metadata)
            rows.append(
                (
                    vector.id,
                    vector.values.tobytes(),
                    metadata_json,
                    sparse_blob(vector.sparse_values),
                    stored_bytes(vector, metadata_json),
                )
            )
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
            request_bytes = sum(
                limits.vector_wire_bytes(vector, row[2]) for vector, row in zip(vectors, rows, strict=True)
            )
        limits.check_upsert_request(len(rows), request_bytes)
        return self._write_rows(namespace, rows)

    def _write_rows(self, namespace: str, rows: Sequence[Row]) -> int:
        norms = dense_norms([r[1] for r in rows], self.dimension)
        with self._write() as conn:
            conn.executemany(
                _UPSERT_SQL,
                [(namespace, r[0], r[1], r[2], r[3], norm) for r, norm in zip(rows, norms, strict=True)],
            )
        return len(rows)

    def upsert(self, namespace: str, vectors: Sequence[Vector]) -> int:
        """Any number of vectors, written as a series of transactions of at most one request's
        worth (1000 vectors, 2 MB stored, sized by `stored_bytes`). Each is atomic; a failure
        part-way leaves earlier ones applied (as Pinecone does with a series of requests)."""
        namespace = limits.normalize_namespace(namespace)
        if not vectors:
            return 0
        rows = self._prepare(vectors)
        return sum(
            self._write_rows(namespace, batch)
            for batch in limits.plan_upsert_batches(rows, [row[4] for row in rows])
        )

    def update(
        self,
        namespace: str,
        vector_id: str,
        *,
        values: Sequence[float] | np.ndarray | None = None,
        set_metadata: Mapping[str, Any] | None = None,
        sparse_values: SparseValues | Mapping[str, Any] | None = None,
    ) -> bool:
        """Patch one vector: new dense and/or sparse values, metadata keys merged in. False
        when absent."""
        namespace = limits.normalize_namespace(namespace)
        limits.validate_id(vector_id)
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_ROW_COLUMNS} FROM vectors WHERE namespace = ? AND id = ?", (namespace, vector_id)
            ).fetchone()
            if row is None:
                return False
            old = self._vector(*row)
            patched = Vector(
                vector_id,
                old.values if values is None else np.asarray(values, dtype=np.float32),
                old.metadata,
                old.sparse_values if sparse_values is None else limits.sparse_values(sparse_values),
            )
            limits.validate_vector(patched, self.dimension, self.metric, self.vector_type)
            metadata_json = row[2]
            if set_metadata is not None:
                metadata_json = self._merged_metadata(metadata_json, set_metadata)
            blob = patched.values.tobytes()
            conn.execute(
                "UPDATE vectors SET vals = ?, metadata = ?, sparse = ?, norm = ?"
                " WHERE namespace = ? AND id = ?",
                (
                    blob,
                    metadata_json,
                    sparse_blob(patched.sparse_values),
                    dense_norms([blob], self.dimension)[0],
                    namespace,
                    vector_id,
                ),
            )
        return True

    @staticmethod
    def _merged_metadata(metadata_json: str | None, set_metadata: Mapping[str, Any]) -> str | None:
        if not isinstance(set_metadata, Mapping):
            raise InvalidRequest("setMetadata must be an object")
        merged = load_metadata(metadata_json) or {}
        merged.update(set_metadata)
        return limits.normalize_metadata(merged)[1]

    def _matching_ids(
        self, conn: sqlite3.Connection, namespace: str, predicate: Predicate
    ) -> list[tuple[str, str | None]]:
        """(id, metadata JSON) of the namespace's vectors matching `predicate`, cursor drained."""
        rows = conn.execute("SELECT id, metadata FROM vectors WHERE namespace = ?", (namespace,))
        return [(vector_id, metadata) for vector_id, metadata in rows if predicate(load_metadata(metadata))]

    def update_by_filter(
        self,
        namespace: str,
        filter: Mapping[str, Any],
        set_metadata: Mapping[str, Any],
        *,
        dry_run: bool = False,
    ) -> int:
        """Merge `set_metadata` into every vector whose metadata matches `filter`, in one
        transaction; the number matched (with `dry_run`, nothing is written)."""
        namespace = limits.normalize_namespace(namespace)
        predicate = compile_filter(filter)
        if predicate is None:
            raise InvalidRequest("update by filter needs a non-empty filter")
        limits.normalize_metadata(set_metadata)  # refuse bad metadata before anything is written
        with self._write() as conn:
            matched = self._matching_ids(conn, namespace, predicate)
            if not dry_run:
                conn.executemany(
                    "UPDATE vectors SET metadata = ? WHERE namespace = ? AND id = ?",
                    [
                        (self._merged_metadata(metadata, set_metadata), namespace, vector_id)
                        for vector_id, metadata in matched
                    ],
                )
        return len(matched)

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
            # Only the matching ids are kept; the cursor is drained before anything is deleted.
            doomed = [vector_id for vector_id, _ in self._matching_ids(conn, namespace, predicate)]
            _delete_rows(conn, namespace, doomed)
        return len(doomed)

    def delete_all(self, namespace: str) -> bool:
        """Empty the namespace (delete_all): its vectors go, a namespace created explicitly
        stays (empty). False when there was nothing to delete."""
        namespace = limits.normalize_namespace(namespace)
        with self._write() as conn:
            return conn.execute("DELETE FROM vectors WHERE namespace = ?", (namespace,)).rowcount > 0

    def delete_namespace(self, namespace: str) -> bool:
        namespace = limits.normalize_namespace(namespace)
        with self._write() as conn:
            created = conn.execute("DELETE FROM created_namespaces WHERE name = ?", (namespace,)).rowcount
            deleted = conn.execute("DELETE FROM vectors WHERE namespace = ?", (namespace,)).rowcount
        return bool(created or deleted)

    def namespace_exists(self, namespace: str) -> bool:
        """Whether Pinecone would know the namespace: it holds vectors or was created (the
        default namespace always exists)."""
        name = limits.normalize_namespace(namespace)
        return name == DEFAULT_NAMESPACE or name in self.counts(include_created=True)
