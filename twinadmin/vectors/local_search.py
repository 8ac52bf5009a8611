"""Exact search over the embedded store (`LocalStore` mixes this in).

A dense query is answered from a per-namespace float32 matrix kept in memory (`MatrixCache`:
bounded, least recently used across namespaces) and checked against the namespace's version in
the store file on every query, inside the query's own read transaction: every write (upsert,
update, delete, in this process or any other writing the same file) bumps the version, so a
cached matrix is used only for exactly the snapshot it was loaded from. For the cosine metric the
rows are divided by their norms (stored at write time) once, when the matrix is loaded, so a
query is one matrix-vector product. A namespace larger than the bound, a sparse or hybrid query,
and a store with the cache turned off are answered by scanning the namespace in bounded chunks
keeping a running top-k, as before. Both paths are exact: scores in float32 (float64 where
float32 overflows), ties broken by id.

Also the encoding of a vector's sparse part as one blob (uint32 indices, then float32 weights).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from . import limits
from .errors import InvalidRequest
from .filters import Predicate, compile_filter
from .types import Match, SparseValues, Vector

# Rows per query chunk are sized so one chunk of float32 values stays around this many bytes.
SCAN_CHUNK_BYTES = 16 * 1024 * 1024
SCAN_CHUNK_MAX_ROWS = 10_000
_SQL_IN_CHUNK = 500
_ROW_COLUMNS = "id, vals, metadata, sparse"
# The largest float32: a score beyond it (a dot product of values near the limit) is clamped to it.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# The memory bound of the query cache when neither the caller nor VECTOR_LOCAL_CACHE_MB says.
DEFAULT_CACHE_MB = 1024.0
# Python objects per cached row beside its values (id string, metadata string, list slots), and
# per cached namespace (the entry, its arrays' headers, its filters).
_ROW_OVERHEAD_BYTES = 160
_ENTRY_OVERHEAD_BYTES = 4096
# Filters whose matching rows a cached namespace remembers (a few bytes per row each).
_MASKS_PER_NAMESPACE = 16
# float32 unit roundoff: bounds the rounding error of a float32 dot product (see _euclidean).
_F32_UNIT = 2.0**-24


def sparse_blob(sparse: SparseValues | None) -> bytes | None:
    if sparse is None:
        return None
    return sparse.indices.astype("<u4").tobytes() + sparse.values.astype("<f4").tobytes()


def sparse_from_blob(blob: bytes | None) -> SparseValues | None:
    if blob is None:
        return None
    half = len(blob) // 2
    return SparseValues(np.frombuffer(blob[:half], dtype="<u4"), np.frombuffer(blob[half:], dtype="<f4"))


def load_metadata(text: str | None) -> dict[str, Any] | None:
    """Stored metadata JSON back to a dict: orjson, or the standard library for what orjson
    refuses and Python wrote (a lone surrogate in a string, an integer beyond 64 bits)."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dense_norms(blobs: Sequence[bytes], dimension: int) -> list[float]:
    """The L2 norm of each float32 blob, computed in float64 (stored beside the vector)."""
    if not blobs or dimension == 0:
        return [0.0] * len(blobs)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimension)
    return np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64)).tolist()


def top_k_order(ids: np.ndarray, keys: np.ndarray, top_k: int) -> np.ndarray:
    """Positions of the `top_k` smallest keys, ties broken by id: the exact top-k under the total
    order (key, id), so merging running top-ks of chunks gives the top-k of the whole."""
    if len(keys) > top_k:
        kth = np.partition(keys, top_k - 1)[top_k - 1]
        candidates = np.flatnonzero(keys <= kth)  # every row tied with the k-th stays in the race
    else:
        candidates = np.arange(len(keys))
    order = np.lexsort((ids[candidates].astype(str), keys[candidates]))[:top_k]
    return candidates[order]


