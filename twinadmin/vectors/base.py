"""The interface every backend implements. Namespaces are Pinecone names: `""` and `__default__`
both mean the default namespace.

Callers ask an index what it can do (`is_exact`, `concurrency_hint`) rather than which backend
it is, so no code outside this package tests for the local store."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import limits
from .errors import NotFound
from .types import IdPage, IndexStats, Match, NamespaceInfo, NamespacePage, SparseValues, Vector


class VectorIndex(abc.ABC):
    dimension: int  # 0 for a sparse-only index
    metric: str
    vector_type: str = "dense"
    """"dense" (dense values, plus sparse ones on a dotproduct index: hybrid) or "sparse"."""
    # Capabilities. The defaults describe a remote, approximate service like Pinecone; a backend
    # that differs says so (the local store: exact and in-process).
    is_exact: bool = False
    """True when `query` returns the exact top-k (brute force), so there is no recall to measure."""
    concurrency_hint: int = 8
    """How many calls at once pay off: over HTTP the round trips overlap; an in-process store
    contends for the GIL and has one SQLite writer, so more threads would only queue."""

    @abc.abstractmethod
    def describe_index_stats(self) -> IndexStats:
        """Counts per non-empty namespace. Eventually consistent on Pinecone."""

    @abc.abstractmethod
    def list_namespaces(
        self, *, prefix: str | None = None, limit: int = 100, pagination_token: str | None = None
    ) -> NamespacePage:
        """One page of non-empty namespaces in name order."""

    @abc.abstractmethod
    def describe_namespace(self, name: str) -> NamespaceInfo:
        """Raises NotFound when the namespace does not exist (the default one always exists)."""

    @abc.abstractmethod
    def list_ids(
        self,
        namespace: str,
        *,
        prefix: str | None = None,
        limit: int = 100,
        pagination_token: str | None = None,
    ) -> IdPage:
        """One page (at most 100) of ids in sorted order."""

    @abc.abstractmethod
    def fetch(self, namespace: str, ids: Sequence[str]) -> dict[str, Vector]:
        """The stored vectors among `ids`; missing ids are simply absent."""

    @abc.abstractmethod
    def upsert(self, namespace: str, vectors: Sequence[Vector]) -> int:
        """Insert or overwrite; any number of vectors (split into requests within the limits)."""

    @abc.abstractmethod
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
        """Nearest neighbours of `vector` or of the stored vector `id` (at most one of them).
        `sparse_vector` adds a sparse part to a dense query (hybrid, dotproduct) or is the
        query of a sparse-only index."""

    @abc.abstractmethod
    def delete_ids(self, namespace: str, ids: Sequence[str]) -> None:
        """Delete these ids; ids that are not there are ignored."""

    @abc.abstractmethod
    def delete_namespace(self, namespace: str) -> bool:
        """Delete the namespace and all its vectors. True when it existed, False when it did
        not: idempotent, never raises NotFound."""

    def fetch_request_size(self, ids: Sequence[str]) -> int:
        """How many of `ids`, from the first, one fetch request carries. A caller that pays per
        request (a rate limit counts fetch requests, not ids) hands `fetch` that many at a time."""
        return min(len(ids), limits.MAX_FETCH_IDS)

    # -- helpers built on the primitives --------------------------------------------------------

    def iter_namespaces(self, *, prefix: str | None = None) -> Iterator[NamespaceInfo]:
        token: str | None = None
        while True:
            page = self.list_namespaces(prefix=prefix, limit=100, pagination_token=token)
            yield from page.namespaces
            if not page.next_token:
                return
            token = page.next_token

    def iter_id_pages(
        self, namespace: str, *, prefix: str | None = None, page_size: int = 100
    ) -> Iterator[list[str]]:
        token: str | None = None
        while True:
            page = self.list_ids(namespace, prefix=prefix, limit=page_size, pagination_token=token)
            if page.ids:
                yield page.ids
            if not page.next_token:
                return
            token = page.next_token

    def namespace_count(self, name: str) -> int:
        """The namespace's vector count as its description has it: eventually consistent on
        Pinecone (it lags writes and deletes). 0 when the namespace does not exist."""
        try:
            return self.describe_namespace(name).vector_count
        except NotFound:
            return 0

    def namespace_count_settled(self, name: str) -> int:
        """`namespace_count`, except that a count of 0 is checked against the id listing, which
        sees writes at once: when ids are listed the count lags, and the ids are counted instead
        (one request per 100 ids; a non-zero count costs one request)."""
        count = self.namespace_count(name)
        if count or not self.has_ids(name):
            return count
        try:
            return sum(len(ids) for ids in self.iter_id_pages(name))
        except NotFound:
            return 0

    def has_ids(self, name: str) -> bool:
        """Whether an id listing of the namespace shows any id (one request). The listing sees
        writes and deletes at once, where counts lag them."""
        try:
            return bool(self.list_ids(name, limit=1).ids)
        except NotFound:
            return False

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the index stays usable (it reconnects on demand)."""
