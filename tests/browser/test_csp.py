"""Under the Content-Security-Policy every main page runs with no violation and no console error
(no inline script, handler or style is left), and the behaviour moved to static/js/app.js still
works: the rollback's confirm dialog and the search page's select all/none."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.urls import reverse
from playwright.sync_api import expect

from migrations_app.models import NamespaceMigration
from migrations_app.services.runs import migration_create
from tests.support.browser import sign_in
from tests.support.erasure import run_job
from tests.support.users import user_in_groups
from twinadmin.accounts.roles import OPERATORS
from twinadmin.erasure.services import erasure_request_file
from twinadmin.jobs.services import job_execute
from twinadmin.registry.services import creator_create, index_snapshot_store, twin_create
from twinadmin.search.latency import latency_report_create
from twinadmin.vectors import Vector, get_index

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CREATOR = "sainath.no.1"
LEGACY = "8c1f0a52-6f3e-4c55-9d2a-3f0b8f1e2a77"
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sample || ""));
});
"""


def _seed() -> dict[str, str]:
    creator = creator_create(creator_id=CREATOR, display_name="Sainath")
    for twin_id in ("001", "002"):
        twin_create(creator=creator, twin_id=twin_id, name=f"Twin {twin_id}")
    rng = np.random.default_rng(5)
    index = get_index()
    counts = {}
    for namespace in (f"creator_{CREATOR}_twin_001", f"creator_{CREATOR}_twin_002", LEGACY):
        index.upsert(
            namespace, [Vector(f"v-{i}", rng.standard_normal(8), {"text": f"{i}"}) for i in range(12)]
        )
        counts[namespace] = 12
    index_snapshot_store(dimension=8, metric="cosine", namespaces=counts)

    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[LEGACY])
    run_job(run.job_id)
    report = latency_report_create(params={"creator_id": CREATOR, "queries": 3}, enqueue=False)
    job_execute(job_id=report.job_id)
    erasure = erasure_request_file(
        creator_id=CREATOR,
        actor=user_in_groups("filer", OPERATORS),
        reason="DSAR",
        ticket_reference="DSAR-1",
        confirm=CREATOR,
        notify_approvers=False,
    )
    return {
        "overview": reverse("registry-overview"),
        "namespaces": reverse("registry-list-namespaces"),
        "vectors": reverse("registry-list-vectors") + f"?namespace=creator_{CREATOR}_twin_001",
        "creators": reverse("registry-list-creators"),
        "creator": reverse("registry-creator-detail", args=[CREATOR]),
        "drift": reverse("registry-drift-report"),
        "latency": reverse("search-report-detail", args=[report.pk]),
        "jobs": reverse("jobs-list-jobs"),
        "migration": reverse("migrations-run-detail", args=[run.pk]),
        "erasure": reverse("erasure-request-detail", args=[erasure.pk]),
        "audit": reverse("audit-list-entries"),
        "story": reverse("audit-show-story", args=[erasure.correlation_id]),
        "two-factor": reverse("accounts-show-two-factor"),
    }


def _violations(page) -> list[str]:
    return page.evaluate("window.__csp")


def test_every_main_page_runs_under_the_policy(page, operator_login, screenshot):
    pages = _seed()
    page.context.add_init_script(RECORD_VIOLATIONS)

    response = page.goto(reverse("accounts-login"))
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert _violations(page) == []
    sign_in(page, operator_login)

    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, name
        assert "script-src 'self'" in response.headers["content-security-policy"], name
        page.wait_for_load_state("networkidle")
        assert _violations(page) == [], name

    # Search with results: the select all/none buttons (app.js) and an HTMX swap of the hits.
    page.goto(reverse("search-search-twins", args=[CREATOR]))
    boxes = page.locator("#twin-choices input[type=checkbox]")
    expect(page.locator("#twin-tools")).to_be_visible()
    page.get_by_role("button", name="Select all").click()
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    page.get_by_role("button", name="Select none").click()
    assert not any(boxes.nth(i).is_checked() for i in range(boxes.count()))
    page.get_by_role("button", name="Select all").click()
    page.fill("textarea[name=vector], input[name=vector]", json.dumps([0.5] * 8))
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#results h2").first).to_contain_text("hits from")
    screenshot("csp-search-results")
    assert _violations(page) == []
    assert page.problems == []


def test_the_rollback_asks_first_and_sends_nothing_when_declined(page, operator_login):
    pages = _seed()
    page.context.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, operator_login, then=pages["migration"])
    posts: list[str] = []
    # Accepted, the POST goes out; answered here with 204 so no job is queued from the test.
    page.route("**/rollback/", lambda route: (posts.append(route.request.method), route.fulfill(status=204)))

    questions: list[str] = []

    def decline(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    page.get_by_role("button", name="Roll back").click()
    page.wait_for_timeout(300)
    assert questions and questions[0].startswith("Delete the targets")
    assert posts == []

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_request("**/rollback/"):
        page.get_by_role("button", name="Roll back").click()
    assert posts == ["POST"]
    assert NamespaceMigration.objects.get().status == NamespaceMigration.Status.SUCCEEDED
    assert _violations(page) == []
