"""A broker that cannot be reached when an erasure asks for a checkpoint does not fail the
erasure: its work is done and verified, and beat's periodic checkpoint signs the entries later."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from tests.support.erasure import run_job
from twinadmin.audit.tasks import audit_checkpoint_task
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.jobs.models import Job

pytestmark = pytest.mark.django_db


def test_an_erasure_ends_verified_while_the_broker_is_down(
    creator_a1, index, operator, approver, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):  # the broker connection: a process boundary
        raise OperationalError("MISCONF Redis is unable to persist to disk")

    monkeypatch.setattr(audit_checkpoint_task, "delay", broker_down)
    erasure = erasure_request_file(creator_id="a.1", reason="DSAR", confirm="a.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm="a.1", enqueue=False)
    erasure.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        job = run_job(erasure.job_id)

    erasure.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and erasure.status == "completed"
