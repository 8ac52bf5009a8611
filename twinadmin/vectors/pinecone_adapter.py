"""The vector layer over the real pinecone SDK (10.x, data-plane API 2026-07).

What this adds to the SDK:
- SDK exceptions become the layer's errors, so callers never import pinecone;
- input is validated before anything is sent, so a bad vector in batch 7 fails the call before
  batches 1-6 are written (the boundary rule: bad input changes nothing);
- upserts are split into requests within 1,000 vectors / 2 MB (sized from each vector's shape, an
  upper bound, not by encoding it: the SDK encodes it once to send it), fetches into batches of
  up to 1,000 ids whose query string stays small (REST fetch is a GET: the ids travel in the
  URL) and deletes into batches of 1,000;
- `transport="grpc"`: the SDK's gRPC data plane (packed float32, about 6 KB per 1536-dimensional
  vector instead of about 30 KB of JSON; ids of a fetch travel in the message, not a URL);
- retries with backoff honouring Retry-After. The SDK retries 429/5xx itself, but only three
  times and behind a per-host retry budget that switches retries off under sustained failure,
  which is exactly when a long migration needs them; tenacity takes over where it gives up.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import tenacity
from prometheus_client import Counter
from tenacity.wait import wait_base

from . import limits
from .base import VectorIndex
from .deadlines import call_deadline
from .errors import ConfigurationError, InvalidRequest, NotFound, RateLimited, TransientError, VectorError
from .filters import compile_filter
from .types import (
    DEFAULT_NAMESPACE,
    IdPage,
    IndexStats,
    Match,
    NamespaceInfo,
    NamespacePage,
    SparseValues,
    Vector,
    as_float32,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Ids per fetch request: the API's 1,000, but over REST each id travels in the query string, so
# a batch also stays within a URL budget well under the usual 8-16 KB limits of proxies.
FETCH_BATCH_IDS = limits.MAX_FETCH_IDS
FETCH_BATCH_URL_BYTES = 6_000
DELETE_BATCH_IDS = 1_000
TRANSPORTS = ("rest", "grpc")
# Characters a query string carries as they are; any other is percent-encoded (3 bytes a byte).
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")

# Every request to the index that failed, by the error it became (a retried one counts each time;
# NotFound is an answer, not an error). In-process: under gunicorn the web processes of a host
# share it through PROMETHEUS_MULTIPROC_DIR; workers elsewhere show in /metrics only through the
# jobs an index error failed (twinadmin.ops.metrics).
REQUEST_ERRORS = Counter(
    "twinadmin_index_request_errors",
    "Requests to the vector index that failed, by error",
    ["backend", "error"],
)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    initial_wait: float = 0.5
    max_wait: float = 30.0
    deadline: float = 300.0  # seconds for one call including all its retries


class _WaitHonouringRetryAfter(wait_base):
    """Wait what the server asked for (Retry-After) when it said; otherwise exponential backoff
    with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self._policy.max_wait)
        ceiling = self._policy.initial_wait * 2 ** (retry_state.attempt_number - 1)
        return min(self._policy.max_wait, ceiling) * random.uniform(0.5, 1.0)


def _opening_error(exc: VectorError) -> VectorError:
    """What opening the index failed with. A refusal that may lift (a 429, a 503, a timeout)
    stays what it is, so that a page says "busy, try again" and a worker retries; anything else
    is the settings' fault."""
    if isinstance(exc, ConfigurationError):
        return exc
    message = f"cannot open Pinecone index: {exc}"
    if isinstance(exc, RateLimited):
        return RateLimited(message, retry_after=exc.retry_after)
    if isinstance(exc, TransientError):
        return TransientError(message)
    return ConfigurationError(message)


