"""After every action the pages show the new state, with no refresh pressed: the jobs update
the snapshot rows they touched before they report done. Creator and twin pages show lineage:
where their vectors came from and whether that source is still in the index."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.migrations_app.helpers import legacy_sources
from tests.support.seed import CREATOR
from twinadmin.registry import codec
from twinadmin.registry.models import Twin
from twinadmin.vectors import DEFAULT_NAMESPACE

from .helpers import erase, map_creator

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def _kinds(client: Client) -> dict[str, tuple[int, int]]:
    page = client.get(reverse("registry-overview")).content.decode()
    rows = re.findall(
        r'<tr data-kind="([^"]+)">.*?<td class="num">(\d+)</td><td class="num">(\d+)</td>', page, re.S
    )
    return {kind: (int(n), int(v)) for kind, n, v in rows}


def _lineage_states(page: str) -> dict[str, str]:
    rows = re.findall(r'<td class="mono">([^<]+)</td><td class="mono">.*?data-state="([^"]+)"', page, re.S)
    return dict(rows)


def test_creator_and_twin_pages_show_where_their_vectors_came_from(seeded, creator, browser, capsys):
    call_command("refresh_index")
    map_creator(capsys)
    page = browser.get(reverse("registry-creator-detail", args=[CREATOR])).content.decode()
    states = _lineage_states(page)
    assert len(states) == 30 and set(states.values()) == {"in the index"}
    assert "still in the index (376 vectors)" in page

    source = legacy_sources(seeded)[0]
    twin = Twin.objects.get(legacy_namespace=source)
    twin_page = browser.get(reverse("registry-twin-detail", args=[CREATOR, twin.twin_id])).content.decode()
    assert _lineage_states(twin_page) == {source: "in the index"}


def test_with_sources_deleted_the_lineage_says_so(seeded, creator, browser, capsys):
    call_command("refresh_index")
    map_creator(capsys, "--delete-source")
    page = browser.get(reverse("registry-creator-detail", args=[CREATOR])).content.decode()
    assert set(_lineage_states(page).values()) == {"deleted"}
    assert _kinds(browser)["legacy-uuid"] == (0, 0)


def test_after_the_erasure_every_page_shows_the_erased_state_at_once(
    seeded, creator, operator, approver, browser, capsys
):
    call_command("refresh_index")
    map_creator(capsys)
    assert _kinds(browser)["twin"] == (29, 805 - 376)

    erasure = erase(operator, approver)
    assert erasure.status == "completed", erasure.last_error

    kinds = _kinds(browser)  # no refresh pressed: the job updated the snapshot
    assert kinds["twin"] == (0, 0) and kinds["creator-wide"] == (0, 0)
    assert kinds["legacy-uuid"] == (0, 0) and kinds["default"] == (0, 0)
    page = browser.get(reverse("registry-creator-detail", args=[CREATOR])).content.decode()
    assert 'badge erased">Erased' in page
    assert set(_lineage_states(page).values()) == {"erased"}
    assert "absent from the index" in page
    drift = browser.get(reverse("registry-drift-report")).content.decode()
    assert "GDPR" not in drift
    assert codec.creator_namespace(CREATOR) not in drift and DEFAULT_NAMESPACE not in drift


def test_drift_raises_the_alarm_for_an_erased_creators_copy_left_in_a_legacy_source(
    seeded, seed_data, creator, browser, capsys
):
    # As if an earlier version had erased the creator without lineage: the copy is still there.
    map_creator(capsys)
    source = legacy_sources(seeded)[0]
    creator.status = "erased"
    creator.save()

    drift = browser.get(reverse("registry-drift-report")).content.decode()

    assert "GDPR" in drift and source in drift and "copied ids of this creator" in drift
    with pytest.raises(Exception, match="erased creators still hold data"):
        call_command("drift_report", "--no-refresh")
    # A new request may be filed for it: something of the creator remains.
    from twinadmin.erasure.services import erasure_request_file

    assert erasure_request_file(creator_id=CREATOR, reason="again", confirm=CREATOR, actor="cli:test").pk


def test_a_cleanly_erased_creator_cannot_be_filed_again(seeded, creator, operator, approver, capsys):
    from twinadmin.erasure.services import ErasureError, erasure_request_file

    map_creator(capsys)
    assert erase(operator, approver).status == "completed"
    with pytest.raises(ErasureError, match="already erased; nothing of theirs remains"):
        erasure_request_file(creator_id=CREATOR, reason="again", confirm=CREATOR, actor=operator)
