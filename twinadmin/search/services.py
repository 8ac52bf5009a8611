"""Multi-twin search: one query over several of a creator's namespaces, merged by score, with
every hit keeping the namespace (and twin) it came from.

Pinecone's SDK has `query_namespaces`, but its merged matches do not say which namespace each
came from; here every namespace is queried on its own (concurrently, through a bounded pool) and
the merge keeps the attribution. Input is validated completely before the first request: a bad
vector, filter, top_k, creator or twin raises SearchInputError and queries nothing.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinadmin.lib.concurrency import bounded_map
from twinadmin.lib.text import UserJsonError, json_parse
from twinadmin.search.errors import SearchBackendError, SearchInputError
from twinadmin.search.pool import search_pool, search_workers
from twinadmin.search.selectors import Target, search_targets
from twinadmin.vectors import InvalidRequest, Vector, VectorError, VectorIndex, get_index, limits
from twinadmin.vectors.filters import compile_filter

MAX_TOP_K = limits.MAX_TOP_K


# -- input parsing, shared by the page's form and the commands ----------------------------------


def parse_vector(raw: str | Sequence[Any]) -> list[float]:
    """A pasted vector: a JSON array of numbers (or such a list already parsed)."""
    if isinstance(raw, str):
        try:
            raw = json_parse(raw, what="The vector")
        except UserJsonError as exc:
            raise SearchInputError(str(exc)) from None
    if not isinstance(raw, list) or not raw:
        raise SearchInputError("The vector must be a non-empty JSON array of numbers, e.g. [0.1, -0.2, …].")
    bad = next((v for v in raw if isinstance(v, bool) or not isinstance(v, int | float)), None)
    if bad is not None:
        raise SearchInputError(f"The vector must hold only numbers; found {json.dumps(bad)[:40]}.")
    if not all(math.isfinite(v) for v in raw):
        raise SearchInputError("The vector holds NaN or infinite values.")
    return [float(v) for v in raw]


def parse_filter(raw: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A metadata filter in Pinecone's language ($eq, $in, $and, …), as JSON text or a mapping.
    Empty means no filter. Validated here so a bad filter never reaches a namespace."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str):
        try:
            raw = json_parse(raw, what="The filter")
        except UserJsonError as exc:
            raise SearchInputError(str(exc)) from None
    if not isinstance(raw, Mapping):
        raise SearchInputError('The filter must be a JSON object, e.g. {"source": {"$eq": "notion"}}.')
    try:
        compile_filter(raw)
    except InvalidRequest as exc:
        raise SearchInputError(f"Bad filter: {exc}.") from None
    return dict(raw) or None


def parse_top_k(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise SearchInputError(f"top_k must be a whole number from 1 to {MAX_TOP_K:,}, got {value!r}.")
    return value


def lower_is_better(metric: str) -> bool:
    """Euclidean scores are (squared) distances: the closest hit has the lowest score. Cosine and
    dot product are similarities: highest first."""
    return metric == "euclidean"


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    namespace: str
    twin_id: str | None  # None: the creator-wide namespace
    metadata: dict[str, Any] | None = None

    @property
    def owner(self) -> str:
        return self.twin_id if self.twin_id is not None else "creator-wide"


@dataclass(frozen=True)
class NamespaceTiming:
    namespace: str
    twin_id: str | None
    matches: int
    latency_ms: float

    @property
    def owner(self) -> str:
        return self.twin_id if self.twin_id is not None else "creator-wide"


@dataclass(frozen=True)
class SearchResult:
    creator_id: str
    metric: str
    top_k: int
    filter: dict[str, Any] | None
    query_id: str | None  # the vector id searched by, or None for a pasted vector
    query_found_in: tuple[str, ...]  # namespaces holding `query_id`
    hits: list[Hit]
    namespaces: list[NamespaceTiming]
    fetch_ms: float  # looking up `query_id`'s values (0 for a pasted vector)
    query_ms: float  # wall time of the fan-out across namespaces
    total_ms: float
    concurrent: bool  # more than one namespace queried at a time
    workers: int = field(default=1)  # namespaces queried at a time
    query_namespace: str | None = None  # where `query_id` was taken from, when one was named
    excluded_self: bool = False  # hits of `query_id` in `query_found_in` were left out

    @property
    def slowest_ms(self) -> float:
        return max((n.latency_ms for n in self.namespaces), default=0.0)

    @property
    def sum_ms(self) -> float:
        """What the namespaces' queries cost one after another (compare with query_ms)."""
        return sum(n.latency_ms for n in self.namespaces)

    def as_dict(self) -> dict[str, Any]:
        return {
            "creator_id": self.creator_id,
            "metric": self.metric,
            "top_k": self.top_k,
            "filter": self.filter,
            "query_id": self.query_id,
            "query_found_in": list(self.query_found_in),
            "query_namespace": self.query_namespace,
            "excluded_self": self.excluded_self,
            "concurrent": self.concurrent,
            "workers": self.workers,
            "fetch_ms": round(self.fetch_ms, 3),
            "query_ms": round(self.query_ms, 3),
            "total_ms": round(self.total_ms, 3),
            "namespaces": [
                {
                    "namespace": n.namespace,
                    "twin_id": n.twin_id,
                    "owner": n.owner,
                    "matches": n.matches,
                    "latency_ms": round(n.latency_ms, 3),
                }
                for n in self.namespaces
            ],
            "hits": [
                {
                    "rank": rank,
                    "id": h.id,
                    "score": h.score,
                    "namespace": h.namespace,
                    "twin_id": h.twin_id,
                    "owner": h.owner,
                    "metadata": h.metadata,
                }
                for rank, h in enumerate(self.hits, start=1)
            ],
        }


