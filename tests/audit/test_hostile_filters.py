"""Filters at the edges of what they accept answer with a page, never a 500: the last date
there is, a prefix whose end is the last code point, cursors beyond any seq."""

import csv
import io
import sys

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from twinadmin.audit.selectors import _prefix_upper_bound

pytestmark = pytest.mark.django_db

LIST, EXPORT = reverse("audit-list-entries"), reverse("audit-export-entries")
ALL = ["delete_start", "delete_done", "erase_start", "refresh", "approve", "erase_failed"]


def _seqs(response) -> list[int]:
    return [int(r["seq"]) for r in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))]


def test_an_end_date_of_9999_12_31_includes_everything_up_to_the_end(auditor_client, log):
    page = auditor_client.get(LIST, {"date_to": "9999-12-31"})
    assert page.status_code == 200 and page.context["page"].matching == len(ALL)
    export = auditor_client.get(EXPORT, {"format": "csv", "date_to": "9999-12-31"})
    assert export.status_code == 200 and _seqs(export) == [log[n] for n in ALL]
    both = auditor_client.get(EXPORT, {"format": "csv", "date_from": "9999-12-31", "date_to": "9999-12-31"})
    assert both.status_code == 200 and _seqs(both) == []
    earliest = auditor_client.get(
        EXPORT, {"format": "csv", "date_from": "0001-01-01", "date_to": "0001-01-01"}
    )
    assert earliest.status_code == 200 and _seqs(earliest) == []


def test_a_date_past_9999_is_a_clear_error(auditor_client, log):
    response = auditor_client.get(LIST, {"date_to": "10000-01-01"})
    assert response.status_code == 400 and "Enter a valid date" in response.content.decode()


@pytest.mark.parametrize(
    "action", ["\U0010ffff*", "a\U0010ffff*", "twin.delete\U0010ffff\U0010ffff*", "\ud7ff*"]
)
def test_a_prefix_ending_in_the_last_code_points_lists_what_it_covers(auditor_client, log, action):
    response = auditor_client.get(LIST, {"action": action})
    assert response.status_code == 200 and response.context["page"].matching == 0


def test_a_prefix_filter_still_finds_its_family(auditor_client, log):
    response = auditor_client.get(LIST, {"action": "twin.delete.*"})
    assert response.status_code == 200 and response.context["page"].matching == 2


def test_cursors_beyond_any_seq_give_an_empty_page_or_a_clear_error(auditor_client, log):
    assert auditor_client.get(LIST, {"after": str(2**63 - 1)}).context["page"].entries == []
    assert auditor_client.get(LIST, {"before": str(2**70)}).status_code in (200, 400)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(prefix=st.text(min_size=1, max_size=4), rest=st.text(max_size=3), other=st.text(max_size=5))
def test_the_prefix_bound_is_above_every_string_with_the_prefix_and_only_those(prefix, rest, other):
    """The rule behind SQLite's prefix filter, in code point order (SQLite's order for UTF-8)."""
    upper = _prefix_upper_bound(prefix)
    assert upper is None or not any(0xD800 <= ord(c) <= 0xDFFF for c in upper)
    if upper is None:  # nothing is above every string with this prefix
        assert set(prefix) == {chr(sys.maxunicode)}
        return
    assert prefix + rest < upper
    if prefix <= other < upper:
        assert other.startswith(prefix)
