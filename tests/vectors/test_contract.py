"""The vector layer's contract, run against the local store and against the Pinecone adapter
driving the real SDK into the local server, over REST and over gRPC. All must pass the same
assertions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support.vectors import DIM, adapter_for, random_vectors, use_server
from twinadmin.vectors import (
    DEFAULT_NAMESPACE,
    InvalidRequest,
    NamespaceInfo,
    NotFound,
    Vector,
    get_index,
    reset_index_cache,
)
from twinadmin.vectors.base import VectorIndex
from twinadmin.vectors.local import LocalStore


def grpc_adapter_for(settings, server) -> VectorIndex:
    """The adapter as get_index() builds it with PINECONE_TRANSPORT=grpc: the SDK's gRPC client
    against the server's gRPC port."""
    use_server(settings, server, retry_attempts=None)
    settings.PINECONE_TRANSPORT = "grpc"
    settings.PINECONE_GRPC_HOST = server.grpc_url
    index = get_index()
    assert getattr(index, "transport", None) == "grpc"
    return index


TARGETS = {"local": "local-store", "sdk": "sdk-via-local-server", "sdk-grpc": "sdk-grpc-via-local-server"}


@pytest.fixture(params=list(TARGETS), ids=list(TARGETS.values()))
def make_index(request, tmp_path: Path, make_server, settings) -> Iterator[Callable[..., VectorIndex]]:
    """The contract's targets: tests/vectors/conftest.py's two, and the adapter over gRPC."""
    made: list[VectorIndex] = []

    def make(*, dimension: int = DIM, metric: str = "cosine") -> VectorIndex:
        index: VectorIndex
        if request.param == "local":
            index = LocalStore(tmp_path / f"local-{len(made)}.sqlite3", dimension=dimension, metric=metric)
        elif request.param == "sdk":
            index = adapter_for(make_server(dimension=dimension, metric=metric))
        else:
            return grpc_adapter_for(settings, make_server(dimension=dimension, metric=metric, grpc=True))
        made.append(index)
        return index

    yield make
    reset_index_cache()  # closes what get_index() built
    for index in made:
        index.close()


def bits(values: np.ndarray) -> list[int]:
    return np.asarray(values, dtype=np.float32).view(np.uint32).tolist()


# -- round trips ---------------------------------------------------------------------------------


def test_upsert_then_fetch_is_float32_bit_exact(index):
    tricky = np.array([0.1, 1 / 3, -2.5e-8, 3.4028235e38, 1.4e-45, -0.0, 1e-40, 123456.789], dtype=np.float32)
    vectors = [Vector("tricky", tricky), *random_vectors(50)]
    assert index.upsert("ns", vectors) == 51

    fetched = index.fetch("ns", [v.id for v in vectors])

    assert set(fetched) == {v.id for v in vectors}
    for vector in vectors:
        assert fetched[vector.id].values.dtype == np.float32
        assert bits(fetched[vector.id].values) == bits(vector.values)


def test_metadata_round_trips_as_pinecone_stores_it(index):
    metadata = {
        "text": "Héllo — unicode ✓",
        "chunk_index": 3,
        "score": 0.25,
        "flag": True,
        "tags": ["a", "b"],
        "dropped": None,
    }
    index.upsert("ns", [Vector("m", np.ones(DIM), metadata), Vector("bare", np.ones(DIM))])

    fetched = index.fetch("ns", ["m", "bare"])

    # Numbers come back as doubles and nulls are stripped, as Pinecone does.
    assert fetched["m"].metadata == {
        "text": "Héllo — unicode ✓",
        "chunk_index": 3.0,
        "score": 0.25,
        "flag": True,
        "tags": ["a", "b"],
    }
    assert isinstance(fetched["m"].metadata["chunk_index"], float)
    assert fetched["bare"].metadata is None