def translate_error(exc: BaseException) -> VectorError:
    """Map an SDK (or transport) exception onto the layer's errors."""
    import httpx
    from pinecone.errors import exceptions as pe

    message = str(exc) or type(exc).__name__
    if isinstance(exc, pe.NotFoundError):
        return NotFound(message)
    if isinstance(exc, pe.RateLimitError):
        return RateLimited(message, retry_after=exc.retry_after)
    if isinstance(exc, pe.ServiceError | pe.PineconeTimeoutError | pe.PineconeConnectionError):
        return TransientError(message)
    if isinstance(exc, httpx.TransportError | TimeoutError | ConnectionError):
        return TransientError(message)
    if isinstance(exc, pe.UnauthorizedError | pe.ForbiddenError | pe.PaymentRequiredError):
        return ConfigurationError(message)
    if isinstance(exc, pe.ApiError):
        status = exc.status_code or 0
        if status == 429:  # over gRPC: RESOURCE_EXHAUSTED, raised as a plain ApiError
            return RateLimited(message, retry_after=_retry_after(exc.headers))
        if status == 408:
            return TransientError(message)
        if 400 <= status < 500:
            return InvalidRequest(message)
        return TransientError(message) if status >= 500 else VectorError(message)
    if isinstance(exc, pe.PineconeValueError | pe.PineconeTypeError):
        return InvalidRequest(message)
    return VectorError(message)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header or gRPC trailer (case-insensitive), if any."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _sdk_namespace(namespace: str) -> str:
    """Vector operations name the default namespace "" on the wire."""
    name = limits.normalize_namespace(namespace)
    return "" if name == DEFAULT_NAMESPACE else name


def _url_bytes(vector_id: str) -> int:
    """The id's bytes in a query string, plus "&ids=" (ids are ASCII: the SDK refuses others)."""
    if _URL_SAFE.fullmatch(vector_id):
        return len(vector_id) + 5
    return sum(1 if _URL_SAFE.fullmatch(c) else 3 * len(c.encode("utf-8")) for c in vector_id) + 5


def _id_batches(ids: Sequence[str], *, url_bytes: int | None = FETCH_BATCH_URL_BYTES) -> list[list[str]]:
    """Ids in fetch batches: at most FETCH_BATCH_IDS each and, when `url_bytes` is set (REST),
    within that many bytes of query string."""
    if url_bytes is None:
        return [list(batch) for batch in limits.chunked(ids, FETCH_BATCH_IDS)]
    batches: list[list[str]] = []
    current: list[str] = []
    used = 0
    for vector_id in ids:
        cost = _url_bytes(vector_id)
        if current and (len(current) >= FETCH_BATCH_IDS or used + cost > url_bytes):
            batches.append(current)
            current, used = [], 0
        current.append(vector_id)
        used += cost
    if current:
        batches.append(current)
    return batches


def _sparse(raw: Any) -> SparseValues | None:
    """The SDK's sparse values (a struct or a mapping), or None when the vector has none."""
    if raw is None:
        return None
    indices = raw["indices"] if isinstance(raw, Mapping) else raw.indices
    values = raw["values"] if isinstance(raw, Mapping) else raw.values
    return SparseValues(np.array(indices or [], dtype=np.int64), as_float32(values or []))


