"""The layout as people see it in Chromium: the navigation marks where you are and shows an
approver what waits for them; UUID-named namespaces read on one line at 1280 px; on a phone-sized
screen (390 px) the page never scrolls sideways, wide tables scroll inside themselves."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from migrations_app.services import migration_create
from tests.support.browser import sign_in
from tests.support.users import user_in_groups
from tests.support.vectors import fill
from twinadmin.accounts.roles import APPROVERS, OPERATORS
from twinadmin.erasure.services import erasure_request_file
from twinadmin.registry.services import creator_create, index_refresh
from twinadmin.vectors import get_index

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UUIDS = [str(uuid.UUID(int=(i + 1) * 0x1F3A5C7E9B2D4F6081A3C5E7092B4D6F)) for i in range(8)]

# Each entry: how many separate lines of text an element's text takes (1 = not wrapped).
LINES_OF = """
(selector) => Array.from(document.querySelectorAll(selector)).map((el) => {
  const tops = new Set();
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) tops.add(Math.round(rect.top));
  }
  return [el.textContent.trim(), tops.size];
})
"""
PAGE_OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def layout_data(transactional_db):
    """Legacy UUID namespaces in the index, a queued migration of them (targets are
    creator_sainath.no.1_twin_<uuid>), and one erasure request awaiting an approver."""
    fill(get_index(), {**dict.fromkeys(UUIDS, 3), "creator_bob.2": 2, "__default__": 4})
    index_refresh()
    creator_create(creator_id="sainath.no.1", display_name="Sainath")
    creator_create(creator_id="bob.2", display_name="Bob")
    run = migration_create(actor="cli:test", creator_id="sainath.no.1", namespaces=UUIDS)
    operator = user_in_groups("op-layout", OPERATORS)
    erasure_request_file(creator_id="bob.2", reason="creator asked", confirm="bob.2", actor=operator)
    user_in_groups("appr-layout", APPROVERS, password="appr-pw-71c2")
    return run


def _sign_in(page) -> None:
    sign_in(page, ("appr-layout", "appr-pw-71c2"))


def _current_entry(page):
    return page.locator("header nav a[aria-current='page']")


def test_the_navigation_marks_the_page_and_shows_the_approver_what_waits(page, layout_data, screenshot):
    _sign_in(page)
    page.goto(reverse("registry-list-namespaces"))

    expect(_current_entry(page)).to_have_count(1)
    expect(_current_entry(page)).to_have_text("Namespaces")
    badge = page.locator("#nav-pending-approvals")
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("1")
    # The current entry looks current: white text, unlike the others.
    colours = page.eval_on_selector_all(
        "header nav a", "links => links.map(a => [a.textContent.trim(), getComputedStyle(a).color])"
    )
    assert dict(colours)["Namespaces"] != dict(colours)["Creators"]
    screenshot("nav-approver")

    page.goto(reverse("migrations-run-detail", args=[layout_data.pk]))
    expect(_current_entry(page)).to_have_text("Migrations")  # an inner page marks its section

    page.get_by_role("link", name="Erasure").click()
    expect(_current_entry(page)).to_contain_text("Erasure")
    assert page.problems == []


def test_uuid_namespaces_read_on_one_line_at_1280(page, layout_data, screenshot):
    _sign_in(page)
    page.goto(reverse("registry-list-namespaces"))
    names = page.evaluate(LINES_OF, "td.mono")
    assert {name for name, _ in names} >= set(UUIDS)
    assert [n for n in names if n[1] != 1] == []

    page.goto(reverse("migrations-run-detail", args=[layout_data.pk]))
    cells = page.evaluate(LINES_OF, "#items td.mono")
    assert len(cells) == 2 * len(UUIDS)  # source and target of each item
    assert [c for c in cells if c[1] != 1] == []
    width, viewport = page.evaluate(PAGE_OVERFLOW)
    assert width <= viewport
    screenshot("run-1280")
    assert page.problems == []


@pytest.mark.parametrize(
    ("url_name", "shot"),
    [
        ("registry-list-namespaces", "narrow-namespaces"),
        ("migrations-run-detail", "narrow-run"),
        ("registry-overview", "narrow-overview"),
        ("erasure-list-requests", "narrow-erasure"),
    ],
)
def test_a_phone_sized_screen_never_scrolls_sideways(page, layout_data, screenshot, url_name, shot):
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page)
    args = [layout_data.pk] if url_name == "migrations-run-detail" else []
    page.goto(reverse(url_name, args=args))

    width, viewport = page.evaluate(PAGE_OVERFLOW)
    assert width <= viewport, f"the page is {width}px wide in a {viewport}px screen"
    # The navigation wraps onto more lines instead of running off the screen.
    nav = page.locator("header nav").bounding_box()
    assert nav is not None and nav["x"] + nav["width"] <= viewport
    # Ids in list tables stay whole: the table scrolls, the id does not wrap. (Key/value
    # tables may wrap their values, lists of ids among them.)
    assert [n for n in page.evaluate(LINES_OF, "table:not(.kv) td.mono") if n[1] != 1] == []
    screenshot(shot)
    assert page.problems == []
