"""The walk a new member of staff takes, in Chromium, on the seed's legacy layout (805 vectors:
29 UUID namespaces and __default__): the overview; a migration started from the form, its one
overall bar moving while the page polls, ending on the summary line; the vector browser on a
migrated twin; find similar; the creator's erasure filed by the operator and approved by an
approver; the story of that erasure in the audit log. Then the same starts with JavaScript off:
a migration and an erasure request go through plain forms. Screenshots of each page go to
$TWINADMIN_SCREENSHOT_DIR (the `screenshot` fixture)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_execute
from tests.migrations_app.helpers import run_phases
from tests.support.browser import sign_in
from tests.support.seed import CREATOR
from tests.support.users import user_in_groups
from tests.support.vectors import DIM
from twinadmin.accounts.roles import APPROVERS
from twinadmin.erasure.models import ErasureRequest
from twinadmin.jobs.leases import resumable_job_run
from twinadmin.registry.services import creator_create
from twinadmin.vectors import get_index
from twinadmin.vectors.seed import generate_legacy_seed, legacy_index_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEED_TOTAL, NAMESPACES = 805, 30


@pytest.fixture
def legacy(settings: Any, tmp_path: Path, queued: list[int]) -> None:
    settings.VECTOR_DIMENSION = DIM
    settings.VECTOR_METRIC = "cosine"
    settings.MIGRATION_BACKUP_DIR = tmp_path / "backups"
    settings.MIGRATION_COUNT_DEADLINE_SECONDS = 10
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 10
    legacy_index_seed(index=get_index(), seed_data=generate_legacy_seed(dimension=DIM, seed=0))
    creator_create(creator_id=CREATOR, display_name="Sainath (test creator)")
    call_command("refresh_index", stdout=io.StringIO())


@pytest.fixture
def approver_login(transactional_db: None) -> tuple[str, str]:
    username, password = "walk-appr", "walk-pw-51c3"
    user_in_groups(username, APPROVERS, password=password)
    return username, password


def _start_migration(page: Any) -> NamespaceMigration:
    page.get_by_role("link", name="Migrations", exact=True).click()
    page.get_by_role("link", name=re.compile("New migration")).click()
    page.fill("#id_creator_id", CREATOR)
    page.get_by_role("button", name="Preview (dry run)").click()
    expect(page.locator("#preview")).to_have_text(
        re.compile(rf"^Preview: {NAMESPACES} namespaces, {SEED_TOTAL} vectors")
    )
    page.get_by_role("button", name="Start migration").click()
    expect(page.locator("h1")).to_contain_text("Migration run")
    return NamespaceMigration.objects.get()


def _file_erasure(page: Any) -> ErasureRequest:
    page.goto(reverse("registry-creator-detail", args=[CREATOR]))
    page.get_by_role("link", name="Request erasure").click()
    page.fill("#id_reason", "DSAR: the creator asked to be forgotten")
    page.fill("#id_confirm", CREATOR)
    page.get_by_role("button", name="File erasure request").click()
    expect(page.locator("#erasure-progress [data-status]")).to_have_text("Awaiting approval")
    return ErasureRequest.objects.get()


def test_overview_migration_browser_similar_erasure_and_its_story(
    browser, page, live_server, operator_login, approver_login, legacy, queued, screenshot
):
    # -- the overview: what the index holds ----------------------------------------------------
    sign_in(page, operator_login)
    expect(page.locator("h1")).to_have_text("Index overview")
    expect(page.locator("#total-vectors")).to_have_text(str(SEED_TOTAL))
    assert page.title() == "Index overview · twinadmin"
    screenshot("walk-01-overview")

    # -- a migration from the form; its one bar moves while the page polls ----------------------
    run = _start_migration(page)
    assert len(queued) == 1
    page.evaluate("window.__sameDocument = true")
    counts = page.locator("#run-counts")
    expect(counts).to_have_text(f"0% · 0/{NAMESPACES} namespaces backed up · 0/{SEED_TOTAL} vectors")
    screenshot("walk-02-migration-queued")

    # the worker's first phase, which copies as it backs up (one read of the source); the run
    # pauses after it
    assert run_phases(run, "backup")
    expect(counts).to_have_text(
        f"66% · {NAMESPACES}/{NAMESPACES} namespaces copied · {SEED_TOTAL}/{SEED_TOTAL} vectors"
    )
    expect(page.locator("#overall-bar")).to_have_attribute("value", "66")
    screenshot("walk-03-migration-backed-up")

    migration_execute(run_id=run.pk)  # the rest of the run
    summary = page.locator("#run-summary")
    expect(summary).to_have_text(
        f"{NAMESPACES}/{NAMESPACES} namespaces verified, {SEED_TOTAL}/{SEED_TOTAL} vectors"
    )
    expect(page.locator("#run-status")).to_have_text("Cut over, verified")
    expect(page.locator("#run-actions")).to_contain_text("Roll back")
    expect(page.locator("#cancel-run")).to_have_count(0)
    expect(page.locator("#items progress")).to_have_count(0)  # nothing in flight any more
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded instead of polling"
    screenshot("walk-04-migration-done")

    # -- the vector browser on a migrated twin, and find similar --------------------------------
    twin = run.items.exclude(target_kind="creator-wide").order_by("position").first()
    page.get_by_role("link", name="Namespaces", exact=True).click()
    page.get_by_role("link", name=twin.target_namespace, exact=True).click()
    expect(page.locator("h1")).to_have_text(f"Vectors of {twin.target_namespace}")
    ids = page.locator("#vector-ids tbody tr")
    expect(ids).to_have_count(twin.source_count)
    screenshot("walk-05-vector-browser")
    first_id = ids.first.locator("a").first.inner_text()
    ids.first.get_by_role("link", name=first_id, exact=True).click()
    expect(page.locator("h1")).to_have_text(f"Vector {first_id}")
    expect(page.locator("#dense-dimension")).to_have_text(str(DIM))
    screenshot("walk-06-vector-detail")
    page.locator("#find-similar").click()
    expect(page.locator("#id_vector_id")).to_have_value(first_id)
    page.get_by_role("button", name="Search", exact=True).click()
    hits = page.locator("#hits tbody tr")
    expect(hits.first).to_be_visible()
    expect(page.locator("#excluded-self")).to_be_visible()
    shown = [
        (row.get_attribute("data-namespace"), row.locator("td").nth(2).inner_text()) for row in hits.all()
    ]
    assert (twin.target_namespace, first_id) not in shown
    screenshot("walk-07-find-similar")

    # -- the creator's erasure: filed by the operator, approved by an approver -------------------
    erasure = _file_erasure(page)
    screenshot("walk-08-erasure-filed")
    approver_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    approver_context.set_default_timeout(10_000)
    approver = approver_context.new_page()
    sign_in(approver, approver_login, then=erasure.get_absolute_url())
    expect(approver.locator("#nav-pending-approvals")).to_contain_text("1")
    approver.fill("#approve-form input[name='confirm']", CREATOR)
    approver.get_by_role("button", name="Approve and erase").click()
    expect(approver.locator("#erasure-progress [data-status]")).to_have_text("Approved, queued")
    resumable_job_run(job_id=queued[-1])
    expect(approver.locator("#erasure-progress [data-status]")).to_have_text(
        "Erased and verified", timeout=15_000
    )
    expect(approver.locator("#nav-pending-approvals")).to_have_count(0)
    screenshot("walk-09-erasure-approved", of=approver)

    # -- the story of that erasure in the audit log ---------------------------------------------
    approver.locator("#audit-story").click()
    expect(approver.locator("h1")).to_contain_text("Audit story")
    steps = approver.locator("#story > li")
    summaries = steps.locator(".summary").all_inner_texts()
    assert len(summaries) >= 4, summaries
    assert any("approve" in s.lower() for s in summaries), summaries
    expect(steps.last).to_have_attribute("data-state", "succeeded")
    assert approver.locator("#story > li[data-state='failed']").count() == 0
    screenshot("walk-10-erasure-story", of=approver)
    approver_context.close()
    assert get_index().describe_index_stats().namespaces == {}
    assert page.problems == []


def test_with_javascript_off_a_migration_starts_and_a_request_is_filed(
    browser, live_server, operator_login, legacy, queued, screenshot
):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, operator_login)
        run = _start_migration(page)
        expect(page.locator("#run-status")).to_have_text("Queued")
        assert run.status == NamespaceMigration.Status.QUEUED and len(queued) == 1

        erasure = _file_erasure(page)
        assert erasure.status == "pending" and erasure.requested_by_name == operator_login[0]
        screenshot("walk-11-no-javascript-erasure-filed", of=page)
    finally:
        context.close()
