"""The vector browser: a namespace's ids page by page (the index's own listing, prefix and
token), one vector made readable, links into search, and hostile input answered 400/404."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np
import pytest
from django.urls import reverse

from tests.support.vectors import use_server
from twinadmin.registry.models import Creator
from twinadmin.registry.services import creator_create, index_snapshot_store, twin_create
from twinadmin.vectors import Vector, get_index

pytestmark = pytest.mark.django_db

LIST = reverse("registry-list-vectors")
DETAIL = reverse("registry-vector-detail")
TWIN_NS = "creator_acme_twin_t1"
LEGACY_NS = "0b9f7ac2-1111-4c3a-9e0e-3c1f2a4b5d6e"
ODD_ID = "notes/2024 #3?x=1&y=2"  # a slash, a space, a hash and query characters
LONG_TEXT = "First line of a long chunk.\n" + "word " * 200


def _values(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(8).astype(np.float32)


@pytest.fixture(params=["local", "sdk"], ids=["local-store", "sdk-via-local-server"])
def world(request, settings):
    """The pages read through get_index(): the local store, or the real SDK over HTTP (its
    errors for bad tokens and names must become the same clear answers)."""
    if request.param == "sdk":
        use_server(settings, request.getfixturevalue("make_server")(dimension=8))
    acme = creator_create(creator_id="acme", display_name="Acme")
    twin_create(creator=acme, twin_id="t1", name="First")
    index = get_index()
    index.upsert(TWIN_NS, [Vector(f"doc-{i:03d}", _values(i), {"i": i}) for i in range(120)])
    index.upsert(
        TWIN_NS,
        [
            Vector(
                ODD_ID,
                np.array([3, 4, 0, 0, 0, 0, 0, 0], dtype=np.float32),
                {
                    "text": LONG_TEXT,
                    "source": "notion",
                    "page": 7,
                    "score": 0.25,
                    "public": True,
                    "tags": ["a", "b"],
                },
            )
        ],
    )
    index.upsert(LEGACY_NS, [Vector("legacy-1", _values(500), {"text": "old"})])
    index_snapshot_store(dimension=8, metric="cosine", namespaces={TWIN_NS: 121, LEGACY_NS: 1})
    return index


def _ids(body: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<tr><td class="mono"><a href="[^"]*">([^<]*)</a>', body)]


def _next_link(body: str) -> str | None:
    found = re.search(r'<a id="next-page" href="([^"]+)"', body)
    return html.unescape(found.group(1)) if found else None


def test_every_id_is_listed_once_in_id_order_across_pages(auditor_client, world):
    seen: list[str] = []
    url: str | None = f"{LIST}?{urlencode({'namespace': TWIN_NS})}"
    pages = 0
    while url:
        response = auditor_client.get(url if url.startswith("/") else LIST + url)
        assert response.status_code == 200
        body = response.content.decode()
        seen += _ids(body)
        url = _next_link(body)
        pages += 1
    expected = sorted([f"doc-{i:03d}" for i in range(120)] + [ODD_ID])
    assert seen == expected
    assert pages == 3  # 50 ids a page


def test_a_prefix_narrows_the_listing_and_htmx_gets_only_the_rows(auditor_client, world):
    response = auditor_client.get(LIST, {"namespace": TWIN_NS, "prefix": "doc-11"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert _ids(body) == [f"doc-11{i}" for i in range(10)]
    assert _next_link(body) is None

    none = auditor_client.get(LIST, {"namespace": TWIN_NS, "prefix": "zzz"}).content.decode()
    assert "No ids start with" in none


def test_a_vector_page_shows_metadata_readably_and_summarises_its_values(auditor_client, world):
    response = auditor_client.get(DETAIL, {"namespace": TWIN_NS, "id": ODD_ID})
    body = response.content.decode()
    assert response.status_code == 200
    assert html.escape(ODD_ID) in body
    # Short fields in the table, numbers as written (Pinecone stores doubles), lists as items.
    assert re.search(r'<th class="mono">page</th><td><span class="meta-number">7</span>', body)
    assert re.search(r'<th class="mono">score</th><td><span class="meta-number">0.25</span>', body)
    assert re.search(r'<th class="mono">public</th><td><span class="meta-bool">true</span>', body)
    assert '<span class="badge item">a</span> <span class="badge item">b</span>' in body
    # The long text is folded, its first line as the summary.
    folded = re.search(r'<details class="long-field"><summary>([^<]*)<', body)
    assert folded and folded.group(1).startswith("First line of a long chunk.")
    assert "word word" in body.split('<details class="long-field">', 1)[1]
    # Values: dimension, the first ones, the norm (of 3-4-0…: 5).
    assert '<td id="dense-dimension">8</td>' in body
    assert '<td class="mono" id="dense-head">3.000000, 4.000000, 0.000000' in body
    assert '<td class="mono" id="dense-norm">5.000000</td>' in body
    assert "Sparse entries" not in body


def test_sparse_values_are_summarised_when_present(auditor_client, settings, tmp_path):
    settings.VECTOR_METRIC = "dotproduct"
    settings.VECTOR_LOCAL_PATH = tmp_path / "hybrid.sqlite3"
    sparse = {"indices": [10, 3, 999], "values": [0.5, -1.5, 2.0]}
    get_index().upsert("hybrid", [Vector("h1", np.ones(8), {"k": "v"}, sparse_values=sparse)])

    body = auditor_client.get(DETAIL, {"namespace": "hybrid", "id": "h1"}).content.decode()

    assert re.search(r'id="sparse-entries">3 <span class="muted">\(highest index 999\)', body)
    assert '<td class="mono" id="sparse-head">10: 0.500000, 3: -1.500000, 999: 2.000000</td>' in body


@pytest.mark.parametrize(
    ("url", "params", "status", "message"),
    [
        (LIST, {}, 400, "Say which namespace to browse"),
        (LIST, {"namespace": "n" * 600}, 400, "at most 512 characters"),
        (LIST, {"namespace": "créateur"}, 400, "ASCII"),
        (LIST, {"namespace": "a\x00b"}, 400, "Null characters are not allowed"),
        (LIST, {"namespace": "no-such-namespace"}, 404, "not in the index"),
        (LIST, {"namespace": TWIN_NS, "token": "<script>"}, 400, "This page link is not valid"),
        (LIST, {"namespace": TWIN_NS, "token": "A" * 5000}, 400, "This page link is not valid"),
        (LIST, {"namespace": TWIN_NS, "token": "bm90LWEtdG9rZW4"}, 400, "pagination token is not valid"),
        (LIST, {"namespace": TWIN_NS, "prefix": "p" * 513}, 400, "An id prefix has at most 512"),
        (LIST, {"namespace": TWIN_NS, "pick": "Not_A_Creator"}, 400, "Invalid creator id"),
        (DETAIL, {"namespace": TWIN_NS}, 400, "Say which vector to show"),
        (DETAIL, {"namespace": TWIN_NS, "id": "x" * 513}, 400, "at most 512 characters"),
        (DETAIL, {"namespace": TWIN_NS, "id": "doc-999"}, 404, "There is no vector"),
        (DETAIL, {"namespace": "no-such-namespace", "id": "doc-001"}, 404, "There is no vector"),
    ],
)
def test_hostile_input_gets_a_clear_answer_never_a_500(auditor_client, world, url, params, status, message):
    response = auditor_client.get(url, params)
    assert response.status_code == status
    body = response.content.decode()
    assert 'id="browse-problem"' in body and message in html.unescape(body)


def test_an_id_with_odd_characters_is_reachable_from_its_listing(auditor_client, world):
    body = auditor_client.get(LIST, {"namespace": TWIN_NS, "prefix": "notes/"}).content.decode()
    link = re.search(r'<tr><td class="mono"><a href="([^"]+)">', body)
    assert link
    query = parse_qs(urlsplit(html.unescape(link.group(1))).query)
    assert query == {"namespace": [TWIN_NS], "id": [ODD_ID]}
    assert auditor_client.get(html.unescape(link.group(1))).status_code == 200


def test_only_signed_in_staff_with_a_role_may_browse(client, nobody, world):
    params = {"namespace": TWIN_NS}
    assert client.get(LIST, params).status_code == 302
    assert client.get(LIST, params, HTTP_HX_REQUEST="true").status_code == 403
    client.force_login(nobody)
    assert client.get(LIST, params).status_code == 403
    assert client.get(DETAIL, {**params, "id": "doc-001"}).status_code == 403


def test_the_namespace_list_links_each_name_to_its_browser(auditor_client, world):
    body = auditor_client.get(reverse("registry-list-namespaces")).content.decode()
    for name in (TWIN_NS, LEGACY_NS):
        assert f'href="{LIST}?{urlencode({"namespace": name})}"' in html.unescape(body)


def test_find_similar_opens_the_owners_search_with_the_vector_as_query(auditor_client, world):
    body = auditor_client.get(DETAIL, {"namespace": TWIN_NS, "id": ODD_ID}).content.decode()
    link = re.search(r'id="find-similar" href="([^"]+)"', body)
    assert link
    target = html.unescape(link.group(1))
    assert urlsplit(target).path == reverse("search-search-twins", args=["acme"])

    search = auditor_client.get(target).content.decode()
    assert f'value="{html.escape(ODD_ID)}"' in search  # the id field
    assert f'name="vector_namespace" value="{TWIN_NS}"' in search
    assert re.search(r'<input type="checkbox" name="exclude_self"[^>]*checked', search)


def test_find_similar_from_a_namespace_of_no_creator_asks_which_creator(auditor_client, world):
    body = auditor_client.get(DETAIL, {"namespace": LEGACY_NS, "id": "legacy-1"}).content.decode()
    target = html.unescape(re.search(r'id="find-similar" href="([^"]+)"', body).group(1))
    assert urlsplit(target).path == reverse("search-home")

    home = auditor_client.get(target)
    assert home.status_code == 200 and "legacy-1" in home.content.decode()
    chosen = auditor_client.get(target + "&creator=acme")
    assert chosen.status_code == 302
    assert parse_qs(urlsplit(chosen["Location"]).query) == {
        "vector_namespace": [LEGACY_NS],
        "vector_id": ["legacy-1"],
    }


def test_an_erased_creators_leftovers_are_flagged_and_not_offered_to_search(auditor_client, world):
    Creator.objects.filter(creator_id="acme").update(status=Creator.Status.ERASED)

    listing = auditor_client.get(LIST, {"namespace": TWIN_NS}).content.decode()
    assert 'id="must-be-gone"' in listing and reverse("registry-drift-report") in listing
    detail = auditor_client.get(DETAIL, {"namespace": TWIN_NS, "id": "doc-001"}).content.decode()
    assert 'id="must-be-gone"' in detail and 'id="find-similar"' not in detail

    get_index().delete_namespace(TWIN_NS)  # erased as it should be: nothing left to browse
    assert auditor_client.get(LIST, {"namespace": TWIN_NS}).status_code == 404
