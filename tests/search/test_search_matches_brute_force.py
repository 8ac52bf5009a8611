"""Multi-twin search returns the exact top-k over the selected namespaces, merged in the
metric's order, for every metric."""

import numpy as np
import pytest

from tests.support.search import CREATOR, SEARCHED
from twinadmin.search.services import multi_twin_search

pytestmark = pytest.mark.django_db


def _triples(result):
    return [(h.namespace, h.id, h.score) for h in result.hits]


def _assert_same(result, expected):
    assert [(ns, i) for ns, i, _ in _triples(result)] == [(ns, i) for ns, i, _ in expected]
    np.testing.assert_allclose(
        [s for *_, s in _triples(result)], [s for *_, s in expected], rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"], indirect=True)
@pytest.mark.parametrize("top_k", [1, 7, 40, 10_000])
def test_a_pasted_vector_gets_the_exact_top_k_across_namespaces(layout, metric, top_k):
    query = np.random.default_rng(99).standard_normal(8).astype(np.float32)

    result = multi_twin_search(creator_id=CREATOR, vector=query.tolist(), top_k=top_k)

    _assert_same(result, layout.expected(SEARCHED, query, top_k=top_k))
    assert result.metric == metric
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=metric != "euclidean")  # closest first in every metric


@pytest.mark.parametrize("metric", ["cosine", "euclidean"], indirect=True)
def test_searching_by_id_uses_the_stored_values_and_finds_itself_first(layout, metric):
    stored = next(v for v in layout.vectors["creator_acme_twin_t2"] if v.id == "doc-004")

    result = multi_twin_search(
        creator_id=CREATOR, vector_id="doc-004", twin_ids=["t2"], include_shared=False, top_k=5
    )

    assert result.query_found_in == ("creator_acme_twin_t2",)
    assert (result.hits[0].namespace, result.hits[0].id) == ("creator_acme_twin_t2", "doc-004")
    _assert_same(result, layout.expected(["creator_acme_twin_t2"], stored.values, top_k=5))


def test_a_subset_of_twins_searches_only_those_namespaces(layout):
    query = np.ones(8, dtype=np.float32)

    result = multi_twin_search(
        creator_id=CREATOR, twin_ids=["t1"], include_shared=False, vector=query, top_k=100
    )

    assert {h.namespace for h in result.hits} == {"creator_acme_twin_t1"}
    assert [n.namespace for n in result.namespaces] == ["creator_acme_twin_t1"]
    _assert_same(result, layout.expected(["creator_acme_twin_t1"], query, top_k=100))


def test_deleted_twins_and_neighbour_creators_are_never_searched(layout):
    result = multi_twin_search(creator_id=CREATOR, vector=np.ones(8), top_k=10_000)

    searched = {n.namespace for n in result.namespaces}
    assert searched == set(SEARCHED)
    assert {h.namespace for h in result.hits} <= set(SEARCHED)
    # Every vector of the searched namespaces came back, and nothing else did.
    assert len(result.hits) == sum(len(layout.vectors.get(ns, [])) for ns in SEARCHED)


def test_a_twin_absent_from_the_index_reports_zero_matches(layout):
    result = multi_twin_search(creator_id=CREATOR, twin_ids=["t3"], vector=np.ones(8), top_k=3)

    timings = {n.namespace: n.matches for n in result.namespaces}
    assert timings == {"creator_acme": 3, "creator_acme_twin_t3": 0}
    assert all(n.latency_ms >= 0 for n in result.namespaces)
    assert result.total_ms >= result.query_ms
