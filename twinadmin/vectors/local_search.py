"""Exact search over the embedded store (`LocalStore` mixes this in): the namespace is scanned
in bounded chunks keeping a running top-k, scored in float32 (float64 where float32 overflows),
dense + sparse for a hybrid query on a dotproduct index, sparse alone on a sparse-only one. Also
the encoding of a vector's sparse part as one blob (uint32 indices, then float32 weights)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

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


def sparse_blob(sparse: SparseValues | None) -> bytes | None:
    if sparse is None:
        return None
    return sparse.indices.astype("<u4").tobytes() + sparse.values.astype("<f4").tobytes()


def sparse_from_blob(blob: bytes | None) -> SparseValues | None:
    if blob is None:
        return None
    half = len(blob) // 2
    return SparseValues(np.frombuffer(blob[:half], dtype="<u4"), np.frombuffer(blob[half:], dtype="<f4"))


class LocalSearch:
    """The query side of `LocalStore`, which provides the attributes and the two methods below."""

    dimension: int
    metric: str
    vector_type: str
    scan_chunk_rows: int

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
                meta = json.loads(metadata) if metadata is not None else None
                if not predicate(meta):
                    continue
                if len(page) == limit:
                    token = limits.encode_token("meta", next(reversed(page)))
                    break
                page[vector_id] = Vector(
                    vector_id, np.frombuffer(blob, dtype=np.float32), meta, sparse_from_blob(sparse)
                )
        return page, token

    def _scores(self, matrix: np.ndarray, query: np.ndarray, query_norm: float) -> np.ndarray:
        """Scores in float32; a chunk whose float32 arithmetic overflows (values near float32's
        limit) is scored again in float64, so a cosine is never NaN and a dot product or distance
        beyond float32 is clamped to its largest value (see `_scan`) instead of answering `null`."""
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
        lower_is_better = self.metric == "euclidean"
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
                rows = [row for row in rows if predicate(json.loads(row[2]) if row[2] is not None else None)]
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
            scores = np.clip(scores, -_FLOAT32_MAX, _FLOAT32_MAX).astype(np.float32, copy=False)
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
        sparse_vector: SparseValues | Mapping[str, Any] | None = None,
    ) -> list[Match]:
        namespace = limits.normalize_namespace(namespace)
        top_k = limits.validate_top_k(top_k)
        if vector is not None and id is not None:
            raise InvalidRequest("query needs exactly one of vector or id")
        if id is not None and sparse_vector is not None:
            raise InvalidRequest("query by id takes no sparse vector")
        predicate = compile_filter(filter)
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
            hits = self._scan(conn, namespace, query, top_k, predicate, sparse_query)
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


def _sparse_dot(query: SparseValues, blob: bytes | None) -> float:
    stored = sparse_from_blob(blob)
    return 0.0 if stored is None else query.dot(stored)
