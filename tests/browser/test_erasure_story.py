"""The erasure story in a real browser, on the seed's legacy layout migrated onto `sainath.no.1`
(sources kept): an operator reads the lineage and files a request after reading what it covers;
a different approver reads the same scope, mistypes the creator id (nothing happens), then
approves; the job runs as a worker runs it; every page shows the erased state with no refresh
pressed, and the receipt says what was erased in each lineage source and what was kept."""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from tests.support.browser import sign_in
from tests.support.seed import CREATOR
from tests.support.users import user_in_groups
from tests.support.vectors import DIM
from twinadmin.accounts.roles import APPROVERS
from twinadmin.jobs.leases import resumable_job_run
from twinadmin.registry import codec
from twinadmin.registry.services import creator_create
from twinadmin.vectors import DEFAULT_NAMESPACE, Vector, get_index
from twinadmin.vectors.seed import generate_legacy_seed, legacy_index_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The seed: 805 vectors, 376 of them in __default__, the rest in 29 legacy UUID namespaces. The
# default plan copies each legacy namespace into a twin and __default__ into creator_{id}.
SEED_TOTAL, SEED_DEFAULT, LEGACY = 805, 376, 29
UNRELATED = 5  # written into __default__ after the migration: nobody's copies, they must stay

# Kind labels as the scope table shows them.
CREATOR_WIDE, TWIN, LEGACY_SOURCE, DEFAULT_IDS = (
    "Creator-wide",
    "Registry twin",
    "Legacy source (copied from)",
    "Copied ids in __default__",
)


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Screenshots for a human to look at; TWINADMIN_SCREENSHOT_DIR keeps them somewhere known."""
    path = Path(os.environ.get("TWINADMIN_SCREENSHOT_DIR") or tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def migrated(settings: Any, tmp_path: Path, queued: list[int]) -> None:
    """The seed in the index, migrated onto the creator with its sources kept, then unrelated
    vectors written into __default__ (so erasing there must be by id, not the whole namespace)."""
    settings.VECTOR_DIMENSION = DIM
    settings.VECTOR_METRIC = "cosine"
    settings.MIGRATION_BACKUP_DIR = tmp_path / "backups"
    settings.MIGRATION_COUNT_DEADLINE_SECONDS = 10
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 10
    index = get_index()
    legacy_index_seed(index=index, seed_data=generate_legacy_seed(dimension=DIM, seed=0))
    creator_create(creator_id=CREATOR, display_name="Sainath (test creator)")
    call_command("refresh_index", stdout=io.StringIO())
    call_command("map_to_test_creator", CREATOR, stdout=io.StringIO())
    rng = np.random.default_rng(7)
    index.upsert(
        DEFAULT_NAMESPACE,
        [
            Vector(f"unrelated-{i}", rng.uniform(0.1, 1.0, DIM), {"text": "not sainath"})
            for i in range(UNRELATED)
        ],
    )
    assert queued == [], "the setup ran its jobs in-process"


@pytest.fixture
def approver_login(transactional_db: None) -> tuple[str, str]:
    username, password = "browser-appr", "browser-pw-9d41"
    user_in_groups(username, APPROVERS, password=password)
    return username, password


def _watch(page: Any) -> list[str]:
    """The `page` fixture's problem collection, for a page of another context."""
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console: {msg.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400:
            problems.append(f"HTTP {response.status} {response.url}")

    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", on_console)
    page.on("response", on_response)
    return problems


def _cells(rows: Any) -> list[list[str]]:
    return rows.evaluate_all("rs => rs.map(r => [...r.cells].map(c => c.innerText.trim()))")


def _check_scope(page: Any) -> None:
    """What a person checks before erasing: every namespace of the creator and every lineage
    source, with counts, and that __default__ loses only the copied ids."""
    rows = page.locator("#erasure-scope #scope-namespaces tbody tr")
    expect(rows).to_have_count(1 + LEGACY + LEGACY + 1)
    table = _cells(rows)
    assert Counter(row[1] for row in table) == {
        CREATOR_WIDE: 1,
        TWIN: LEGACY,
        LEGACY_SOURCE: LEGACY,
        DEFAULT_IDS: 1,
    }
    by_kind: dict[str, list[list[str]]] = {}
    for row in table:
        by_kind.setdefault(row[1], []).append(row)
    [shared] = by_kind[CREATOR_WIDE]
    assert shared[0] == codec.creator_namespace(CREATOR) and shared[2] == str(SEED_DEFAULT)
    assert all(row[0].startswith(f"creator_{CREATOR}_twin_") for row in by_kind[TWIN])
    assert sum(int(row[2]) for row in by_kind[TWIN]) == SEED_TOTAL - SEED_DEFAULT
    # Each legacy source holds exactly what was copied out of it.
    assert all(row[2] == row[3] and int(row[2]) > 0 for row in by_kind[LEGACY_SOURCE])
    assert sum(int(row[3]) for row in by_kind[LEGACY_SOURCE]) == SEED_TOTAL - SEED_DEFAULT
    [default] = by_kind[DEFAULT_IDS]
    assert default[:4] == [DEFAULT_NAMESPACE, DEFAULT_IDS, str(SEED_DEFAULT + UNRELATED), str(SEED_DEFAULT)]
    assert f"only the {SEED_DEFAULT} ids copied to this creator; everything else stays" in default[4]
    # Every vector of the creator twice: once in their own namespaces, once where it came from.
    expect(page.locator("#scope-summary")).to_contain_text(
        f"{SEED_TOTAL} vectors in {1 + LEGACY} namespaces of the creator, "
        f"plus {SEED_TOTAL} copies of theirs in {LEGACY + 1} lineage sources"
    )


def _row_named(rows: Any, name: str) -> Any:
    """The row whose namespace cell is exactly `name` (`__default__` is not a prefix match)."""
    return rows.filter(has=rows.page.locator("td.mono", has_text=re.compile(f"^{re.escape(name)}$")))


def _kind_row(page: Any, kind: str) -> list[str]:
    [row] = _cells(page.locator(f"#kinds tbody tr[data-kind='{kind}']"))
    return row[1:3]  # namespaces, vectors


def test_operator_files_approver_approves_and_every_page_shows_the_erasure(
    browser, page, live_server, operator_login, approver_login, migrated, queued, screenshot_dir
):
    creator_url = reverse("registry-creator-detail", args=[CREATOR])

    # -- the operator reads where the creator's vectors came from, and files the request ------
    sign_in(page, operator_login, then=creator_url)
    expect(page.locator("h1")).to_contain_text(CREATOR)
    lineage = page.locator("#lineage tbody tr")
    expect(lineage).to_have_count(LEGACY + 1)
    expect(lineage.locator("td[data-state='in the index']")).to_have_count(LEGACY + 1)
    expect(_row_named(lineage, DEFAULT_NAMESPACE).locator("td[data-state]")).to_contain_text(
        "still in the index"
    )
    page.screenshot(path=screenshot_dir / "erasure-01-creator-lineage.png", full_page=True)

    page.get_by_role("link", name="Request erasure").click()
    expect(page.locator("h1")).to_have_text(f"Request erasure of {CREATOR}")
    _check_scope(page)
    page.fill("#id_reason", "DSAR: the creator asked to be forgotten")
    page.fill("#id_ticket_reference", "DSAR-4711")
    page.fill("#id_confirm", CREATOR)
    page.screenshot(path=screenshot_dir / "erasure-02-request-form.png", full_page=True)
    page.get_by_role("button", name="File erasure request").click()

    expect(page.locator("h1")).to_have_text(re.compile(rf"^Erasure request \d+: {re.escape(CREATOR)}$"))
    expect(page.locator(".messages")).to_contain_text("another approver must approve it")
    status = page.locator("#erasure-progress [data-status]")
    expect(status).to_have_text("Awaiting approval")
    expect(page.locator("#approve-form")).to_have_count(0)  # never their own request
    request_url = page.url.removeprefix(live_server.url)
    page.screenshot(path=screenshot_dir / "erasure-03-request-filed.png", full_page=True)

    # -- the approver, in another browser, reads the same scope and approves it --------------
    approver_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    approver_context.set_default_timeout(10_000)
    approver = approver_context.new_page()
    approver_problems = _watch(approver)
    sign_in(approver, approver_login, then=request_url)
    _check_scope(approver)
    approver.screenshot(path=screenshot_dir / "erasure-04-approver-reads-the-scope.png", full_page=True)

    # A neighbour's id (a prefix match would accept it): refused, nothing queued.
    approver.fill("#approve-form input[name='confirm']", f"{CREATOR}0")
    approver.get_by_role("button", name="Approve and erase").click()
    expect(approver.locator(".messages")).to_contain_text(
        f"To approve, type the creator id '{CREATOR}' exactly."
    )
    approver_status = approver.locator("#erasure-progress [data-status]")
    expect(approver_status).to_have_text("Awaiting approval")
    assert queued == []
    approver.screenshot(path=screenshot_dir / "erasure-05-wrong-creator-id.png", full_page=True)

    approver.fill("#approve-form input[name='confirm']", CREATOR)
    approver.get_by_role("button", name="Approve and erase").click()
    expect(approver.locator(".messages")).to_contain_text("approved; the erasure is running")
    expect(approver_status).to_have_text("Approved, queued")
    assert len(queued) == 1, queued

    # The worker's part, here; the page polls and shows the outcome in the same document.
    approver.evaluate("window.__sameDocument = true")
    resumable_job_run(job_id=queued[0])
    expect(approver_status).to_have_text("Erased and verified", timeout=15_000)
    assert approver.evaluate("window.__sameDocument") is True, "the page reloaded instead of polling"
    expect(approver.locator("#namespace-counts")).to_contain_text(
        f"{2 * (1 + LEGACY)} in all: {2 * (1 + LEGACY)} deleted, 0 not found, 0 failed, 0 pending"
    )
    expect(_row_named(approver.locator("#namespaces tbody tr"), DEFAULT_NAMESPACE)).to_contain_text(
        f"copied ids only deleted · {UNRELATED} other vectors kept"
    )
    approver.screenshot(path=screenshot_dir / "erasure-06-erased-and-verified.png", full_page=True)

    # -- with no refresh pressed, every page shows the erased state -------------------------
    page.goto(reverse("registry-overview"))
    expect(page.locator("#total-vectors")).to_have_text(str(UNRELATED))
    expect(page.locator("#total-namespaces")).to_have_text("1")
    for kind in ("twin", "creator-wide", "legacy-uuid"):
        assert _kind_row(page, kind) == ["0", "0"], kind
    assert _kind_row(page, "default") == ["1", str(UNRELATED)]
    page.screenshot(path=screenshot_dir / "erasure-07-overview-after.png", full_page=True)

    page.goto(creator_url)
    expect(page.locator("h1 .badge")).to_have_text("Erased")
    expect(page.locator("#shared-count")).to_have_text("absent from the index")
    expect(lineage).to_have_count(LEGACY + 1)
    expect(lineage.locator("td[data-state='erased']")).to_have_count(LEGACY + 1)
    expect(page.locator("#request-erasure")).to_have_count(0)
    expect(page.locator("#erasure-requests tbody tr").first).to_contain_text("Erased and verified")
    page.screenshot(path=screenshot_dir / "erasure-08-creator-after.png", full_page=True)

    page.goto(reverse("registry-drift-report"))
    expect(page.locator("h1")).to_have_text("Registry ↔ index drift")
    expect(page.locator("main")).not_to_contain_text("GDPR")
    expect(page.locator("#drift-counts [data-kind='erased_with_data'] .value")).to_have_text("0")
    page.screenshot(path=screenshot_dir / "erasure-09-drift-after.png", full_page=True)

    page.goto(creator_url)
    page.locator("#erasure-requests").get_by_role("link", name="receipt").click()
    expect(page.locator("h1")).to_have_text(f"Erasure receipt: {CREATOR}")
    receipt = _cells(page.locator("#receipt-lineage tbody tr"))
    assert len(receipt) == LEGACY + 1
    # Copied from, kind, copied ids, found and erased, erased as, other vectors kept, status.
    [default] = [row for row in receipt if row[0] == DEFAULT_NAMESPACE]
    expected = [str(SEED_DEFAULT), str(SEED_DEFAULT), "copied ids only", str(UNRELATED), "deleted"]
    assert default[2:7] == expected
    legacy = [row for row in receipt if row[0] != DEFAULT_NAMESPACE]
    assert {(row[4], row[5], row[6]) for row in legacy} == {("whole namespace", "0", "deleted")}
    assert all(row[7] != "not verified" for row in receipt)
    page.screenshot(path=screenshot_dir / "erasure-10-receipt.png", full_page=True)

    # What the pages say is what the index holds: only the unrelated vectors are left.
    index = get_index()
    assert index.describe_index_stats().namespaces == {DEFAULT_NAMESPACE: UNRELATED}
    assert len(index.fetch(DEFAULT_NAMESPACE, [f"unrelated-{i}" for i in range(UNRELATED)])) == UNRELATED

    assert page.problems == [] and approver_problems == []
    approver_context.close()