def test_upsert_overwrites_and_fetch_skips_missing_ids(index):
    index.upsert("ns", [Vector("a", np.ones(DIM), {"v": 1})])
    index.upsert("ns", [Vector("a", np.full(DIM, 2.0), {"v": 2})])

    fetched = index.fetch("ns", ["a", "missing", "a"])

    assert list(fetched) == ["a"]
    assert fetched["a"].metadata == {"v": 2.0}
    assert bits(fetched["a"].values) == bits(np.full(DIM, 2.0))
    assert index.describe_namespace("ns").vector_count == 1


def test_large_upserts_and_fetches_are_split_into_requests(index):
    vectors = random_vectors(2500, metadata=False)

    assert index.upsert("big", vectors) == 2500

    fetched = index.fetch("big", [v.id for v in vectors])
    assert len(fetched) == 2500
    assert index.describe_index_stats().namespaces == {"big": 2500}


# -- listing -------------------------------------------------------------------------------------


def test_list_ids_pages_in_sorted_order_with_opaque_tokens(index):
    ids = [f"doc-{i:04d}" for i in range(230)] + [f"other-{i}" for i in range(20)]
    rng = np.random.default_rng(1)
    index.upsert("ns", [Vector(i, rng.standard_normal(DIM)) for i in reversed(ids)])

    first = index.list_ids("ns", limit=100)
    second = index.list_ids("ns", limit=100, pagination_token=first.next_token)
    third = index.list_ids("ns", limit=100, pagination_token=second.next_token)

    assert [len(first.ids), len(second.ids), len(third.ids)] == [100, 100, 50]
    assert first.ids + second.ids + third.ids == sorted(ids)
    assert third.next_token is None
    assert [len(p) for p in index.iter_id_pages("ns", page_size=64)] == [64, 64, 64, 58]


def test_list_ids_filters_by_prefix(index):
    ids = [f"doc-{i:04d}" for i in range(120)] + [f"doc_{i}" for i in range(5)] + ["do", "dz"]
    rng = np.random.default_rng(2)
    index.upsert("ns", [Vector(i, rng.standard_normal(DIM)) for i in ids])

    pages = list(index.iter_id_pages("ns", prefix="doc-", page_size=50))

    assert [len(p) for p in pages] == [50, 50, 20]
    assert sum(pages, []) == sorted(i for i in ids if i.startswith("doc-"))
    assert index.list_ids("ns", prefix="nothing").ids == []
    assert index.list_ids("empty-namespace").ids == []


def test_namespaces_list_with_prefix_and_pagination(index):
    names = ["creator_a", "creator_a_twin_x", "creator_b", "legacy", DEFAULT_NAMESPACE]
    for n, name in enumerate(names):
        index.upsert(name, random_vectors(n + 1, prefix=f"{n}-"))

    first = index.list_namespaces(limit=2)
    second = index.list_namespaces(limit=2, pagination_token=first.next_token)
    third = index.list_namespaces(limit=2, pagination_token=second.next_token)

    assert first.namespaces + second.namespaces + third.namespaces == [
        NamespaceInfo(name, names.index(name) + 1) for name in sorted(names)
    ]
    assert third.next_token is None
    assert [ns.name for ns in index.iter_namespaces(prefix="creator_")] == [
        "creator_a",
        "creator_a_twin_x",
        "creator_b",
    ]
    assert list(index.iter_namespaces(prefix="zzz")) == []


def test_describe_namespace_and_stats(index):
    index.upsert("alpha", random_vectors(7))
    index.upsert("", random_vectors(3))

    assert index.describe_namespace("alpha") == NamespaceInfo("alpha", 7)
    assert index.describe_namespace("") == NamespaceInfo(DEFAULT_NAMESPACE, 3)
    with pytest.raises(NotFound):
        index.describe_namespace("never-written")
    stats = index.describe_index_stats()
    assert (stats.dimension, stats.metric, stats.total_vector_count) == (DIM, "cosine", 10)
    assert stats.namespaces == {DEFAULT_NAMESPACE: 3, "alpha": 7}


def test_empty_namespaces_are_not_listed(index):
    index.upsert("gone", random_vectors(2))
    index.delete_ids("gone", ["v-00000", "v-00001"])

    assert index.describe_index_stats().namespaces == {}
    assert index.list_namespaces().namespaces == []
    with pytest.raises(NotFound):
        index.describe_namespace("gone")
    # The default namespace always exists, if empty.
    assert index.describe_namespace(DEFAULT_NAMESPACE) == NamespaceInfo(DEFAULT_NAMESPACE, 0)