# -- fan-out --------------------------------------------------------------------------------------


def merge_hits(per_namespace: Sequence[Sequence[Hit]], *, metric: str, top_k: int) -> list[Hit]:
    """The overall top_k by score in the metric's order. Ties break by namespace position, then
    id, so the merge never depends on which namespace answered first."""
    sign = 1.0 if lower_is_better(metric) else -1.0
    ranked = [
        (sign * hit.score, position, hit.id, hit)
        for position, hits in enumerate(per_namespace)
        for hit in hits
    ]
    ranked.sort(key=lambda row: row[:3])
    return [row[3] for row in ranked[:top_k]]


def _query_vector_for_id(
    index: VectorIndex, targets: list[Target], vector_id: str, *, streams: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The stored values of `vector_id`, looked up in every selected namespace. The same id in
    two namespaces with different values would make the query ambiguous: refuse, naming them."""
    try:
        limits.validate_id(vector_id, "vector id")
    except InvalidRequest as exc:
        raise SearchInputError(f"{exc}.") from None

    def fetch(target: Target) -> Vector | None:
        return index.fetch(target.namespace, [vector_id]).get(vector_id)

    try:
        found = list(bounded_map(fetch, targets, workers=streams, pool=search_pool()))
    except VectorError as exc:
        raise SearchBackendError(f"Looking up vector {vector_id!r} failed: {exc}") from exc
    holders = [(t.namespace, v) for t, v in zip(targets, found, strict=True) if v is not None]
    if not holders:
        names = ", ".join(t.namespace for t in targets)
        raise SearchInputError(f"Vector id {vector_id!r} was not found in the selected namespaces ({names}).")
    first = holders[0][1].values
    if any(not np.array_equal(v.values, first) for _, v in holders[1:]):
        names = ", ".join(ns for ns, _ in holders)
        raise SearchInputError(
            f"Vector id {vector_id!r} has different values in {names}: select only one of them."
        )
    return first, tuple(ns for ns, _ in holders)


def _query_vector_from(
    index: VectorIndex, targets: list[Target], vector_id: str, source: str, *, streams: int, copies: bool
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The stored values of `vector_id` in the namespace `source`, and where among `source` and
    the targets the same id holds exactly these values (the query vector itself, or a copy)."""
    try:
        source = limits.normalize_namespace(source)
        limits.validate_id(vector_id, "vector id")
    except InvalidRequest as exc:
        raise SearchInputError(f"{exc}.") from None
    try:
        stored = index.fetch(source, [vector_id]).get(vector_id)
    except VectorError as exc:
        raise SearchBackendError(f"Looking up vector {vector_id!r} in {source!r} failed: {exc}") from exc
    if stored is None:
        raise SearchInputError(f"Vector id {vector_id!r} was not found in namespace {source!r}.")
    if stored.values.size == 0:
        raise SearchInputError(f"Vector {vector_id!r} in {source!r} has no dense values to search with.")
    if not copies:
        return stored.values, (source,)
    others = [t for t in targets if t.namespace != source]

    def fetch(target: Target) -> Vector | None:
        return index.fetch(target.namespace, [vector_id]).get(vector_id)

    try:
        found = list(bounded_map(fetch, others, workers=streams, pool=search_pool())) if others else []
    except VectorError as exc:
        raise SearchBackendError(f"Looking up vector {vector_id!r} failed: {exc}") from exc
    same = [
        t.namespace
        for t, v in zip(others, found, strict=True)
        if v is not None and np.array_equal(v.values, stored.values)
    ]
    return stored.values, (source, *same)


def multi_twin_search(
    *,
    creator_id: str,
    twin_ids: Sequence[str] | None = None,
    include_shared: bool = True,
    vector: str | Sequence[float] | np.ndarray | None = None,
    vector_id: str | None = None,
    vector_namespace: str | None = None,
    exclude_self: bool = False,
    top_k: int = 10,
    filter: str | Mapping[str, Any] | None = None,
    concurrent: bool = True,
    workers: int | None = None,
    index: VectorIndex | None = None,
) -> SearchResult:
    """Query the creator's selected namespaces (`twin_ids=None`: every active twin; plus the
    creator-wide namespace unless `include_shared=False`) by a pasted `vector` or by the values of
    the stored `vector_id`, and merge the hits by score.

    `vector_namespace` names where `vector_id` is taken from (any namespace, searched or not);
    without it the id is looked up in the searched namespaces. `exclude_self` leaves the query
    vector itself out of the hits: its id wherever the same values are stored among the searched
    namespaces (a copy made by a migration is the same vector), never another vector that merely
    shares the id.

    `concurrent=False` queries one namespace after another; otherwise up to `workers` at a time
    (default: what suits the backend, see search_workers). The hits are the same either way."""
    started = time.perf_counter()
    targets = search_targets(creator_id=creator_id, twin_ids=twin_ids, include_shared=include_shared)
    top_k = parse_top_k(top_k)
    filter_dict = parse_filter(filter)
    if (vector is None) == (vector_id is None or vector_id == ""):
        raise SearchInputError("Search by a vector id or by a pasted vector (exactly one of them).")
    if vector_namespace is not None and vector is not None:
        raise SearchInputError("A namespace to take the query from goes with a vector id, not a pasted one.")
    index = index or get_index()
    streams = _stream_count(index, targets, concurrent=concurrent, workers=workers)

    looking_up = time.perf_counter()
    query, query_found_in = _query_vector(
        index, targets, vector, vector_id, vector_namespace, streams=streams, copies=exclude_self
    )
    fetched = time.perf_counter()
    self_id = vector_id if vector is None and exclude_self else None
    answers = _fan_out(
        index,
        targets,
        query,
        top_k=top_k,
        filter_dict=filter_dict,
        streams=streams,
        leave_out=(self_id, frozenset(query_found_in)) if self_id else None,
    )
    finished = time.perf_counter()
    return SearchResult(
        creator_id=creator_id,
        metric=index.metric,
        top_k=top_k,
        filter=filter_dict,
        query_id=vector_id if vector is None else None,
        query_found_in=query_found_in,
        hits=merge_hits([hits for hits, _ in answers], metric=index.metric, top_k=top_k),
        namespaces=[
            NamespaceTiming(t.namespace, t.twin_id, len(hits), spent)
            for t, (hits, spent) in zip(targets, answers, strict=True)
        ],
        fetch_ms=(fetched - looking_up) * 1000 if vector is None else 0.0,
        query_ms=(finished - fetched) * 1000,
        total_ms=(finished - started) * 1000,
        concurrent=streams > 1,
        workers=streams,
        query_namespace=vector_namespace if vector is None else None,
        excluded_self=self_id is not None,
    )


def _stream_count(index: VectorIndex, targets: list[Target], *, concurrent: bool, workers: int | None) -> int:
    """Namespaces queried at a time: `workers`, or what suits the backend; 1 when not
    `concurrent`; never more than there are namespaces."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SearchInputError(f"workers must be a whole number of at least 1, got {workers!r}.")
    return min(len(targets), (workers or search_workers(index)) if concurrent else 1)


def _query_vector(
    index: VectorIndex,
    targets: list[Target],
    vector: str | Sequence[float] | np.ndarray | None,
    vector_id: str | None,
    vector_namespace: str | None = None,
    *,
    streams: int,
    copies: bool = False,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The query's values (a pasted vector, validated against the index; or the stored values
    of `vector_id`) and the namespaces holding `vector_id` (none for a pasted vector): with
    `vector_namespace`, that one, plus (when `copies`) the searched ones holding the same id
    with the same values."""
    if vector is None and vector_namespace is not None:
        return _query_vector_from(
            index, targets, vector_id or "", vector_namespace, streams=streams, copies=copies
        )
    if vector is None:
        return _query_vector_for_id(index, targets, vector_id or "", streams=streams)
    values = vector if isinstance(vector, np.ndarray) else parse_vector(vector)
    query = np.asarray(values, dtype=np.float32)
    try:
        limits.validate_values(query, index.dimension, index.metric, "query")
    except InvalidRequest as exc:
        raise SearchInputError(f"{exc}.") from None
    return query, ()


def _fan_out(
    index: VectorIndex,
    targets: list[Target],
    query: np.ndarray,
    *,
    top_k: int,
    filter_dict: dict[str, Any] | None,
    streams: int,
    leave_out: tuple[str, frozenset[str]] | None = None,
) -> list[tuple[list[Hit], float]]:
    """Each target's hits and its query's latency in ms, in target order, `streams` at a time.
    `leave_out` is (id, namespaces): that id is no hit in those namespaces; they are asked for
    one more match so that leaving it out still gives top_k."""

    def run(target: Target) -> tuple[list[Hit], float]:
        skip = leave_out[0] if leave_out and target.namespace in leave_out[1] else None
        k = min(top_k + 1, MAX_TOP_K) if skip is not None else top_k
        began = time.perf_counter()
        matches = index.query(target.namespace, vector=query, top_k=k, filter=filter_dict)
        spent = (time.perf_counter() - began) * 1000
        hits = [
            Hit(m.id, m.score, target.namespace, target.twin_id, m.metadata) for m in matches if m.id != skip
        ]
        return hits[:top_k], spent

    try:
        # A failure is raised once every started query has finished: no thread is still querying
        # when the caller reports it.
        return list(bounded_map(run, targets, workers=streams, pool=search_pool()))
    except VectorError as exc:
        raise SearchBackendError(f"The index failed while searching: {exc}") from exc