@dataclass(frozen=True)
class NamespaceMatrix:
    """One namespace at one version: ids, values (rows divided by their norms for cosine),
    the stored norms and the metadata JSON, row for row."""

    version: int
    ids: np.ndarray  # object array of str
    matrix: np.ndarray  # (rows, dimension) float32
    norms: np.ndarray  # float64
    metadata: list[str | None]
    nbytes: int
    # canonical filter JSON -> positions of the rows it matches (this version's rows)
    matches: dict[str, np.ndarray] = field(default_factory=dict, compare=False)
    _matches_lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def matching_rows(self, filter: Mapping[str, Any], predicate: Predicate) -> np.ndarray:
        """Positions of the rows whose metadata matches; remembered per filter, since the
        same filter tends to come back (every namespace of a multi-twin search, the next page)."""
        try:
            key = limits.canonical_json(filter)
        except (TypeError, ValueError):  # not JSON (a Python caller's own types): just evaluate
            return _matching_rows(self.metadata, predicate)
        with self._matches_lock:
            rows = self.matches.get(key)
        if rows is None:
            rows = _matching_rows(self.metadata, predicate)
            with self._matches_lock:
                if len(self.matches) >= _MASKS_PER_NAMESPACE:
                    self.matches.pop(next(iter(self.matches)))
                self.matches[key] = rows
        return rows


