"""A metadata filter is applied in each selected namespace, not just some."""

import numpy as np
import pytest

from tests.support.search import CREATOR, SEARCHED
from twinadmin.search.services import multi_twin_search

pytestmark = pytest.mark.django_db

FILTERS = [
    {"parity": "odd"},
    {"parity": {"$in": ["even"]}, "i": {"$lt": 6}},
    {"$or": [{"i": {"$gte": 11}}, {"parity": "common"}]},
]


@pytest.mark.parametrize("filter", FILTERS)
def test_only_matching_vectors_come_back_from_every_namespace(layout, filter):
    query = np.random.default_rng(5).standard_normal(8)

    result = multi_twin_search(creator_id=CREATOR, vector=query, top_k=10_000, filter=filter)

    expected = layout.expected(SEARCHED, query, top_k=10_000, filter=filter)
    assert [(h.namespace, h.id) for h in result.hits] == [(ns, i) for ns, i, _ in expected]
    per_namespace = {n.namespace: n.matches for n in result.namespaces}
    for namespace in SEARCHED:
        assert per_namespace[namespace] == sum(1 for ns, _, _ in expected if ns == namespace)
    assert result.filter == filter


def test_a_filter_given_as_json_text_is_the_same_filter(layout):
    as_text = multi_twin_search(creator_id=CREATOR, vector=np.ones(8), top_k=50, filter='{"parity": "odd"}')
    as_dict = multi_twin_search(creator_id=CREATOR, vector=np.ones(8), top_k=50, filter={"parity": "odd"})

    assert [(h.namespace, h.id) for h in as_text.hits] == [(h.namespace, h.id) for h in as_dict.hits]
    assert {h.metadata["parity"] for h in as_text.hits} == {"odd"}
    assert {h.namespace for h in as_text.hits} == {
        "creator_acme",
        "creator_acme_twin_t1",
        "creator_acme_twin_t2",
    }
