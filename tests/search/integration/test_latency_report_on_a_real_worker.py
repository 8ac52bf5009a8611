"""From the page, on a real worker: an operator starts a latency report for a creator; the
worker measures it (local store, and the real SDK against the local server); the report page,
polled as htmx polls it, stops polling and shows the figures and the chart."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from tests.support.search import build_layout
from tests.support.users import user_in_groups
from tests.support.vectors import DIM
from tests.support.workers import shared_vector_backend, wait_until
from twinadmin.accounts.roles import OPERATORS
from twinadmin.search.models import LatencyReport, Recall
from twinadmin.vectors import get_index

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("backend", ["local", "sdk"])
def test_operator_runs_a_latency_report_on_the_worker(
    backend, start_worker, client, tmp_path: Path, settings
):
    with shared_vector_backend(backend, tmp_path=tmp_path, settings=settings, dimension=DIM) as env:
        build_layout(get_index())
        start_worker(env=env)
        user = user_in_groups("lat-op", OPERATORS, password="pw")
        client.force_login(user)

        response = client.post(
            reverse("search-run-report"), {"creator_id": "acme", "queries": "10", "top_k": "3", "seed": "1"}
        )
        report = LatencyReport.objects.get()
        assert response.status_code == 302 and response["Location"] == report.get_absolute_url()

        def last_poll():
            poll = client.get(report.get_absolute_url(), headers={"HX-Request": "true"})
            return poll if poll.status_code == 286 else None

        poll = wait_until(last_poll, timeout=60, interval=0.3, what="the report page to stop polling")
        report.refresh_from_db()
        assert report.job.status == "succeeded", report.job.error
        assert report.query_count == 30
        assert report.p50_ms <= report.p95_ms <= report.p99_ms <= report.max_ms
        if backend == "local":
            assert report.recall == Recall.EXACT
        else:
            assert report.recall == Recall.MEASURED and report.recall_at_k == pytest.approx(1.0)
        body = poll.content.decode()
        assert "<svg" in body and "creator_acme_twin_t2" in body and "every 1s" not in body
