"""In a real browser: from the namespace list into a namespace's vectors (filter and page with
HTMX), one vector's page, "find similar" into the multi-twin search prefilled, the twin
shortcuts, the query vector left out of the hits, and picking another query by browsing."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.support.browser import sign_in
from twinadmin.registry.services import creator_create, index_snapshot_store, twin_create
from twinadmin.vectors import Vector, get_index

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CREATOR = "sainath.no.1"
TWINS = {"001": "First twin with a rather long name", "002": "Second", "003": "Third twin"}
NS = f"creator_{CREATOR}_twin_001"


def _seed() -> None:
    creator = creator_create(creator_id=CREATOR, display_name="Sainath")
    for twin_id, name in TWINS.items():
        twin_create(creator=creator, twin_id=twin_id, name=name)
    rng = np.random.default_rng(3)
    index = get_index()
    counts = {}
    for twin_id in TWINS:
        namespace = f"creator_{CREATOR}_twin_{twin_id}"
        index.upsert(
            namespace,
            [
                Vector(
                    f"chunk-{i:03d}",
                    rng.standard_normal(8),
                    {
                        "text": f"Paragraph {i} of {namespace}. " + "Some long body text. " * 30,
                        "source": "notion",
                        "page": i,
                        "tags": ["faq", "pricing"],
                    },
                )
                for i in range(70)
            ],
        )
        counts[namespace] = 70
    index_snapshot_store(dimension=8, metric="cosine", namespaces=counts)


def test_browse_a_namespace_open_a_vector_and_find_similar(page, operator_login, screenshot):
    _seed()
    sign_in(page, operator_login)

    page.get_by_role("link", name="Namespaces", exact=True).click()
    page.get_by_role("link", name=NS, exact=True).click()
    expect(page.locator("h1")).to_have_text(f"Vectors of {NS}")
    ids = page.locator("#vector-ids tbody tr")
    expect(ids).to_have_count(50)
    page.locator("#next-page").click()
    expect(ids).to_have_count(20)
    expect(ids.first).to_contain_text("chunk-050")

    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Ids starting with").fill("chunk-01")
    expect(ids).to_have_count(10)
    assert page.evaluate("window.__sameDocument") is True, "filtering reloaded the page"
    screenshot("vector-browser")

    page.get_by_role("link", name="chunk-012", exact=True).click()
    expect(page.locator("h1")).to_have_text("Vector chunk-012")
    expect(page.locator("#dense-dimension")).to_have_text("8")
    long_text = page.locator("details.long-field").first
    expect(long_text.locator(".long-text")).to_be_hidden()
    long_text.locator("summary").click()
    expect(long_text.locator(".long-text")).to_be_visible()
    screenshot("vector-detail")

    page.locator("#find-similar").click()
    expect(page.locator("h1")).to_contain_text(f"Search the twins of {CREATOR}")
    expect(page.locator("#id_vector_id")).to_have_value("chunk-012")
    expect(page.locator("#id_vector_namespace")).to_have_value(NS)
    expect(page.locator("#id_exclude_self")).to_be_checked()
    boxes = page.locator("#twin-choices input[type=checkbox]")
    expect(boxes).to_have_count(3)
    # Each label stays on one line, its checkbox beside it.
    for label in page.locator("#twin-choices label.choice").all():
        box = label.bounding_box()
        assert box is not None and box["height"] < 28, label.inner_text()
    screenshot("search-prefilled")

    page.get_by_role("button", name="Select none").click()
    for box in boxes.all():
        expect(box).not_to_be_checked()
    page.get_by_role("button", name="Select all").click()
    for box in boxes.all():
        expect(box).to_be_checked()

    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#excluded-self")).to_be_visible()
    hits = page.locator("#hits tbody tr")
    expect(hits).to_have_count(10)
    screenshot("search-results")
    assert "chunk-012" not in [
        row.locator("td").nth(2).inner_text()
        for row in hits.all()
        if row.get_attribute("data-namespace") == NS
    ]
    assert page.problems == []


def test_the_search_page_picks_its_query_vector_by_browsing(page, operator_login, screenshot):
    _seed()
    sign_in(page, operator_login)
    page.goto(reverse("search-search-twins", args=[CREATOR]))

    picker = page.locator("#picker")
    expect(picker).to_have_attribute("open", "")  # nothing picked yet: the picker is open
    screenshot("search-picker")
    picker.get_by_role("link", name="002", exact=True).click()
    expect(page.locator("#pick-banner")).to_contain_text(CREATOR)
    page.locator("#vector-ids tbody tr", has_text="chunk-007").get_by_role(
        "link", name="use as query"
    ).click()

    expect(page.locator("#query-picked")).to_contain_text("chunk-007")
    expect(page.locator("#id_vector_namespace")).to_have_value(f"creator_{CREATOR}_twin_002")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-summary")).to_contain_text(re.compile(r"by the values of\s+chunk-007"))
    assert page.problems == []
