"""JSON a person pastes or types (a search's vector and filter, on the page and on the command
line) that no search could use gets a clear refusal and queries nothing: nested deeply enough to
exhaust the interpreter's stack, NaN, a lone surrogate, an operand that is itself a deep array."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.support.search import CREATOR, RecordingIndex
from twinadmin.search.errors import SearchInputError
from twinadmin.search.services import multi_twin_search

pytestmark = pytest.mark.django_db

SEARCH = reverse("search-search-twins", args=[CREATOR])
GOOD = json.dumps([0.3] * 8)
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a": ' * 5_000 + "1" + "}" * 5_000
DEEP_OPERAND = '{"a": {"$in": [' + "[" * 600 + "]" * 600 + "]}}"
NESTED = "nested more than 32 levels deep"

CASES = [
    ({"vector": DEEP_ARRAY}, NESTED),
    ({"vector": "[" + DEEP_ARRAY + "]"}, NESTED),
    ({"vector": "[" * 40 + "1" + "]" * 40}, NESTED),
    ({"vector": "[NaN, 1, 1, 1, 1, 1, 1, 1]"}, "vector is not valid JSON"),
    ({"filter": DEEP_OBJECT}, NESTED),
    ({"filter": '{"a": ' + DEEP_ARRAY + "}"}, NESTED),
    ({"filter": DEEP_OPERAND}, NESTED),
    ({"filter": '{"a": {"$in": [' + "[" * 20 + "]" * 20 + "]}}"}, "got an array"),
    ({"filter": '{"$and": [' * 40 + '{"a": 1}' + "]}" * 40}, NESTED),
    ({"filter": '{"a": "\\ud800"}'}, "filter is not valid JSON"),
]


@pytest.mark.parametrize(("overrides", "message"), CASES)
def test_the_service_refuses_before_any_query(layout, overrides, message):
    index = RecordingIndex(layout.index)
    with pytest.raises(SearchInputError, match=message):
        multi_twin_search(creator_id=CREATOR, **{"vector": GOOD, **overrides}, index=index)
    assert [c for c in index.calls if c[0] == "query"] == []


@pytest.mark.parametrize(("overrides", "message"), CASES)
def test_the_page_answers_400_with_the_reason(auditor_client, layout, overrides, message):
    data = {"twins": ["t1"], "include_shared": "on", "vector": GOOD, "top_k": "5", "filter": ""}
    response = auditor_client.post(SEARCH, {**data, **overrides})
    assert response.status_code == 400
    assert message in response.content.decode() and response.context["result"] is None


@pytest.mark.parametrize(("overrides", "message"), CASES)
def test_the_command_says_why_instead_of_a_traceback(layout, overrides, message):
    args = {"vector": GOOD, **overrides}
    with pytest.raises(CommandError, match=message):
        call_command("search_twins", CREATOR, "--vector", args["vector"], *_filter(args), stdout=StringIO())


def _filter(args: dict[str, str]) -> list[str]:
    return ["--filter", args["filter"]] if "filter" in args else []