class MatrixCache:
    """Namespace matrices, least recently used first out, holding at most `max_bytes`. A
    namespace that would not fit alone is never cached (its queries scan instead)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._entries: OrderedDict[str, NamespaceMatrix] = OrderedDict()
        self._lock = threading.Lock()  # the web server queries from several threads
        self._loading: dict[str, threading.Lock] = {}

    def _own(self) -> None:
        # A forked worker starts empty: its parent's entries are copies it would only keep
        # alive, and a lock a parent thread held at fork time would never be released here.
        if self._pid != os.getpid():
            self._reset()

    @property
    def nbytes(self) -> int:
        self._own()
        with self._lock:
            return sum(entry.nbytes for entry in self._entries.values())

    def namespaces(self) -> dict[str, int]:
        """Cached namespace -> the version it was loaded at, least recently used first."""
        self._own()
        with self._lock:
            return {name: entry.version for name, entry in self._entries.items()}

    def loading(self, namespace: str) -> threading.Lock:
        """Held while a namespace is loaded, so concurrent queries of one namespace load it
        once (and hold one copy) instead of each their own."""
        self._own()
        with self._lock:
            return self._loading.setdefault(namespace, threading.Lock())

    def fits(self, nbytes: int) -> bool:
        return nbytes <= self.max_bytes

    def get(self, namespace: str, version: int) -> NamespaceMatrix | None:
        """The matrix of `namespace` at `version`; a stale one is dropped (its memory goes back
        before the fresh one is loaded)."""
        self._own()
        with self._lock:
            entry = self._entries.get(namespace)
            if entry is None:
                return None
            if entry.version != version:
                del self._entries[namespace]
                return None
            self._entries.move_to_end(namespace)
            return entry

    def put(self, namespace: str, entry: NamespaceMatrix) -> None:
        if not self.fits(entry.nbytes):
            return
        self._own()
        with self._lock:
            self._entries.pop(namespace, None)
            used = sum(e.nbytes for e in self._entries.values())
            while self._entries and used + entry.nbytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                used -= evicted.nbytes
            self._entries[namespace] = entry

    def clear(self) -> None:
        self._own()
        with self._lock:
            self._entries.clear()


class LocalSearch:
    """The query side of `LocalStore`, which provides the attributes and the two methods below."""

    dimension: int
    metric: str
    vector_type: str
    scan_chunk_rows: int
    matrix_cache: MatrixCache

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _vector(
        self, vector_id: str, blob: bytes, metadata: str | None, sparse: bytes | None = None
    ) -> Vector:
        raise NotImplementedError

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
                f"SELECT {_ROW_COLUMNS} FROM vectors WHERE namespace = ? AND id > ? ORDER BY id",
                (namespace, after),
            )
            for vector_id, blob, metadata, sparse in rows:
                meta = load_metadata(metadata)
                if not predicate(meta):
                    continue
                if len(page) == limit:
                    token = limits.encode_token("meta", next(reversed(page)))
                    break
                page[vector_id] = Vector(
                    vector_id, np.frombuffer(blob, dtype=np.float32), meta, sparse_from_blob(sparse)
                )
        return page, token

    # -- scoring --------------------------------------------------------------------------------

    def _chunked_scores(self, matrix: np.ndarray, query: np.ndarray, query_norm: float) -> np.ndarray:
        """`_scores` over a whole cached matrix, a bounded chunk at a time (its float64 fallback
        and the euclidean difference would otherwise copy the whole matrix)."""
        rows = max(1, SCAN_CHUNK_BYTES // (4 * max(1, self.dimension)))
        if len(matrix) <= rows:
            return self._scores(matrix, query, query_norm)
        starts = range(0, len(matrix), rows)
        return np.concatenate([self._scores(matrix[i : i + rows], query, query_norm) for i in starts])

    def _scores(self, matrix: np.ndarray, query: np.ndarray, query_norm: float) -> np.ndarray:
        """Scores in float32; a chunk whose float32 arithmetic overflows (values near float32's
        limit) is scored again in float64, so a cosine is never NaN and a dot product or distance
        beyond float32 is clamped to its largest value (see `_keys`) instead of answering `null`."""
        with np.errstate(over="ignore", invalid="ignore"):
            scores = self._raw_scores(matrix, query, query_norm)
        if np.isfinite(scores).all():
            return scores
        return self._raw_scores(matrix.astype(np.float64), query.astype(np.float64), query_norm)

    def _raw_scores(self, matrix: np.ndarray, query: np.ndarray, query_norm: float) -> np.ndarray:
        if self.metric == "dotproduct":
            return matrix @ query
        if self.metric == "cosine":
            norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
            denominators = norms * query_norm
            if not np.isfinite(denominators).all():  # an overflow would score 0: ask for float64
                return np.full(len(matrix), np.nan)
            return (matrix @ query) / denominators
        diff = matrix - query  # euclidean: Pinecone reports the squared distance, lower is closer
        return np.einsum("ij,ij->i", diff, diff)

    def _keys(self, scores: np.ndarray) -> np.ndarray:
        """Sort keys (smallest first) of float32-clamped scores."""
        scores = np.clip(scores, -_FLOAT32_MAX, _FLOAT32_MAX).astype(np.float32, copy=False)
        return scores if self.metric == "euclidean" else -scores

    def _hits(self, ids: np.ndarray, keys: np.ndarray, top_k: int) -> list[tuple[str, float]]:
        sign = 1.0 if self.metric == "euclidean" else -1.0
        return [(str(ids[i]), sign * float(keys[i])) for i in top_k_order(ids, keys, top_k)]

    # -- the uncached path: a bounded scan --------------------------------------------------------

    def _scan(
        self,
        conn: sqlite3.Connection,
        namespace: str,
        query: np.ndarray | None,
        top_k: int,
        predicate: Predicate | None,
        sparse_query: SparseValues | None = None,
    ) -> list[tuple[str, float]]:
        """Exact top-k over the namespace, reading bounded chunks and keeping a running best.
        With a sparse query (dotproduct only) each score adds the sparse dot product to the
        dense one, as Pinecone scores a hybrid query; a sparse-only index scores sparse alone."""
        chunk_rows = max(1, min(self.scan_chunk_rows, SCAN_CHUNK_BYTES // (4 * max(1, self.dimension))))
        query_norm = float(np.linalg.norm(query.astype(np.float64))) if query is not None else 0.0
        # Only the columns this query needs: metadata for a filter, sparse for a sparse query.
        columns = "id, vals, metadata, sparse" if sparse_query is not None else "id, vals"
        if predicate is not None and sparse_query is None:
            columns = "id, vals, metadata"
        cursor = conn.execute(f"SELECT {columns} FROM vectors WHERE namespace = ?", (namespace,))
        best_ids = np.empty(0, dtype=object)
        best_keys = np.empty(0, dtype=np.float32)
        while True:
            rows = cursor.fetchmany(chunk_rows)
            if not rows:
                break
            if predicate is not None:
                rows = [row for row in rows if predicate(load_metadata(row[2]))]
                if not rows:
                    continue
            ids = np.array([row[0] for row in rows], dtype=object)
            if query is not None:
                matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(
                    len(rows), self.dimension
                )
                scores = self._scores(matrix, query, query_norm)
            else:
                scores = np.zeros(len(rows), dtype=np.float64)
            if sparse_query is not None:
                scores = scores + np.array([_sparse_dot(sparse_query, row[3]) for row in rows])
            best_ids = np.concatenate([best_ids, ids])
            best_keys = np.concatenate([best_keys, self._keys(scores)])
            if len(best_keys) > top_k:
                keep = top_k_order(best_ids, best_keys, top_k)
                best_ids, best_keys = best_ids[keep], best_keys[keep]
        return self._hits(best_ids, best_keys, top_k)

    # -- the cached path: one matrix-vector product ---------------------------------------------

    def _namespace_matrix(self, conn: sqlite3.Connection, namespace: str) -> NamespaceMatrix | None:
        """The namespace's matrix at the version this read transaction sees: from the cache, or
        loaded now (and cached) when it fits the bound; None when it does not (scan instead)."""
        row = conn.execute(
            "SELECT vector_count, version FROM namespaces WHERE name = ?", (namespace,)
        ).fetchone()
        if row is None or not row[0]:  # nothing to load (nor to keep an entry for)
            return self._empty_matrix()
        count, version = int(row[0]), int(row[1])
        cached = self.matrix_cache.get(namespace, version)
        if cached is not None:
            return cached
        if not self.matrix_cache.fits(count * (4 * self.dimension + 8 + _ROW_OVERHEAD_BYTES)):
            return None
        with self.matrix_cache.loading(namespace):
            cached = self.matrix_cache.get(namespace, version)  # another thread may just have
            if cached is not None:
                return cached
            entry = self._load_matrix(conn, namespace, version, count)
            if entry is not None:
                self.matrix_cache.put(namespace, entry)
        return entry

    def _empty_matrix(self) -> NamespaceMatrix:
        return NamespaceMatrix(
            -1,
            np.empty(0, dtype=object),
            np.empty((0, self.dimension), dtype=np.float32),
            np.empty(0),
            [],
            0,
        )

    def _load_matrix(
        self, conn: sqlite3.Connection, namespace: str, version: int, count: int
    ) -> NamespaceMatrix | None:
        """Read the namespace into one preallocated matrix, chunk by chunk (peak memory: the
        matrix plus one chunk). Norms missing from rows an older version wrote are computed."""
        dimension = self.dimension
        matrix = np.empty((count, dimension), dtype=np.float32)
        norms = np.empty(count, dtype=np.float64)
        ids: list[str] = []
        metadata: list[str | None] = []
        chunk_rows = max(1, SCAN_CHUNK_BYTES // (4 * dimension))
        cursor = conn.execute(
            "SELECT id, vals, norm, metadata FROM vectors WHERE namespace = ?", (namespace,)
        )
        filled = 0
        while rows := cursor.fetchmany(chunk_rows):
            end = filled + len(rows)
            if end > count:  # the count table disagrees with the rows: trust the scan
                return None
            block = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(
                len(rows), dimension
            )
            block_norms = np.array([np.nan if row[2] is None else row[2] for row in rows], dtype=np.float64)
            missing = np.isnan(block_norms)
            if missing.any():
                block_norms[missing] = np.sqrt(
                    np.einsum("ij,ij->i", block[missing], block[missing], dtype=np.float64)
                )
            norms[filled:end] = block_norms
            if self.metric == "cosine":
                target = matrix[filled:end]
                scales = 1.0 / np.where(block_norms > 0, block_norms, 1.0)
                # Multiplied in float32 (one pass) where the reciprocal is a normal float32;
                # divided in float64 where it is not (norms beyond ~1e30 or below ~1e-30).
                normal = (scales > 1e-30) & (scales < 1e30)
                np.multiply(block, scales.astype(np.float32)[:, None], out=target)
                if not normal.all():
                    target[~normal] = block[~normal] / block_norms[~normal][:, None]
            else:
                matrix[filled:end] = block
            ids.extend(row[0] for row in rows)
            metadata.extend(row[3] for row in rows)
            filled = end
        if filled < count:
            matrix, norms = matrix[:filled].copy(), norms[:filled].copy()
        nbytes = _ENTRY_OVERHEAD_BYTES + matrix.nbytes + norms.nbytes + filled * _ROW_OVERHEAD_BYTES
        nbytes += sum(len(i) for i in ids) + sum(len(m) for m in metadata if m is not None)
        return NamespaceMatrix(version, np.array(ids, dtype=object), matrix, norms, metadata, nbytes)

    def _matrix_hits(
        self,
        entry: NamespaceMatrix,
        query: np.ndarray,
        top_k: int,
        filter: Mapping[str, Any] | None,
        predicate: Predicate | None,
    ) -> list[tuple[str, float]]:
        rows: np.ndarray | None = None
        if predicate is not None and filter is not None:
            rows = entry.matching_rows(filter, predicate)
            if not rows.size:
                return []
        matrix, norms, ids = entry.matrix, entry.norms, entry.ids
        if rows is not None and rows.size * 4 < len(ids):  # a selective filter: score only those
            matrix, norms, ids, rows = matrix[rows], norms[rows], ids[rows], None
        query64 = query.astype(np.float64)
        query_norm = float(np.sqrt(np.dot(query64, query64)))
        if self.metric == "cosine":
            unit = (query64 / query_norm).astype(np.float32) if query_norm > 0 else query
            scores = matrix @ unit
        elif self.metric == "dotproduct":
            with np.errstate(over="ignore", invalid="ignore"):
                scores = matrix @ query
            if not np.isfinite(scores).all():
                scores = self._chunked_scores(matrix, query, query_norm)
        else:
            keys = self._euclidean(matrix, norms, query, query64, query_norm, top_k, rows)
            return self._hits(ids if rows is None else ids[rows], keys, top_k)
        keys = self._keys(scores)
        if rows is not None:
            ids, keys = ids[rows], keys[rows]
        return self._hits(ids, keys, top_k)

    def _euclidean(
        self,
        matrix: np.ndarray,
        norms: np.ndarray,
        query: np.ndarray,
        query64: np.ndarray,
        query_norm: float,
        top_k: int,
        rows: np.ndarray | None,
    ) -> np.ndarray:
        """Squared distances (as sort keys) of `rows` (all when None), exact where it matters.

        |x|² − 2x·q + |q|² from one float32 matrix-vector product ranks every row within a
        known error: a float32 dot product of n terms is off by at most γ·|x|·|q| with
        γ = n·u / (1 − n·u), u the float32 unit roundoff (Cauchy–Schwarz bounds Σ|xᵢqᵢ|), and the
        reference distance (Σ(xᵢ − qᵢ)² in float32, as the scan computes it) is within γ' of the
        true one. Every row whose lower bound is under the k-th smallest upper bound is a
        candidate; only the candidates get the reference distance. Everyone else gets +inf."""
        count = len(matrix) if rows is None else len(rows)
        with np.errstate(over="ignore", invalid="ignore"):
            dots = (matrix @ query).astype(np.float64)
        if rows is not None:
            dots, norms = dots[rows], norms[rows]
        if not np.isfinite(dots).all():  # float32 overflowed: score every row the reference way
            subset = matrix if rows is None else matrix[rows]
            return self._keys(self._chunked_scores(subset, query, query_norm))
        n = max(1, self.dimension)
        gamma = n * _F32_UNIT / (1 - n * _F32_UNIT)
        gamma_ref = (n + 2) * _F32_UNIT / (1 - (n + 2) * _F32_UNIT)
        approx = norms * norms - 2.0 * dots + query_norm * query_norm
        error = 2.0 * gamma * norms * query_norm + 1e-12 * (norms * norms + query_norm * query_norm)
        lower = np.maximum(approx - error, 0.0) * (1.0 - gamma_ref)
        upper = (approx + error) * (1.0 + gamma_ref)
        threshold = np.partition(upper, top_k - 1)[top_k - 1] if count > top_k else np.inf
        candidates = np.flatnonzero(lower <= threshold)
        keys = np.full(count, np.inf, dtype=np.float32)
        positions = candidates if rows is None else rows[candidates]
        keys[candidates] = self._keys(self._chunked_scores(matrix[positions], query, query_norm))
        return keys

    # -- the query API ----------------------------------------------------------------------------

    def _search(
        self,
        conn: sqlite3.Connection,
        namespace: str,
        query: np.ndarray | None,
        top_k: int,
        filter: Mapping[str, Any] | None,
        predicate: Predicate | None,
        sparse_query: SparseValues | None,
    ) -> list[tuple[str, float]]:
        if query is not None and sparse_query is None:
            entry = self._namespace_matrix(conn, namespace)
            if entry is not None:
                return self._matrix_hits(entry, query, top_k, filter, predicate) if len(entry.ids) else []
        return self._scan(conn, namespace, query, top_k, predicate, sparse_query)

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
        sparse_vector: SparseValues | Mapping[str, Any] | None = None,
    ) -> list[Match]:
        namespace = limits.normalize_namespace(namespace)
        top_k = limits.validate_top_k(top_k)
        if vector is not None and id is not None:
            raise InvalidRequest("query needs exactly one of vector or id")
        if id is not None and sparse_vector is not None:
            raise InvalidRequest("query by id takes no sparse vector")
        predicate = compile_filter(filter)  # a bad filter is refused before anything is read
        sparse_query = self._sparse_query(sparse_vector, given=vector is not None or id is not None)
        with self._read() as conn:
            query: np.ndarray | None = None
            if id is not None:
                row = conn.execute(
                    "SELECT vals, sparse FROM vectors WHERE namespace = ? AND id = ?",
                    (namespace, limits.validate_id(id, "query id")),
                ).fetchone()
                if row is None:
                    return []
                if self.vector_type == "sparse":
                    sparse_query = sparse_from_blob(row[1])
                else:
                    query = np.frombuffer(row[0], dtype=np.float32)
            elif vector is not None:
                try:
                    query = np.asarray(vector, dtype=np.float32)
                except (TypeError, ValueError) as exc:
                    raise InvalidRequest(f"query vector is not a list of numbers: {exc}") from exc
                if query.ndim != 1:
                    raise InvalidRequest("query vector must be a flat list of numbers")
                if self.vector_type == "sparse":
                    raise InvalidRequest("this index is sparse-only: query it with a sparse vector")
                limits.validate_values(query, self.dimension, self.metric, "query")
            hits = self._search(conn, namespace, query, top_k, filter, predicate, sparse_query)
            extra: dict[str, Vector] = {}
            if hits and (include_values or include_metadata):
                ids = [hit_id for hit_id, _ in hits]
                for chunk in limits.chunked(ids, _SQL_IN_CHUNK):
                    marks = ",".join("?" * len(chunk))
                    for vector_id, blob, metadata, sparse in conn.execute(
                        f"SELECT {_ROW_COLUMNS} FROM vectors WHERE namespace = ? AND id IN ({marks})",
                        [namespace, *chunk],
                    ):
                        extra[vector_id] = self._vector(vector_id, blob, metadata, sparse)
        return [
            Match(
                id=hit_id,
                score=score,
                values=extra[hit_id].values if include_values else None,
                metadata=extra[hit_id].metadata if include_metadata else None,
                sparse_values=extra[hit_id].sparse_values if include_values else None,
            )
            for hit_id, score in hits
        ]

    def _sparse_query(self, sparse_vector: Any, *, given: bool) -> SparseValues | None:
        """The checked sparse part of a query. A dense index takes one beside a dense vector
        (hybrid, dotproduct only); a sparse index needs one (or an id)."""
        if sparse_vector is None:
            if self.vector_type == "sparse" and not given:
                raise InvalidRequest("query needs a sparse vector or an id on a sparse-only index")
            if not given:
                raise InvalidRequest("query needs exactly one of vector or id")
            return None
        if self.vector_type == "dense" and not given:
            raise InvalidRequest("query needs a dense vector or an id on a dense index")
        sparse = limits.sparse_values(sparse_vector, "query sparse vector")
        if self.metric != "dotproduct":
            raise InvalidRequest(f"sparse queries need the dotproduct metric; this index uses {self.metric}")
        return sparse


def _matching_rows(metadata: Sequence[str | None], predicate: Predicate) -> np.ndarray:
    """Positions whose metadata matches; each distinct metadata text is parsed and tested once."""
    verdicts: dict[str | None, bool] = {}
    matched = []
    for position, text in enumerate(metadata):
        verdict = verdicts.get(text)
        if verdict is None:
            verdict = verdicts[text] = bool(predicate(load_metadata(text)))
        if verdict:
            matched.append(position)
    return np.array(matched, dtype=np.intp)


def _sparse_dot(query: SparseValues, blob: bytes | None) -> float:
    stored = sparse_from_blob(blob)
    return 0.0 if stored is None else query.dot(stored)
