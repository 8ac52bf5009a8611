"""Bad input gets a clear error and queries nothing."""

import numpy as np
import pytest

from tests.support.search import CREATOR, RecordingIndex
from twinadmin.registry.models import Creator
from twinadmin.search.errors import SearchInputError
from twinadmin.search.services import multi_twin_search, parse_filter, parse_vector

pytestmark = pytest.mark.django_db

GOOD = [0.1] * 8

CASES = [
    ({"creator_id": "nobody"}, "Unknown creator 'nobody'"),
    ({"creator_id": "Bad_Id"}, "Invalid creator id"),
    ({"twin_ids": ["t9"]}, "'t9' is not a twin of creator 'acme'"),
    ({"twin_ids": ["t1", "t1"], "creator_id": "acme.1"}, None),  # valid: duplicates collapse (control)
    ({"twin_ids": ["gone"]}, "'gone' is deleted"),
    ({"twin_ids": ["NOPE_"]}, "Invalid twin id"),
    ({"twin_ids": [], "include_shared": False}, "Choose at least one twin"),
    ({"vector": [0.1] * 7}, "does not match the dimension of the index 8"),
    ({"vector": "[0.1, 0.2"}, "not valid JSON"),
    ({"vector": '["a", 1]'}, "only numbers"),
    ({"vector": "[true, 1, 1, 1, 1, 1, 1, 1]"}, "only numbers"),
    ({"vector": "[]"}, "non-empty JSON array"),
    ({"vector": [0.0] * 8}, "all zeros"),
    ({"vector": [float("nan")] * 8}, "NaN"),
    ({"vector": None, "vector_id": None}, "exactly one of them"),
    ({"vector_id": "doc-001"}, "exactly one of them"),  # with the default pasted vector too
    ({"vector": None, "vector_id": "missing"}, "was not found in the selected namespaces"),
    ({"vector": None, "vector_id": "doc-common"}, "has different values in"),
    ({"top_k": 0}, "top_k must be a whole number from 1 to 10,000"),
    ({"top_k": 10_001}, "top_k must be"),
    ({"filter": "{not json"}, "filter is not valid JSON"),
    ({"filter": "[1]"}, "must be a JSON object"),
    ({"filter": {"i": {"$regex": "x"}}}, "unknown operator '$regex'"),
    ({"filter": {"$and": []}}, "non-empty array"),
    ({"workers": 0}, "workers must be"),
]


@pytest.mark.parametrize(("overrides", "message"), CASES)
def test_bad_input_is_refused_before_any_query(layout, overrides, message):
    index = RecordingIndex(layout.index)
    kwargs = {"creator_id": CREATOR, "vector": GOOD, "top_k": 5, "index": index, **overrides}
    if message is None:
        multi_twin_search(**kwargs)
        assert any(call == "query" for call, _ in index.calls)
        return
    with pytest.raises(SearchInputError, match=message.replace("$", r"\$").replace("(", r"\(")):
        multi_twin_search(**kwargs)
    assert [c for c in index.calls if c[0] == "query"] == []


def test_an_erased_creator_cannot_be_searched(layout):
    Creator.objects.filter(creator_id=CREATOR).update(status=Creator.Status.ERASED)
    with pytest.raises(SearchInputError, match="is erased"):
        multi_twin_search(creator_id=CREATOR, vector=GOOD)


def test_parsers_accept_what_they_should():
    assert parse_vector("[1, 2.5, -3]") == [1.0, 2.5, -3.0]
    assert parse_filter("") is None and parse_filter("  ") is None and parse_filter("{}") is None
    assert parse_filter('{"a": {"$in": ["x"]}}') == {"a": {"$in": ["x"]}}
    assert np.isfinite(parse_vector([1e30, -1e30])).all()