def test_namespace_counts_are_zero_for_absent_and_emptied_namespaces(index):
    index.upsert("alpha", random_vectors(7))
    index.upsert("", random_vectors(3))
    index.upsert("emptied", random_vectors(2))
    index.delete_ids("emptied", ["v-00000", "v-00001"])
    index.upsert("dropped", random_vectors(2))
    index.delete_namespace("dropped")

    for count in (index.namespace_count, index.namespace_count_settled):
        assert count("alpha") == 7
        assert count("") == count(DEFAULT_NAMESPACE) == 3
        assert count("never-written") == count("emptied") == count("dropped") == 0
    assert index.has_ids("alpha") and index.has_ids("")
    assert not any(index.has_ids(name) for name in ("never-written", "emptied", "dropped"))


def test_settled_counts_count_more_than_one_page_of_ids(index):
    index.upsert("big", random_vectors(250, metadata=False))

    assert index.namespace_count_settled("big") == index.namespace_count("big") == 250


def test_capabilities_are_declared(index):
    assert isinstance(index.is_exact, bool)
    assert isinstance(index.concurrency_hint, int) and index.concurrency_hint >= 1


def test_default_namespace_answers_to_empty_string_and_dunder_default(index):
    index.upsert("", random_vectors(3, prefix="a-"))
    index.upsert(DEFAULT_NAMESPACE, random_vectors(2, prefix="b-"))

    assert (
        index.list_ids("").ids
        == index.list_ids(DEFAULT_NAMESPACE).ids
        == [
            "a-00000",
            "a-00001",
            "a-00002",
            "b-00000",
            "b-00001",
        ]
    )
    assert set(index.fetch(DEFAULT_NAMESPACE, ["a-00000"])) == {"a-00000"}
    assert set(index.fetch("", ["b-00001"])) == {"b-00001"}
    assert index.describe_index_stats().namespaces == {DEFAULT_NAMESPACE: 5}
    assert [m.id for m in index.query("", id="a-00000", top_k=5)] == [
        m.id for m in index.query(DEFAULT_NAMESPACE, id="a-00000", top_k=5)
    ]
    index.delete_ids("", ["a-00000"])
    assert index.describe_namespace(DEFAULT_NAMESPACE).vector_count == 4


# -- query ---------------------------------------------------------------------------------------


