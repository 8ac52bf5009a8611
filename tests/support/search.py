"""A creator with twins and vectors (dimension tests.support.vectors.DIM), the brute-force
reference a search is checked against, and an index that records what a search asked of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.support.vectors import DIM
from twinadmin.registry.models import Twin
from twinadmin.registry.services import creator_create, twin_create
from twinadmin.vectors import Vector, VectorIndex
from twinadmin.vectors.filters import compile_filter

CREATOR = "acme"
# Namespace sizes. t3 is registered but absent from the index; "gone" is a deleted twin whose
# namespace still holds vectors (a search must never show them); acme.1 is a neighbour whose
# names extend ours.
SIZES = {
    "creator_acme": 10,
    "creator_acme_twin_t1": 15,
    "creator_acme_twin_t2": 12,
    "creator_acme_twin_gone": 5,
    "creator_acme.1": 6,
    "creator_acme.1_twin_t1": 6,
}
SEARCHED = ["creator_acme", "creator_acme_twin_t1", "creator_acme_twin_t2", "creator_acme_twin_t3"]


@dataclass
class Layout:
    index: VectorIndex
    vectors: dict[str, list[Vector]]  # namespace -> what was upserted

    def expected(
        self,
        namespaces: Sequence[str],
        query: np.ndarray,
        *,
        top_k: int,
        filter: Mapping[str, Any] | None = None,
    ) -> list[tuple[str, str, float]]:
        """(namespace, id, score) of the exact top_k over `namespaces`, by numpy brute force."""
        predicate = compile_filter(filter)
        rows = [
            (ns, v)
            for ns in namespaces
            for v in self.vectors.get(ns, [])
            if predicate is None or predicate(v.metadata)
        ]
        if not rows:
            return []
        matrix = np.vstack([v.values for _, v in rows]).astype(np.float64)
        q = np.asarray(query, dtype=np.float64)
        metric = self.index.metric
        if metric == "euclidean":
            scores = ((matrix - q) ** 2).sum(axis=1)
            order = np.argsort(scores, kind="stable")
        else:
            scores = matrix @ q
            if metric == "cosine":
                scores = scores / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
            order = np.argsort(-scores, kind="stable")
        return [(rows[i][0], rows[i][1].id, float(scores[i])) for i in order[:top_k]]


def make_vectors(namespace: str, count: int, seed: int) -> list[Vector]:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((count, DIM)).astype(np.float32)
    vectors = [
        Vector(
            f"doc-{i:03d}",
            values[i],
            {
                "i": i,
                "parity": "odd" if i % 2 else "even",
                "ns": namespace,
                "text": f"chunk {i} of {namespace}",
            },
        )
        for i in range(count)
    ]
    # The same id in every namespace, with different values: attribution must keep them apart.
    vectors.append(Vector("doc-common", rng.standard_normal(DIM), {"ns": namespace, "parity": "common"}))
    return vectors


def build_layout(index: VectorIndex) -> Layout:
    acme = creator_create(creator_id=CREATOR, display_name="Acme")
    for twin_id in ("t1", "t2", "t3", "gone"):
        twin_create(creator=acme, twin_id=twin_id, name=f"Twin {twin_id}")
    Twin.objects.filter(creator=acme, twin_id="gone").update(status=Twin.Status.DELETED)
    neighbour = creator_create(creator_id="acme.1")
    twin_create(creator=neighbour, twin_id="t1")
    vectors = {}
    for seed, (namespace, count) in enumerate(SIZES.items()):
        vectors[namespace] = make_vectors(namespace, count, seed)
        index.upsert(namespace, vectors[namespace])
    return Layout(index, vectors)


class RecordingIndex(VectorIndex):
    """The real store, with a record of every data-plane call: bad input must query nothing."""

    def __init__(self, inner: VectorIndex) -> None:
        self.inner = inner
        self.dimension = inner.dimension
        self.metric = inner.metric
        self.calls: list[tuple[str, str]] = []

    def describe_index_stats(self):
        self.calls.append(("describe_index_stats", ""))
        return self.inner.describe_index_stats()

    def list_namespaces(self, **kwargs):
        return self.inner.list_namespaces(**kwargs)

    def describe_namespace(self, name):
        return self.inner.describe_namespace(name)

    def list_ids(self, namespace, **kwargs):
        self.calls.append(("list_ids", namespace))
        return self.inner.list_ids(namespace, **kwargs)

    def fetch(self, namespace, ids):
        self.calls.append(("fetch", namespace))
        return self.inner.fetch(namespace, ids)

    def upsert(self, namespace, vectors):
        raise AssertionError("search must never write")

    def query(self, namespace, **kwargs):
        self.calls.append(("query", namespace))
        return self.inner.query(namespace, **kwargs)

    def delete_ids(self, namespace, ids):
        raise AssertionError("search must never delete")

    def delete_namespace(self, namespace):
        raise AssertionError("search must never delete")
