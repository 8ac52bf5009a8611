"""Cancelling a job from the jobs page: only pending jobs, never an approved erasure, always with
a reason, and every attempt (a refused one too) in the audit log with who and why."""

from __future__ import annotations

import pytest
from django.urls import reverse

from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import JobNotCancellable, job_cancel, job_create, job_execute
from twinadmin.registry.services import creator_create

pytestmark = pytest.mark.django_db


@job_handler("test_cancel_target")
def _noop(job: Job) -> dict:
    return {}


def _cancel_url(job: Job) -> str:
    return reverse("jobs-cancel-job", args=[job.pk])


def _cancel_entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="job.cancel").order_by("seq"))


@pytest.fixture
def approved_erasure_job(operator, approver) -> Job:
    """The real way an erase_creator job comes to exist: an operator files, an approver approves."""
    creator_create(creator_id="erase.me")
    erasure = erasure_request_file(
        creator_id="erase.me", reason="GDPR request", confirm="erase.me", actor=operator
    )
    erasure = erasure_request_approve(
        erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False
    )
    job = erasure.job
    assert job.kind == "erase_creator" and job.status == Job.Status.PENDING
    return job


def test_cancelling_a_pending_job_records_who_and_why(operator_client, operator):
    job = job_create(kind="test_cancel_target", enqueue=False)

    response = operator_client.post(_cancel_url(job), {"reason": "started by mistake"}, follow=True)

    assert response.status_code == 200
    assert f"Job {job.pk} cancelled." in response.content.decode()
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.finished_at
    [entry] = _cancel_entries()
    assert (entry.actor, entry.outcome, entry.target_type, entry.target_id) == (
        operator.username,
        "success",
        "job",
        str(job.pk),
    )
    assert entry.details == {
        "kind": "test_cancel_target",
        "status_before": "pending",
        "reason": "started by mistake",
    }
    assert entry.correlation_id == job.correlation_id


def test_a_shell_cancel_is_audited_under_its_cli_name():
    job = job_create(kind="test_cancel_target", enqueue=False)
    job_cancel(job_id=job.pk, actor="cli:test", reason="from the shell")
    assert [(e.actor, e.details["reason"]) for e in _cancel_entries()] == [("cli:test", "from the shell")]


@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}])
def test_a_cancel_without_a_reason_changes_nothing(operator_client, data):
    job = job_create(kind="test_cancel_target", enqueue=False)

    response = operator_client.post(_cancel_url(job), data, follow=True)

    assert response.status_code == 200
    assert "Give a reason" in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == Job.Status.PENDING
    assert _cancel_entries() == []


def test_the_service_refuses_a_blank_reason_too():
    job = job_create(kind="test_cancel_target", enqueue=False)
    with pytest.raises(JobNotCancellable, match="Give a reason"):
        job_cancel(job_id=job.pk, actor="cli:test", reason="  ")
    assert Job.objects.get(pk=job.pk).status == Job.Status.PENDING
    assert _cancel_entries() == []


def test_an_approved_erasure_cannot_be_cancelled_and_the_attempt_is_audited(
    client, operator, approved_erasure_job
):
    job = approved_erasure_job
    client.force_login(operator)

    response = client.post(_cancel_url(job), {"reason": "changed my mind"}, follow=True)

    assert response.status_code == 200
    assert "an approved erasure cannot be cancelled;" in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == Job.Status.PENDING
    [entry] = _cancel_entries()
    assert (entry.actor, entry.outcome, entry.target_id) == (operator.username, "failure", str(job.pk))
    assert entry.details["kind"] == "erase_creator" and entry.details["status_before"] == "pending"
    assert entry.details["reason"] == "changed my mind"
    assert "an approved erasure cannot be cancelled" in entry.details["refused"]


def test_the_job_page_offers_no_cancel_for_an_approved_erasure(operator_client, approved_erasure_job):
    html = operator_client.get(approved_erasure_job.get_absolute_url()).content.decode()
    assert _cancel_url(approved_erasure_job) not in html


def test_the_job_page_offers_cancel_with_a_reason_only_while_pending(operator_client):
    job = job_create(kind="test_cancel_target", enqueue=False)
    html = operator_client.get(job.get_absolute_url()).content.decode()
    assert _cancel_url(job) in html and 'name="reason"' in html

    job_execute(job_id=job.pk)

    html = operator_client.get(job.get_absolute_url()).content.decode()
    assert _cancel_url(job) not in html


def test_a_finished_job_is_not_cancelled_and_the_attempt_is_audited(operator_client):
    job = job_execute(job_id=job_create(kind="test_cancel_target", enqueue=False).pk)

    response = operator_client.post(_cancel_url(job), {"reason": "too late"}, follow=True)

    assert "only a pending job can be cancelled" in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED
    [entry] = _cancel_entries()
    assert entry.outcome == "failure" and entry.details["status_before"] == "succeeded"


def test_cancel_of_a_missing_or_malformed_job_is_404(operator_client):
    for path in ("/jobs/999999/cancel/", "/jobs/abc/cancel/", "/jobs/-1/cancel/", f"/jobs/{10**30}/cancel/"):
        assert operator_client.post(path, {"reason": "r"}).status_code == 404, path
    assert _cancel_entries() == []


def test_only_operators_cancel(auditor_client):
    job = job_create(kind="test_cancel_target", enqueue=False)
    assert auditor_client.post(_cancel_url(job), {"reason": "r"}).status_code == 403
    assert auditor_client.get(_cancel_url(job)).status_code == 405
    assert Job.objects.get(pk=job.pk).status == Job.Status.PENDING and _cancel_entries() == []


def test_the_last_poll_of_a_job_that_ended_drops_its_cancel(operator_client):
    job = job_create(kind="test_cancel_target", enqueue=False)
    poll = operator_client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and _cancel_url(job) in poll.content.decode()

    job_execute(job_id=job.pk)
    last = operator_client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")

    assert last.status_code == 286 and _cancel_url(job) not in last.content.decode()