def expected_ranking(metric: str, stored: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Brute force in float64: Pinecone's conventions (euclidean = squared distance, lower wins)."""
    stored64, query64 = stored.astype(np.float64), query.astype(np.float64)
    if metric == "cosine":
        scores = stored64 @ query64 / (np.linalg.norm(stored64, axis=1) * np.linalg.norm(query64))
        order = np.argsort(-scores, kind="stable")
    elif metric == "dotproduct":
        scores = stored64 @ query64
        order = np.argsort(-scores, kind="stable")
    else:
        scores = ((stored64 - query64) ** 2).sum(axis=1)
        order = np.argsort(scores, kind="stable")
    return order, scores


@pytest.mark.parametrize("metric", ["cosine", "dotproduct", "euclidean"])
def test_query_by_vector_and_by_id_match_brute_force(make_index, metric):
    index = make_index(metric=metric)
    vectors = random_vectors(300, seed=3)
    index.upsert("ns", vectors)
    stored = np.stack([v.values for v in vectors])
    query = np.random.default_rng(4).standard_normal(DIM).astype(np.float32)

    matches = index.query("ns", vector=query, top_k=10)

    order, scores = expected_ranking(metric, stored, query)
    assert [m.id for m in matches] == [vectors[i].id for i in order[:10]]
    assert [m.score for m in matches] == pytest.approx(scores[order[:10]], rel=1e-4, abs=1e-5)
    assert matches[0].metadata == {"i": float(order[0]), "parity": vectors[order[0]].metadata["parity"]}
    assert matches[0].values is None

    by_id = index.query("ns", id=vectors[17].id, top_k=5, include_values=True, include_metadata=False)
    order, scores = expected_ranking(metric, stored, vectors[17].values)
    assert [m.id for m in by_id] == [vectors[i].id for i in order[:5]]
    assert [m.score for m in by_id] == pytest.approx(scores[order[:5]], rel=1e-4, abs=1e-5)
    assert bits(by_id[0].values) == bits(vectors[order[0]].values)
    assert by_id[0].metadata is None


def test_query_top_k_beyond_the_namespace_returns_everything_and_unknown_id_nothing(index):
    index.upsert("ns", random_vectors(5))

    assert len(index.query("ns", vector=np.ones(DIM), top_k=10_000)) == 5
    assert index.query("ns", id="no-such-id", top_k=3) == []
    assert index.query("empty", vector=np.ones(DIM), top_k=3) == []


# -- metadata filters ----------------------------------------------------------------------------

FILTER_DATA = {
    "a": {"genre": "drama", "year": 2019, "rating": 7.5, "tags": ["x", "y"], "live": True},
    "b": {"genre": "comedy", "year": 2020, "rating": 6.0, "tags": ["y"], "live": False},
    "c": {"genre": "drama", "year": 2021, "tags": ["z"]},
    "d": {"genre": "documentary", "year": 2022, "rating": 9.0, "live": True},
    "e": {"year": 2023, "rating": 1.0},
    "f": None,
}

FILTER_CASES = [
    ({"genre": "drama"}, "ac"),
    ({"genre": {"$eq": "comedy"}}, "b"),
    ({"year": {"$eq": 2020}}, "b"),
    ({"live": {"$eq": True}}, "ad"),
    ({"live": True}, "ad"),
    # $ne and $nin match only records carrying the field (Pinecone; MongoDB would add e and f).
    ({"genre": {"$ne": "drama"}}, "bd"),
    ({"year": {"$gt": 2020}}, "cde"),
    ({"year": {"$gte": 2020}}, "bcde"),
    ({"year": {"$lt": 2020}}, "a"),
    ({"year": {"$lte": 2020}}, "ab"),
    ({"year": {"$gte": 2020, "$lt": 2022}}, "bc"),
    ({"rating": {"$gt": 5.5}}, "abd"),
    ({"genre": {"$in": ["comedy", "documentary"]}}, "bd"),
    ({"genre": {"$nin": ["comedy", "documentary"]}}, "ac"),
    ({"year": {"$in": [2019, 2023]}}, "ae"),
    ({"tags": "y"}, "ab"),
    ({"tags": {"$in": ["z", "nope"]}}, "c"),
    ({"tags": {"$nin": ["y"]}}, "c"),
    ({"tags": {"$ne": "x"}}, "bc"),
    ({"rating": {"$exists": True}}, "abde"),
    ({"rating": {"$exists": False}}, "cf"),
    ({"$and": [{"genre": "drama"}, {"year": {"$gt": 2019}}]}, "c"),
    ({"$or": [{"genre": "comedy"}, {"rating": {"$gte": 9}}]}, "bd"),
    ({"genre": "drama", "live": True}, "a"),
    ({"$or": [{"$and": [{"genre": "drama"}, {"live": True}]}, {"year": 2023}]}, "ae"),
    ({"live": {"$eq": 1}}, ""),  # booleans never equal numbers
    ({"genre": {"$gt": 1}}, ""),  # range operators only match numbers
]


@pytest.mark.parametrize(("expr", "expected"), FILTER_CASES, ids=[str(c[0]) for c in FILTER_CASES])
def test_every_filter_operator(index, expr, expected):
    rng = np.random.default_rng(5)
    index.upsert("ns", [Vector(k, rng.standard_normal(DIM), m) for k, m in FILTER_DATA.items()])

    hits = index.query("ns", vector=np.ones(DIM), top_k=100, filter=expr)

    assert "".join(sorted(m.id for m in hits)) == expected


@pytest.mark.parametrize(
    "expr",
    [{"genre": {"$like": "d%"}}, {"$and": {"a": 1}}, {"$or": []}, {"year": {"$in": 2019}}, {"$not": {}}],
)
def test_malformed_filters_are_invalid_requests(index, expr):
    index.upsert("ns", random_vectors(2))
    with pytest.raises(InvalidRequest):
        index.query("ns", vector=np.ones(DIM), top_k=3, filter=expr)


# -- deletes -------------------------------------------------------------------------------------


def test_delete_ids_removes_only_those_and_ignores_unknown_ids(index):
    vectors = random_vectors(10)
    index.upsert("ns", vectors)

    index.delete_ids("ns", ["v-00001", "v-00003", "not-there"])

    assert sorted(index.fetch("ns", [v.id for v in vectors])) == [
        v.id for v in vectors if v.id not in ("v-00001", "v-00003")
    ]
    assert index.describe_namespace("ns").vector_count == 8
    index.delete_ids("ns", [])


def test_delete_namespace_is_idempotent(index):
    index.upsert("doomed", random_vectors(4))
    index.upsert("kept", random_vectors(2))

    assert index.delete_namespace("doomed") is True
    assert index.delete_namespace("doomed") is False
    assert index.delete_namespace("never-existed") is False

    with pytest.raises(NotFound):
        index.describe_namespace("doomed")
    assert index.describe_index_stats().namespaces == {"kept": 2}
    assert index.list_ids("doomed").ids == []


def test_delete_default_namespace(index):
    index.upsert("", random_vectors(3))

    assert index.delete_namespace(DEFAULT_NAMESPACE) is True
    assert index.delete_namespace("") is False
    assert index.describe_index_stats().total_vector_count == 0


# -- limits and bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        Vector("x" * 513, np.ones(DIM)),
        Vector("", np.ones(DIM)),
        Vector("naïve", np.ones(DIM)),
        Vector("short", np.ones(DIM - 1)),
        Vector("long", np.ones(DIM + 1)),
        Vector("nan", np.full(DIM, np.nan)),
        Vector("nested", np.ones(DIM), {"a": {"b": 1}}),
        Vector("numbers-list", np.ones(DIM), {"a": [1, 2]}),
        Vector("huge", np.ones(DIM), {"text": "x" * (40 * 1024)}),
    ],
    ids=lambda v: v.id[:12] or "empty-id",
)
def test_bad_vectors_are_refused_and_change_nothing(index, bad):
    with pytest.raises(InvalidRequest):
        index.upsert("ns", [*random_vectors(5), bad])

    assert index.describe_index_stats().total_vector_count == 0


