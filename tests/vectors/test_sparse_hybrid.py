"""Sparse and hybrid vectors: every part of a vector survives, on the local store and through the
real pinecone SDK against the local server.

Pinecone's rules stated here: a hybrid index is dense with the dotproduct metric and takes an
optional sparse part per vector; a sparse-only index (`vector_type="sparse"`) takes sparse parts
and no dense values; a hybrid query scores dense dot product plus sparse dot product (the sum
over indices both carry); sparse indices are unique, weights finite, the two lists equally long.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pinecone import Pinecone, SparseValues

from tests.support.vectors import DIM, adapter_for
from twinadmin.vectors import InvalidRequest, Vector
from twinadmin.vectors.base import VectorIndex
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.pinecone_adapter import PineconeIndex
from twinadmin.vectors.types import SparseValues as OurSparse


def hybrid_vectors(count: int, *, seed: int = 0, dim: int = DIM) -> list[Vector]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        nnz = int(rng.integers(1, 20))
        indices = rng.choice(2**32 - 1, size=nnz, replace=False)
        values = rng.standard_normal(nnz).astype(np.float32)
        dense = rng.standard_normal(dim).astype(np.float32) if dim else np.empty(0, np.float32)
        out.append(Vector(f"h-{i:04d}", dense, {"i": i}, OurSparse(indices, values)))
    return out


@pytest.fixture(params=["local", "sdk"], ids=["local-store", "sdk-via-local-server"])
def make_sparse_index(request, tmp_path: Path, make_server) -> Callable[..., VectorIndex]:
    made: list[VectorIndex] = []

    def make(*, vector_type: str = "dense", metric: str = "dotproduct") -> VectorIndex:
        dimension = DIM if vector_type == "dense" else None
        store = LocalStore(
            tmp_path / f"s-{len(made)}.sqlite3", dimension=dimension, metric=metric, vector_type=vector_type
        )
        index: VectorIndex = store
        if request.param == "sdk":
            server = make_server(store=store)
            # No shape given: the adapter reads it from the index (describe_index_stats).
            index = PineconeIndex(api_key="test-key", host=server.url)
        made.append(index)
        return index

    yield make
    for index in made:
        index.close()


def test_hybrid_vectors_round_trip_bit_exactly_sparse_part_included(make_sparse_index):
    index = make_sparse_index()
    written = hybrid_vectors(30)
    written.append(Vector("dense-only", np.ones(DIM, np.float32), None))

    index.upsert("ns", written)

    fetched = index.fetch("ns", [v.id for v in written])
    assert [fetched[v.id] for v in written] == [
        Vector(v.id, v.values, {"i": float(v.metadata["i"])} if v.metadata else None, v.sparse_values)
        for v in written
    ]
    assert fetched["dense-only"].sparse_values is None
    assert fetched["h-0003"].sparse_values.indices.dtype == np.uint32


def test_a_hybrid_query_scores_dense_plus_sparse_dot_products_exactly(make_sparse_index):
    index = make_sparse_index()
    a = Vector("a", np.full(DIM, 0.1, np.float32), None, OurSparse([1, 7], [2.0, 3.0]))
    b = Vector("b", np.full(DIM, 0.2, np.float32), None, OurSparse([7, 9], [0.5, 4.0]))
    index.upsert("ns", [a, b])

    query = np.full(DIM, 1.0, np.float32)
    matches = index.query(
        "ns", vector=query, sparse_vector={"indices": [7, 1], "values": [1.0, 10.0]}, include_values=True
    )

    scores = {m.id: m.score for m in matches}
    assert scores["a"] == pytest.approx(DIM * 0.1 + 10.0 * 2.0 + 1.0 * 3.0, rel=1e-6)
    assert scores["b"] == pytest.approx(DIM * 0.2 + 1.0 * 0.5, rel=1e-6)
    assert [m.id for m in matches] == ["a", "b"]
    assert matches[0].sparse_values == a.sparse_values


def test_a_sparse_only_index_stores_and_queries_sparse_vectors(make_sparse_index):
    index = make_sparse_index(vector_type="sparse")
    written = hybrid_vectors(10, dim=0)

    index.upsert("ns", written)

    assert (index.dimension, index.metric, index.vector_type) == (0, "dotproduct", "sparse")
    fetched = index.fetch("ns", [v.id for v in written])
    assert all(fetched[v.id].sparse_values == v.sparse_values for v in written)
    assert all(fetched[v.id].values.size == 0 for v in written)
    probe = written[4].sparse_values
    top = index.query("ns", sparse_vector=probe, top_k=1)
    assert top[0].id == "h-0004"
    assert top[0].score == pytest.approx(float(np.dot(probe.values, probe.values)), rel=1e-6)
    with pytest.raises(InvalidRequest):
        index.upsert("ns", [Vector("dense", np.ones(DIM, np.float32))])


@pytest.mark.parametrize(
    "sparse",
    [
        {"indices": [1, 1], "values": [0.5, 0.5]},  # duplicate index
        {"indices": [1, 2], "values": [0.5]},  # lengths differ
        {"indices": [-1], "values": [0.5]},  # out of uint32 range
        {"indices": [2**32], "values": [0.5]},
        {"indices": [1], "values": [float("nan")]},
        {"indices": [], "values": []},
    ],
    ids=["duplicate", "lengths", "negative", "too-big", "nan", "empty"],
)
def test_bad_sparse_values_are_refused_with_a_clear_error_and_nothing_written(make_sparse_index, sparse):
    index = make_sparse_index()
    good = hybrid_vectors(2)

    with pytest.raises((InvalidRequest, ValueError)):
        index.upsert("ns", [*good, Vector("bad", np.ones(DIM, np.float32), None, sparse)])

    assert index.namespace_count("ns") == 0


def test_sparse_values_need_the_dotproduct_metric(make_sparse_index):
    index = make_sparse_index(metric="cosine")

    with pytest.raises(InvalidRequest, match="dotproduct"):
        index.upsert("ns", hybrid_vectors(1))


def test_the_sdk_upserts_fetches_queries_and_updates_sparse_values_on_the_local_server(make_server, tmp_path):
    store = LocalStore(tmp_path / "hybrid.sqlite3", dimension=4, metric="dotproduct")
    server = make_server(store=store)
    idx = Pinecone(api_key="k").Index(host=server.url)

    idx.upsert(
        vectors=[
            {
                "id": "a",
                "values": [0.1, 0.2, 0.3, 0.4],
                "sparse_values": {"indices": [3, 10], "values": [0.5, 0.25]},
            }
        ],
        namespace="ns",
    )
    fetched = idx.fetch(ids=["a"], namespace="ns").vectors["a"]
    assert fetched.sparse_values.indices == [3, 10]
    assert fetched.sparse_values.values == [0.5, 0.25]

    idx.update(id="a", sparse_values=SparseValues(indices=[4], values=[2.0]), namespace="ns")
    hits = idx.query(
        vector=[0.0] * 4,
        sparse_vector={"indices": [4], "values": [3.0]},
        top_k=1,
        namespace="ns",
        include_values=True,
    )
    assert hits.matches[0].id == "a"
    assert hits.matches[0].score == pytest.approx(6.0)
    assert hits.matches[0].sparse_values.indices == [4]
    assert store.fetch("ns", ["a"])["a"].sparse_values == OurSparse([4], [2.0])


def test_the_adapter_maps_sparse_values_both_ways(make_server, tmp_path):
    server = make_server(store=LocalStore(tmp_path / "h.sqlite3", dimension=DIM, metric="dotproduct"))
    index = adapter_for(server)
    written = hybrid_vectors(5)

    index.upsert("ns", written)

    assert (
        server.store.fetch("ns", [v.id for v in written])["h-0002"].sparse_values == written[2].sparse_values
    )
    assert index.fetch("ns", ["h-0002"])["h-0002"].sparse_values == written[2].sparse_values
