"""An auditor's reading of an erasure in a real browser: the log filtered by an action family
picked from the list of actions the log holds, each intent showing its outcome, then the story
of the erasure: request, approval, cancelled migrations, and the deletion folded with its
verified outcome in green; long details open on a click."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.erasure.conftest import creator_a1, index  # noqa: F401 (the erasure layout's fixtures)
from tests.support.browser import sign_in
from tests.support.erasure import erase_a1_with_backups, run_job
from tests.support.users import user_in_groups
from twinadmin.accounts.roles import APPROVERS, OPERATORS
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_auditor_follows_an_erasure_from_the_log_to_its_story(
    page,
    operator_login,
    screenshot,
    creator_a1,  # noqa: F811
    index,  # noqa: F811
):
    filer = user_in_groups("filer", OPERATORS)
    approver = user_in_groups("approver", APPROVERS)
    erasure = erasure_request_file(
        creator_id="a.1",
        actor=filer,
        reason="DSAR from the creator",
        ticket_reference="DSAR-9",
        confirm="a.1",
    )
    erasure_request_approve(erasure=erasure, actor=approver, confirm="a.1", enqueue=False)
    erasure.refresh_from_db()
    run_job(erasure.job_id)
    start = AuditEntry.objects.get(correlation_id=erasure.correlation_id, action="creator.erase.start")
    finish = AuditEntry.objects.get(correlation_id=erasure.correlation_id, action="creator.erase.finish")

    sign_in(page, operator_login, then=reverse("audit-list-entries"))
    expect(page.locator("h1")).to_have_text("Audit log")

    # The action box suggests what the log holds, families first.
    options = page.locator("#audit-actions option")
    offered = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert "creator.erase.*" in offered and "creator.erase.finish" in offered
    page.fill("input[name=action]", "creator.erase.*")
    page.press("input[name=action]", "Enter")
    rows = page.locator("#rows tbody tr")
    expect(rows).to_have_count(4)  # request, approve, start, finish
    expect(page).to_have_url(re.compile(r"action=creator\.erase\.\*"))
    start_row = page.locator(
        "#rows tbody tr", has=page.locator(f"a[href='{reverse('audit-entry-detail', args=[start.seq])}']")
    )
    expect(start_row.locator("td.outcome .badge.succeeded")).to_have_text("success")  # closed by the finish
    screenshot("audit-list")

    start_row.get_by_role("link", name="story").click()
    expect(page.locator("h1")).to_contain_text(str(erasure.correlation_id))
    steps = page.locator("#story > li")
    expect(steps).to_have_count(5)
    expect(steps.locator(".summary")).to_have_text(
        [
            re.compile(r"^Erasure of creator a\.1 requested"),
            re.compile(r"^Erasure of creator a\.1 approved"),
            re.compile(r"^Migrations of creator a\.1 cancelled"),
            re.compile(r"^Creator a\.1 erased: namespaces deleted and verified"),
            re.compile(r"^Backup key of creator a\.1 destroyed"),
        ]
    )
    erased = steps.nth(3)
    expect(erased).to_have_attribute("data-state", "succeeded")
    expect(erased.locator(".badge.succeeded").first).to_have_css("color", "rgb(6, 118, 71)")  # green
    expect(erased).to_contain_text(f"#{finish.seq} creator.erase.finish")
    expect(erased).to_contain_text("approver")

    # The start's and the finish's details are long: folded until clicked, then pretty-printed.
    expect(erased.locator("details.json")).to_have_count(2)
    folded = erased.locator("details.json").last
    expect(folded.locator("pre")).not_to_be_visible()
    folded.locator("summary").click()
    expect(folded.locator("pre")).to_be_visible()
    expect(folded.locator("pre")).to_contain_text('"name": "creator_a.1"')
    expect(page.get_by_role("link", name="its receipt")).to_have_attribute(
        "href", reverse("erasure-request-receipt", args=[erasure.pk])
    )
    screenshot("audit-story")

    # Each step links its entries; an entry's page links back to the story.
    erased.get_by_role("link", name=f"#{finish.seq} creator.erase.finish").click()
    expect(page.locator("h1")).to_contain_text(f"#{finish.seq}")
    expect(page.locator("details.json#details")).to_have_count(1)  # 41 lines: folded here too
    screenshot("audit-entry")
    page.locator("#story-link").click()
    expect(page.locator("#story > li")).to_have_count(5)
    assert page.problems == []


def test_a_run_of_backup_deletions_reads_as_one_group_opened_on_a_click(
    page,
    operator_login,
    screenshot,
    creator_a1,  # noqa: F811
    index,  # noqa: F811
    tmp_path,
):
    erasure = erase_a1_with_backups(
        tmp_path, user_in_groups("filer", OPERATORS), user_in_groups("approver", APPROVERS)
    )

    sign_in(page, operator_login, then=reverse("audit-show-story", args=[str(erasure.correlation_id)]))
    expect(page.locator("#story-count")).to_contain_text("7 steps (12 in all) from 20 entries")
    expect(page.locator("#story > li")).to_have_count(7)
    group = page.locator("#story > li.group")
    expect(group).to_have_count(1)
    expect(group).to_have_attribute("data-state", "succeeded")
    expect(group.locator("summary .summary")).to_have_text("6 × Backup deleted — all succeeded")
    members = group.locator("li[data-state]")
    expect(members).to_have_count(6)
    expect(members.first).not_to_be_visible()  # closed: nothing failed
    expect(page.locator("#story li[data-state]")).to_have_count(13)  # the group, six steps, six members
    screenshot("audit-story-grouped")
    group.locator("summary").click()
    expect(members.first).to_be_visible()
    expect(members.first.locator(".summary")).to_have_text(re.compile(r"^Backup \d+ deleted"))
    screenshot("audit-story-group-open")
    assert page.problems == []
