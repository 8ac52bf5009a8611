"""Every main page's <title> is its name in plain words: no markup of the page leaks into it
(the overview's once held the namespace table), whatever the index and registry hold."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from migrations_app.services import migration_create
from tests.migrations_app.helpers import legacy_sources
from tests.support.seed import CREATOR
from twinadmin.registry.services import index_refresh

pytestmark = pytest.mark.django_db

PAGES = {
    "registry-overview": "Index overview",
    "registry-list-namespaces": "Namespaces",
    "registry-list-creators": "Creators",
    "registry-drift-report": "Drift",
    "jobs-list-jobs": "Jobs",
    "migrations-list-runs": "Namespace migrations",
    "search-home": "Search",
    "search-list-reports": "Query latency",
    "audit-list-entries": "Audit log",
    "erasure-list-requests": "Erasure requests",
    "drills-list-runs": "Erasure drills",
}


def _title(body: str) -> str:
    found = re.findall(r"<title>(.*?)</title>", body, flags=re.S)
    assert len(found) == 1, found
    return html.unescape(found[0])


def test_every_main_page_is_titled_by_its_name_alone(operator_client, seeded, creator):
    index_refresh()
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:2])
    pages = {reverse(name): f"{title} · twinadmin" for name, title in PAGES.items()}
    pages[run.get_absolute_url()] = f"Migration run {run.pk} · twinadmin"
    pages[reverse("registry-creator-detail", args=[CREATOR])] = f"{CREATOR} · twinadmin"

    titles = {url: _title(operator_client.get(url).content.decode()) for url in pages}

    assert titles == pages


def test_drift_says_where_a_migrated_default_namespace_went(operator_client, seeded, creator):
    from migrations_app.services import migration_execute

    run = migration_create(actor="cli:test", creator_id=CREATOR)  # every legacy namespace, __default__ too
    migration_execute(run_id=run.pk)
    index_refresh()

    body = operator_client.get(reverse("registry-drift-report")).content.decode()

    rows = re.findall(
        r'<tr><td class="mono">([^<]+)</td><td class="num">\d+</td><td class="mono">([^<]+)</td>', body
    )
    assert len(rows) == 30 and ("__default__", f"creator_{CREATOR}") in rows
    assert all(target != "not migrated" for _, target in rows)
