"""Smoke test in a real browser: sign in, read the index overview, filter creators with HTMX,
open a creator."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.support.browser import sign_in
from twinadmin.registry.services import creator_create, index_snapshot_store, twin_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMESPACES = {
    "creator_sainath.no.1": 4,
    "creator_sainath.no.1_twin_001": 6,
    "creator_bob.2": 3,
    "8c1f0a52-6f3e-4c55-9d2a-3f0b8f1e2a77": 5,
    "__default__": 7,
}


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Screenshots for a human to look at; TWINADMIN_SCREENSHOT_DIR keeps them somewhere known."""
    path = Path(os.environ.get("TWINADMIN_SCREENSHOT_DIR") or tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_operator_signs_in_reads_the_overview_and_filters_creators(page, operator_login, screenshot_dir):
    index_snapshot_store(dimension=8, metric="cosine", namespaces=NAMESPACES)
    sainath = creator_create(creator_id="sainath.no.1", display_name="Sainath")
    twin_create(creator=sainath, twin_id="001", name="First twin")
    creator_create(creator_id="bob.2", display_name="Bob")
    creator_create(creator_id="carol.3", display_name="Carol")
    username, password = operator_login

    # Signing in: a protected page sends us to the form, which sends us back.
    page.goto(reverse("registry-overview"))
    expect(page).to_have_url(re.compile(re.escape(reverse("accounts-login")) + r"\?next="))
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button:has-text('Sign in')")

    expect(page.locator("h1")).to_have_text("Index overview")
    expect(page.locator("#total-namespaces")).to_have_text(str(len(NAMESPACES)))
    expect(page.locator("#total-vectors")).to_have_text(str(sum(NAMESPACES.values())))
    expect(page.locator("#kinds tr[data-kind='twin'] td.num").first).to_have_text("1")
    expect(page.get_by_role("button", name="Refresh from index")).to_be_visible()
    page.screenshot(path=screenshot_dir / "overview.png", full_page=True)

    page.get_by_role("link", name="Creators", exact=True).click()
    expect(page.locator("h1")).to_have_text("Creators")
    rows = page.locator("#rows tbody tr")
    expect(rows).to_have_count(3)

    # A marker on window survives HTMX swaps but not a full navigation.
    page.evaluate("window.__sameDocument = true")
    with page.expect_response(lambda r: "q=bob" in r.url and r.request.headers.get("hx-request") == "true"):
        page.get_by_role("searchbox", name="Search creators").fill("bob")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("bob.2")
    assert page.evaluate("window.__sameDocument") is True, "the search reloaded the page"
    assert "q=bob" in page.url  # hx-push-url: the filtered view has its own address
    page.screenshot(path=screenshot_dir / "creators-filtered.png", full_page=True)

    page.get_by_role("link", name="bob.2").click()
    expect(page.locator("h1")).to_contain_text("bob.2")
    expect(page.locator("#shared-count")).to_have_text("3")
    page.screenshot(path=screenshot_dir / "creator.png", full_page=True)

    assert page.problems == []


def test_the_creator_id_field_validates_in_the_browser(page, operator_login):
    """The `pattern` attribute compiles under the `v` flag browsers now use (else a console
    error, and no client-side check at all)."""
    sign_in(page, operator_login)
    page.goto(reverse("registry-create-creator"))

    field = page.locator("#id_creator_id")
    field.fill("Bad_Id")
    assert field.evaluate("el => el.validity.patternMismatch") is True
    field.fill("sainath.no-1")
    assert field.evaluate("el => el.checkValidity()") is True
    assert page.problems == []


def test_a_double_click_on_refresh_starts_one_job(page, operator_login):
    from twinadmin.jobs.models import Job

    sign_in(page, operator_login)

    page.get_by_role("button", name="Refresh from index").dblclick()

    expect(page.locator("h1")).to_contain_text("Job")
    assert Job.objects.filter(kind="refresh_index").count() == 1
    assert page.problems == []