@pytest.mark.parametrize("namespace", ["n" * 513, "ñamespace"])
def test_bad_namespace_names_are_refused(index, namespace):
    with pytest.raises(InvalidRequest):
        index.upsert(namespace, random_vectors(1))


def test_request_limits_are_invalid_requests(index):
    index.upsert("ns", random_vectors(3))
    with pytest.raises(InvalidRequest):
        index.list_ids("ns", limit=101)
    with pytest.raises(InvalidRequest):
        index.list_ids("ns", limit=0)
    with pytest.raises(InvalidRequest):
        index.list_namespaces(limit=101)
    with pytest.raises(InvalidRequest):
        index.query("ns", vector=np.ones(DIM), top_k=0)
    with pytest.raises(InvalidRequest):
        index.query("ns", vector=np.ones(DIM), top_k=10_001)
    with pytest.raises(InvalidRequest, match="dimension"):
        index.query("ns", vector=np.ones(DIM + 3), top_k=1)
    with pytest.raises(InvalidRequest):
        index.query("ns", vector=np.ones(DIM), id="v-00000", top_k=1)
    with pytest.raises(InvalidRequest):
        index.query("ns", top_k=1)
    with pytest.raises(InvalidRequest):
        index.list_ids("ns", pagination_token="not-a-token!")


def test_dimension_mismatch_names_both_dimensions(index):
    with pytest.raises(InvalidRequest, match=f"dimension {DIM + 2}.*dimension of the index {DIM}"):
        index.upsert("ns", [Vector("a", np.ones(DIM + 2))])
