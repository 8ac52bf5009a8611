"""Searching by a vector picked in the browser: its values come from the namespace it was picked
in (searched or not), the query vector itself can be left out of the hits (its copies too, never
a different vector that shares its id), and the page offers the picker and the twin shortcuts."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from django.urls import reverse

from tests.support.search import CREATOR, SEARCHED
from twinadmin.search.errors import SearchInputError
from twinadmin.search.services import multi_twin_search
from twinadmin.vectors import Vector

pytestmark = pytest.mark.django_db

SEARCH = reverse("search-search-twins", args=[CREATOR])
LEGACY = "8c1f0a52-6f3e-4c55-9d2a-3f0b8f1e2a77"
T1 = "creator_acme_twin_t1"


def _pairs(hits):
    return [(h.namespace, h.id) for h in hits]


def _stored(layout, namespace, vector_id):
    return next(v for v in layout.vectors[namespace] if v.id == vector_id)


def test_a_vector_from_an_unsearched_namespace_is_the_query(layout):
    picked = Vector("legacy-7", np.random.default_rng(7).standard_normal(8))
    layout.index.upsert(LEGACY, [picked])

    result = multi_twin_search(creator_id=CREATOR, vector_id="legacy-7", vector_namespace=LEGACY, top_k=9)

    expected = layout.expected(SEARCHED, picked.values, top_k=9)
    assert _pairs(result.hits) == [(ns, i) for ns, i, _ in expected]
    assert result.query_namespace == LEGACY and result.query_id == "legacy-7"


def test_a_picked_id_missing_from_its_namespace_is_refused(layout):
    with pytest.raises(SearchInputError, match="not found in namespace"):
        multi_twin_search(creator_id=CREATOR, vector_id="doc-003", vector_namespace=LEGACY)


def test_leaving_the_query_out_still_gives_top_k_of_the_others(layout):
    query = _stored(layout, T1, "doc-003")
    kept = multi_twin_search(creator_id=CREATOR, vector_id="doc-003", vector_namespace=T1, top_k=6)
    left_out = multi_twin_search(
        creator_id=CREATOR, vector_id="doc-003", vector_namespace=T1, top_k=6, exclude_self=True
    )

    assert _pairs(kept.hits)[0] == (T1, "doc-003")
    expected = [
        (ns, i) for ns, i, _ in layout.expected(SEARCHED, query.values, top_k=7) if (ns, i) != (T1, "doc-003")
    ]
    assert _pairs(left_out.hits) == expected[:6]
    assert left_out.excluded_self


def test_identical_copies_are_left_out_but_namesakes_with_other_values_stay(layout):
    query = _stored(layout, T1, "doc-003")
    # A migration's copy of the same vector in the creator-wide namespace, and in t2 a different
    # vector that happens to carry the same id.
    layout.index.upsert("creator_acme", [Vector("doc-003", query.values, {"copied": True})])
    namesake = Vector("doc-003", -query.values * 0.9 + 0.1)
    layout.index.upsert("creator_acme_twin_t2", [namesake])

    result = multi_twin_search(
        creator_id=CREATOR, vector_id="doc-003", vector_namespace=T1, top_k=200, exclude_self=True
    )

    pairs = _pairs(result.hits)
    assert (T1, "doc-003") not in pairs and ("creator_acme", "doc-003") not in pairs
    assert ("creator_acme_twin_t2", "doc-003") in pairs
    assert set(result.query_found_in) == {T1, "creator_acme"}


def test_by_id_alone_exclusion_covers_every_namespace_holding_it(layout):
    result = multi_twin_search(creator_id=CREATOR, vector_id="doc-012", top_k=5, exclude_self=True)

    assert result.query_found_in == (T1,)  # only t1 has 15 docs
    assert "doc-012" not in [h.id for h in result.hits] and len(result.hits) == 5


def test_a_picked_vector_fills_the_form_in_with_exclusion_on(auditor_client, layout):
    page = auditor_client.get(SEARCH, {"vector_namespace": T1, "vector_id": "doc-003"})

    body = page.content.decode()
    assert page.status_code == 200 and 'id="query-picked"' in body
    assert re.search(r'name="vector_id"[^>]*value="doc-003"', body)
    assert re.search(r'name="vector_namespace"[^>]*value="creator_acme_twin_t1"', body)
    assert re.search(r'<input type="checkbox" name="exclude_self"[^>]*checked', body)


def test_the_page_searches_by_the_picked_vector_leaving_it_out_unless_unticked(auditor_client, layout):
    data = {"twins": ["t1", "t2"], "include_shared": "on", "vector_id": "doc-003", "vector_namespace": T1}
    data.update({"vector": "", "top_k": "4", "filter": ""})

    left_out = auditor_client.post(SEARCH, {**data, "exclude_self": "on"})
    kept = auditor_client.post(SEARCH, data)  # an unticked box is absent from the POST

    assert left_out.status_code == kept.status_code == 200
    assert "doc-003" not in [h.id for h in left_out.context["result"].hits]
    assert 'id="excluded-self"' in left_out.content.decode()
    assert kept.context["result"].hits[0].id == "doc-003"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"vector_namespace": "n" * 600, "vector_id": "doc-1"}, "at most 512 characters"),
        ({"vector_namespace": T1, "vector_id": "x" * 600}, "at most 512 characters"),
        ({"vector_namespace": T1}, "needs a vector id too"),
        ({"vector_namespace": "é", "vector_id": "doc-1"}, "ASCII"),
    ],
)
def test_a_bad_pick_in_the_address_is_a_clear_400(auditor_client, layout, params, message):
    page = auditor_client.get(SEARCH, params)
    assert page.status_code == 400
    assert 'id="pick-errors"' in page.content.decode() and message in html.unescape(page.content.decode())


def test_a_namespace_without_an_id_in_the_form_is_refused(auditor_client, layout):
    data = {"twins": ["t1"], "include_shared": "on", "vector_id": "", "vector_namespace": T1}
    response = auditor_client.post(
        SEARCH, {**data, "vector": json.dumps([0.1] * 8), "top_k": "3", "filter": ""}
    )
    assert response.status_code == 400 and "needs a vector id too" in response.content.decode()


def test_the_page_offers_the_picker_and_twin_shortcuts(auditor_client, layout):
    body = html.unescape(auditor_client.get(SEARCH).content.decode())

    browse = reverse("registry-list-vectors")
    for namespace in ("creator_acme", T1, "creator_acme_twin_t2"):
        assert f'href="{browse}?namespace={namespace}&pick={CREATOR}"' in body
    assert "creator_acme_twin_gone" not in body.split('id="picker-namespaces"', 1)[1].split("</ul>", 1)[0]
    assert 'data-select-twins="all"' in body and 'data-select-twins="none"' in body
    # Each twin's checkbox and label in one unbreakable piece.
    assert re.search(
        r'<label class="choice" for="id_twins_0"><input type="checkbox" name="twins" value="t1"', body
    )
    assert "css/browse.css" in body


def test_picking_in_the_browser_offers_use_as_query_links_back(auditor_client, layout):
    body = html.unescape(
        auditor_client.get(
            reverse("registry-list-vectors"), {"namespace": T1, "pick": CREATOR}
        ).content.decode()
    )
    assert 'id="pick-banner"' in body
    assert f'href="{SEARCH}?vector_namespace={T1}&vector_id=doc-000">use as query</a>' in body
