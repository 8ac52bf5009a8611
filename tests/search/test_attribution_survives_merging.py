"""Every merged hit keeps the namespace and twin it came from, even when the same id lives in
several namespaces (which Pinecone's query_namespaces cannot tell apart)."""

import numpy as np
import pytest

from tests.support.search import CREATOR
from twinadmin.search.services import multi_twin_search

pytestmark = pytest.mark.django_db


def test_every_hit_names_the_namespace_and_twin_that_holds_it(layout):
    result = multi_twin_search(creator_id=CREATOR, vector=np.ones(8), top_k=10_000)

    assert result.hits
    for hit in result.hits:
        assert hit.metadata["ns"] == hit.namespace  # the stored vector says where it lives
        if hit.namespace == "creator_acme":
            assert (hit.twin_id, hit.owner) == (None, "creator-wide")
        else:
            assert hit.namespace == f"creator_acme_twin_{hit.twin_id}"
            assert hit.owner == hit.twin_id


def test_the_same_id_in_three_namespaces_comes_back_three_times_apart(layout):
    common = {ns: next(v for v in vs if v.id == "doc-common") for ns, vs in layout.vectors.items()}
    query = common["creator_acme_twin_t1"].values

    result = multi_twin_search(creator_id=CREATOR, vector=query, top_k=10_000, filter={"parity": "common"})

    hits = [(h.namespace, h.twin_id, h.id) for h in result.hits]
    assert sorted(hits) == [
        ("creator_acme", None, "doc-common"),
        ("creator_acme_twin_t1", "t1", "doc-common"),
        ("creator_acme_twin_t2", "t2", "doc-common"),
    ]
    assert result.hits[0].namespace == "creator_acme_twin_t1"  # itself, score 1
    assert result.hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_as_dict_keeps_attribution_for_commands(layout):
    data = multi_twin_search(creator_id=CREATOR, vector=np.ones(8), top_k=5).as_dict()

    assert [h["rank"] for h in data["hits"]] == [1, 2, 3, 4, 5]
    for hit in data["hits"]:
        assert hit["metadata"]["ns"] == hit["namespace"]
        assert hit["owner"] == (hit["twin_id"] or "creator-wide")
