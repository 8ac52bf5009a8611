"""The Drift page: how old its snapshot is, and complete counts over the first rows of each list."""

import datetime
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from twinadmin.registry.drift import PAGE_LIMIT
from twinadmin.registry.models import IndexSnapshot
from twinadmin.registry.services import index_snapshot_store

pytestmark = pytest.mark.django_db


def test_the_page_says_how_old_the_snapshot_is(auditor_client, capsys):
    index_snapshot_store(dimension=8, metric="cosine", namespaces={"stray": 1})
    IndexSnapshot.objects.update(observed_at=timezone.now() - datetime.timedelta(minutes=7, seconds=5))

    body = auditor_client.get(reverse("registry-drift-report")).content.decode()

    assert "snapshot taken 7 minutes ago" in body
    call_command("drift_report", "--json", "--no-refresh")
    assert 425 <= json.loads(capsys.readouterr().out)["age_seconds"] < 485


def test_the_page_lists_the_first_rows_and_counts_them_all(auditor_client, capsys):
    names = {f"stray-{i:04d}": 1 for i in range(PAGE_LIMIT + 5)}
    index_snapshot_store(dimension=8, metric="cosine", namespaces=names)

    response = auditor_client.get(reverse("registry-drift-report"))

    report = response.context["report"]
    assert report.counts["orphans"] == PAGE_LIMIT + 5
    assert [r["name"] for r in report.orphans] == sorted(names)[:PAGE_LIMIT]
    body = response.content.decode()
    assert f"Namespaces the registry does not know ({PAGE_LIMIT + 5})" in body
    assert 'id="drift-limited"' in body
    # The command lists every row.
    call_command("drift_report", "--json", "--no-refresh")
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["orphans"] == PAGE_LIMIT + 5
    assert [r["name"] for r in out["orphans"]] == sorted(names)