class PineconeIndex(VectorIndex):
    """`host` (e.g. `https://...pinecone.io` or `http://127.0.0.1:5081`) or `index_name` (the
    host is resolved once via `Pinecone().describe_index`). The index's dimension, metric and
    vector type are read from the index itself (its description when looked up by name, its
    stats otherwise), so a deployment never has to restate them (the factory never does); a
    caller that states both `dimension` and `metric` with a host is trusted (no request at
    construction). Input is validated against them before sending."""

    is_exact = False  # Pinecone's search is approximate
    concurrency_hint = 8  # each call is mostly a round trip; the httpx client pools connections
    throttle_count = 0  # rate-limit answers seen (each, retried or not): adaptive callers back off

    def __init__(
        self,
        *,
        api_key: str,
        dimension: int | None = None,
        metric: str | None = None,
        host: str | None = None,
        index_name: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        control_host: str | None = None,
        vector_type: str = "dense",
        transport: str = "rest",
        grpc_host: str | None = None,
    ) -> None:
        from pinecone import Index, Pinecone

        if not api_key:
            raise ConfigurationError("the pinecone backend needs an API key (PINECONE_API_KEY)")
        if transport not in TRANSPORTS:
            raise ConfigurationError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
        self.transport = transport
        self.retry = retry or RetryPolicy()
        self._throttles = threading.Lock()
        shape: tuple[int, str, str] | None = None
        try:
            if not host:
                if not index_name:
                    raise ConfigurationError("set PINECONE_INDEX_HOST or PINECONE_INDEX_NAME")
                model = self._call(
                    lambda: Pinecone(api_key=api_key, host=control_host).describe_index(index_name)
                )
                if not model.host:
                    raise ConfigurationError(f"index {index_name!r} has no host yet (still initialising?)")
                host = model.host
                shape = (int(model.dimension or 0), str(model.metric), str(model.vector_type or "dense"))
            self.host = host
            self._index: Any
            if transport == "grpc":
                self._index = _grpc_index(grpc_host or host, api_key=api_key, timeout=timeout)
            else:
                self._index = Index(host=host, api_key=api_key, timeout=timeout)
            if shape is None and dimension is not None and metric is not None:
                shape = (int(dimension), metric, vector_type)  # stated by the caller: trusted
            if shape is None:
                stats = self._call(lambda: self._index.describe_index_stats())
                shape = (
                    int(stats.dimension or 0),
                    str(stats.metric or ""),
                    str(stats.vector_type or "dense"),
                )
        except ConfigurationError:
            raise
        except VectorError as exc:
            raise _opening_error(exc) from exc
        except Exception as exc:
            raise _opening_error(translate_error(exc)) from exc
        self.dimension, self.metric, self.vector_type = _checked_shape(shape, dimension, metric)

    def __repr__(self) -> str:
        return (
            f"PineconeIndex(host={self.host!r}, transport={self.transport!r}, dimension={self.dimension}, "
            f"metric={self.metric!r}, vector_type={self.vector_type!r})"
        )

    def close(self) -> None:
        self._index.close()

    # -- calling the SDK ------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one SDK request with error translation and retries on RateLimited/TransientError."""

        def attempt() -> T:
            try:
                return fn()
            except VectorError:
                raise
            except Exception as exc:
                error = translate_error(exc)
                if not isinstance(error, NotFound):
                    REQUEST_ERRORS.labels(backend="pinecone", error=type(error).__name__).inc()
                if isinstance(error, RateLimited):
                    with self._throttles:
                        self.throttle_count += 1
                raise error from exc

        failures = 0  # answers other than "too many requests"
        deadline = call_deadline(self.retry.deadline)  # a page's is shorter than a worker's
        wait_for = _WaitHonouringRetryAfter(self.retry)

        def wait(state: tenacity.RetryCallState) -> float:  # never sleeping past the deadline
            return min(wait_for(state), max(0.0, deadline - (state.seconds_since_start or 0.0)))

        def stop(state: tenacity.RetryCallState) -> bool:
            # A 429 is the service pacing us, not a failure: under a rate limit the requests in
            # flight take turns for one budget, and a fixed number of tries would fail a
            # migration that only had to wait. It is retried (after its Retry-After, or backing
            # off) until the deadline; every other failure counts toward the attempts.
            nonlocal failures
            if not isinstance(state.outcome.exception() if state.outcome else None, RateLimited):
                failures += 1
            return failures >= self.retry.attempts or (state.seconds_since_start or 0.0) >= deadline

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((RateLimited, TransientError)),
            stop=stop,
            wait=wait,
            before_sleep=lambda state: logger.info(
                "pinecone: retrying after %s (attempt %d)",
                state.outcome.exception() if state.outcome else "?",
                state.attempt_number,
            ),
            reraise=True,
        )
        return retrying(attempt)

    # -- reads ----------------------------------------------------------------------------------

    def describe_index_stats(self) -> IndexStats:
        response = self._call(lambda: self._index.describe_index_stats())
        namespaces = {
            name or DEFAULT_NAMESPACE: int(summary.vector_count)  # older API versions said ""
            for name, summary in (response.namespaces or {}).items()
            if summary.vector_count
        }
        return IndexStats(
            dimension=int(response.dimension or self.dimension),
            metric=response.metric or self.metric,
            total_vector_count=int(response.total_vector_count),
            namespaces=dict(sorted(namespaces.items())),
            vector_type=response.vector_type or self.vector_type,
        )

    def list_namespaces(
        self, *, prefix: str | None = None, limit: int = 100, pagination_token: str | None = None
    ) -> NamespacePage:
        limits.validate_limit(limit, limits.MAX_NAMESPACE_LIST_LIMIT)
        prefix = limits.validate_prefix(prefix) or None
        response = self._call(
            lambda: self._index.list_namespaces_paginated(
                prefix=prefix, limit=limit, pagination_token=pagination_token or None
            )
        )
        page = [
            NamespaceInfo(ns.name or DEFAULT_NAMESPACE, int(ns.record_count))
            for ns in response.namespaces
            if ns.record_count
        ]
        token = response.pagination.next if response.pagination else None
        return NamespacePage(page, token or None)

    def describe_namespace(self, name: str) -> NamespaceInfo:
        name = limits.normalize_namespace(name)
        response = self._call(lambda: self._index.describe_namespace(name=name))
        return limits.namespace_info(name, int(response.record_count))

    def list_ids(
        self,
        namespace: str,
        *,
        prefix: str | None = None,
        limit: int = 100,
        pagination_token: str | None = None,
    ) -> IdPage:
        ns = _sdk_namespace(namespace)
        limits.validate_limit(limit, limits.MAX_LIST_LIMIT)
        prefix = limits.validate_prefix(prefix) or None
        response = self._call(
            lambda: self._index.list_paginated(
                prefix=prefix, limit=limit, pagination_token=pagination_token or None, namespace=ns
            )
        )
        ids = [item.id for item in response.vectors if item.id is not None]
        token = response.pagination.next if response.pagination else None
        return IdPage(ids, token or None)

    def fetch_request_size(self, ids: Sequence[str]) -> int:
        if self.transport == "grpc" or not ids:
            return super().fetch_request_size(ids)
        return len(_id_batches(ids[:FETCH_BATCH_IDS])[0])  # a GET: as many as its URL holds

    def fetch(self, namespace: str, ids: Sequence[str]) -> dict[str, Vector]:
        ns = _sdk_namespace(namespace)
        if isinstance(ids, str):
            raise InvalidRequest("ids must be a sequence of strings, not one string")
        wanted = list(dict.fromkeys(limits.validate_id(i) for i in ids))
        found: dict[str, Vector] = {}
        # gRPC carries the ids in the message: no URL to keep short.
        url_bytes = None if self.transport == "grpc" else FETCH_BATCH_URL_BYTES
        for batch in _id_batches(wanted, url_bytes=url_bytes):
            response = self._call(functools.partial(self._index.fetch, ids=batch, namespace=ns))
            for vector_id, vector in response.vectors.items():
                found[vector_id] = Vector(
                    vector_id,
                    as_float32(vector.values or []),
                    vector.metadata,
                    _sparse(vector.sparse_values),
                )
        return {i: found[i] for i in wanted if i in found}

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
        ns = _sdk_namespace(namespace)
        limits.validate_top_k(top_k)
        if vector is not None and id is not None:
            raise InvalidRequest("query needs exactly one of vector or id")
        if vector is None and id is None and (sparse_vector is None or self.vector_type == "dense"):
            raise InvalidRequest("query needs exactly one of vector or id")
        compile_filter(filter)  # refuse a malformed filter here, with the same message as locally
        values: list[float] | None = None
        sparse = (
            limits.sparse_values(sparse_vector, "query sparse vector") if sparse_vector is not None else None
        )
        if vector is not None:
            array = np.asarray(vector, dtype=np.float32)
            limits.validate_values(array, self.dimension, self.metric, "query")
            values = array.tolist()
        elif id is not None:
            limits.validate_id(id, "query id")
        response = self._call(
            lambda: self._index.query(
                top_k=top_k,
                vector=values,
                id=id,
                namespace=ns,
                filter=dict(filter) if filter else None,
                include_values=include_values,
                include_metadata=include_metadata,
                sparse_vector=sparse.to_dict() if sparse is not None else None,
            )
        )
        return [
            Match(
                id=match.id,
                score=float(match.score),
                values=np.array(match.values or [], dtype=np.float32) if include_values else None,
                metadata=match.metadata if include_metadata else None,
                sparse_values=_sparse(match.sparse_values) if include_values else None,
            )
            for match in response.matches
        ]

    # -- writes ---------------------------------------------------------------------------------

    def upsert(self, namespace: str, vectors: Sequence[Vector]) -> int:
        ns = _sdk_namespace(namespace)
        if not vectors:
            return 0
        items: list[dict[str, Any]] = []
        sizes: list[int] = []
        grpc = self.transport == "grpc"  # the message is packed float32, far smaller than JSON
        bound = limits.grpc_vector_bytes_bound if grpc else limits.json_vector_bytes_bound
        for vector in vectors:  # validate everything before the first request goes out
            if not isinstance(vector, Vector):
                raise InvalidRequest(f"expected Vector objects, got {type(vector).__name__}")
            limits.validate_id(vector.id)
            limits.validate_vector(vector, self.dimension, self.metric, self.vector_type)
            metadata, metadata_json = limits.normalize_metadata(vector.metadata)
            # tolist() gives the doubles equal to the float32 values, so the round trip is exact
            # (one C call; the SDK takes the list as it is).
            item: dict[str, Any] = {"id": vector.id, "values": vector.values.tolist()}
            if metadata is not None:
                item["metadata"] = metadata
            sparse_entries = 0
            if vector.sparse_values is not None:
                item["sparse_values"] = vector.sparse_values.to_dict()
                sparse_entries = len(vector.sparse_values)
            items.append(item)
            # An upper bound on its bytes on the wire, from its shape.
            sizes.append(
                bound(
                    id_bytes=len(vector.id.encode("utf-8")),
                    dimension=len(vector.values),
                    metadata_bytes=len(metadata_json.encode("utf-8")) if metadata_json else 0,
                    sparse_entries=sparse_entries,
                )
            )
        total = 0
        for batch in limits.plan_upsert_batches(items, sizes):
            response = self._call(functools.partial(self._index.upsert, vectors=batch, namespace=ns))
            total += int(response.upserted_count)
        return total

    def delete_ids(self, namespace: str, ids: Sequence[str]) -> None:
        ns = _sdk_namespace(namespace)
        if isinstance(ids, str):
            raise InvalidRequest("ids must be a sequence of strings, not one string")
        wanted = [limits.validate_id(i) for i in ids]
        for batch in limits.chunked(wanted, DELETE_BATCH_IDS):
            try:
                self._call(functools.partial(self._index.delete, ids=list(batch), namespace=ns))
            except NotFound:
                return  # Pinecone answers 404 in a namespace that does not exist: no ids to delete

    def delete_namespace(self, namespace: str) -> bool:
        name = limits.normalize_namespace(namespace)
        try:
            self._call(lambda: self._index.delete_namespace(name=name))
        except NotFound:
            return False  # already gone: erasure must be idempotent
        return True


def _grpc_index(host: str, *, api_key: str, timeout: float) -> Any:
    """The SDK's gRPC client for the data plane at `host` (plain HTTP/2 for an http:// host,
    as `pinecone_local` serves it; TLS otherwise)."""
    from pinecone.grpc import GrpcIndex

    plain = host.startswith("http://")
    return GrpcIndex(
        host=host,
        api_key=api_key,
        timeout=timeout,
        grpc_scheme="http" if plain else "https",
        secure=not plain,
    )


def _checked_shape(
    described: tuple[int, str, str], dimension: int | None, metric: str | None
) -> tuple[int, str, str]:
    """The index's own (dimension, metric, vector type); a dimension or metric the caller
    states must agree with it (a deployment restating the index wrongly is refused early)."""
    described_dimension, described_metric, vector_type = described
    if dimension is not None and described_dimension and int(dimension) != described_dimension:
        raise ConfigurationError(
            f"the index holds {described_dimension}-dimensional vectors, {dimension} was given"
        )
    if metric is not None and described_metric and metric != described_metric:
        raise ConfigurationError(f"the index uses the {described_metric} metric, {metric!r} was given")
    return (
        described_dimension or int(dimension or 0),
        described_metric or metric or "cosine",
        vector_type,
    )
