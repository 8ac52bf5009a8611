"""The erasure drill as production runs it: the page button and the daily beat message reach a
real Celery worker over the broker, which drives the real SDK against the local Pinecone server.
It passes and leaves nothing; with the index refusing deletes midway it fails, and still leaves
nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.support.drills import NOTHING, leftovers
from tests.support.workers import wait_until
from twinadmin.audit.models import AuditEntry
from twinadmin.celery import app as celery_app
from twinadmin.drills.models import DrillRun
from twinadmin.jobs.models import Job
from twinadmin.registry import codec

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STEPS = ["create", "delete_twin", "verify_twin", "erase_creator", "verify_creator", "cleanup"]


def _finished(worker, run: DrillRun):
    def check() -> DrillRun | None:
        worker.check_alive()
        run.refresh_from_db()
        return run if run.status in (DrillRun.Status.PASSED, DrillRun.Status.FAILED) else None

    return wait_until(check, timeout=90, interval=0.2, what=lambda: f"the drill to end:\n{worker.log_tail()}")


def test_the_drill_button_runs_a_drill_on_a_worker_that_leaves_nothing(
    server, worker_env, start_worker, operator_client, operator
):
    worker = start_worker(env=worker_env, name="drill")

    response = operator_client.post(reverse("drills-run-drill"))

    run = DrillRun.objects.get()
    assert response.status_code == 302 and response["Location"] == run.job.get_absolute_url()
    run = _finished(worker, run)
    assert run.status == DrillRun.Status.PASSED, run.error
    assert [s["name"] for s in run.steps] == STEPS and all(s["ok"] for s in run.steps)
    job = worker.wait_for_job(run.job_id)
    assert job.status == Job.Status.SUCCEEDED and job.created_by == operator
    assert leftovers(run.creator_id) == NOTHING
    assert server.store.describe_index_stats().namespaces == {}
    assert server.request_count(path="/vectors/upsert", status=200) >= 3  # it did go over HTTP
    marked = AuditEntry.objects.filter(correlation_id=job.correlation_id, action__startswith="drill.")
    assert sorted(e.action for e in marked) == ["drill.end", "drill.start"]
    assert all(e.details["drill"] is True for e in marked)
    assert b"passed" in operator_client.get(reverse("drills-list-runs")).content


def test_the_daily_beat_message_runs_a_drill_on_a_worker(server, worker_env, start_worker):
    worker = start_worker(env=worker_env, name="beat")

    # What celery beat sends each day for the "erasure-drill-daily" entry.
    entry = celery_app.conf.beat_schedule["erasure-drill-daily"]
    celery_app.send_task(entry["task"])

    run = wait_until(DrillRun.objects.first, timeout=60, what=lambda: f"a drill run:\n{worker.log_tail()}")
    run = _finished(worker, run)
    assert run.status == DrillRun.Status.PASSED, run.error
    assert run.actor == "celery:erasure_drill"
    assert leftovers(run.creator_id) == NOTHING
    assert server.store.describe_index_stats().namespaces == {}


def test_a_drill_failing_midway_on_a_worker_still_leaves_nothing(server, worker_env, start_worker, settings):
    from twinadmin.drills.services import erasure_drill_start

    worker = start_worker(env=worker_env, name="outage")
    wide = codec.creator_namespace("drill-outage")
    server.set_faults(
        outage_namespaces={wide}, outage_operations={"delete"}, outage_seconds=3, retry_after=0.01
    )

    run = _finished(worker, erasure_drill_start(actor="cli:test_deletion", creator_id="drill-outage"))

    assert run.status == DrillRun.Status.FAILED
    by_name = {s["name"]: s for s in run.steps}
    assert by_name["erase_creator"]["ok"] is False and by_name["cleanup"]["ok"] is True
    assert server.request_count(path=f"/namespaces/{wide}", status=503) > 0
    assert leftovers("drill-outage") == NOTHING
    assert server.store.describe_index_stats().namespaces == {}
    assert worker.wait_for_job(run.job_id).status == Job.Status.FAILED
