import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import (
    JobNotCancellable,
    job_cancel,
    job_claim,
    job_create,
    job_execute,
    job_progress,
)

pytestmark = pytest.mark.django_db

calls: list[int] = []


@job_handler("test_count")
def _count(job: Job) -> dict:
    calls.append(job.pk)
    job_progress(job, done=2, total=2, message="counted")
    return {"n": len(calls)}


@job_handler("test_fail")
def _fail(job: Job) -> dict:
    raise RuntimeError("boom")


def test_a_job_runs_once_however_often_it_is_delivered():
    calls.clear()
    job = job_create(kind="test_count", enqueue=False)
    first = job_execute(job_id=job.pk)
    second = job_execute(job_id=job.pk)
    assert calls == [job.pk]
    assert first.status == second.status == Job.Status.SUCCEEDED
    assert (first.progress_done, first.progress_total, first.message) == (2, 2, "counted")
    assert not job_claim(job_id=job.pk)


def test_a_failing_job_records_the_error():
    job = job_execute(job_id=job_create(kind="test_fail", enqueue=False).pk)
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("RuntimeError: boom") and job.finished_at


def test_unknown_kind_is_refused_before_writing():
    with pytest.raises(LookupError):
        job_create(kind="nope")
    assert Job.objects.count() == 0


def test_cancel_only_pending_jobs():
    job = job_create(kind="test_count", enqueue=False)
    assert job_cancel(job_id=job.pk, actor="cli:test", reason="not needed").status == Job.Status.CANCELLED
    assert job_execute(job_id=job.pk).status == Job.Status.CANCELLED
    with pytest.raises(JobNotCancellable, match="only a pending job"):
        job_cancel(job_id=job.pk, actor="cli:test", reason="again")


def test_job_page_polls_until_the_job_ends(auditor_client):
    job = job_create(kind="test_count", enqueue=False)
    url = reverse("jobs-job-detail", args=[job.pk])
    response = auditor_client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in response.content.decode()
    job_execute(job_id=job.pk)
    response = auditor_client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 286  # htmx: swap this in and stop polling
    body = response.content.decode()
    assert 'data-status="succeeded"' in body and "hx-trigger" not in body


def test_job_pages_need_login(client):
    job = job_create(kind="test_count", enqueue=False)
    assert client.get(reverse("jobs-job-detail", args=[job.pk]), HTTP_HX_REQUEST="true").status_code == 403
    assert client.post(reverse("jobs-cancel-job", args=[job.pk])).status_code == 403


@job_handler("test_flaky", retryable=True)
def _flaky(job: Job) -> dict:
    if "retry_of" not in job.params:
        raise RuntimeError("first try fails")
    return {"retried": job.params["retry_of"]}


def test_a_failed_retryable_job_is_retried_as_a_new_job(client, operator):
    failed = job_execute(job_id=job_create(kind="test_flaky", params={"x": 1}, enqueue=False).pk)
    assert failed.status == Job.Status.FAILED and failed.can_retry
    client.force_login(operator)
    assert 'action="/jobs/' in client.get(reverse("jobs-list-jobs"), {"status": "failed"}).content.decode()
    response = client.post(reverse("jobs-retry-job", args=[failed.pk]))
    new = Job.objects.exclude(pk=failed.pk).get()
    assert response["Location"] == new.get_absolute_url()
    assert new.params == {"x": 1, "retry_of": failed.pk}
    assert job_execute(job_id=new.pk).result == {"retried": failed.pk}
    assert Job.objects.get(pk=failed.pk).status == Job.Status.FAILED  # the old row stays as it ended


def test_only_failed_jobs_of_retryable_kinds_are_retried(client, operator, auditor):
    not_retryable = job_execute(job_id=job_create(kind="test_fail", enqueue=False).pk)
    succeeded = job_execute(job_id=job_create(kind="test_count", enqueue=False).pk)
    flaky = job_execute(job_id=job_create(kind="test_flaky", enqueue=False).pk)
    client.force_login(operator)
    assert client.post(reverse("jobs-retry-job", args=[not_retryable.pk])).status_code == 400
    assert client.post(reverse("jobs-retry-job", args=[succeeded.pk])).status_code == 400
    client.force_login(auditor)
    assert client.post(reverse("jobs-retry-job", args=[flaky.pk])).status_code == 403
    assert client.get(reverse("jobs-retry-job", args=[flaky.pk])).status_code == 405
    assert Job.objects.count() == 3


def test_job_list_pages_through_htmx_fragments(auditor_client):
    for _ in range(55):
        job_create(kind="test_count", enqueue=False)
    response = auditor_client.get(reverse("jobs-list-jobs"), {"page": 2}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="rows"' in body
    assert len(response.context["page"].object_list) == 5


def test_a_button_pressed_twice_starts_one_job(operator_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = operator_client.post(reverse("registry-refresh-index"), HTTP_HX_REQUEST="true")
        second = operator_client.post(reverse("registry-refresh-index"), HTTP_HX_REQUEST="true")

    assert Job.objects.filter(kind="refresh_index").count() == 1
    assert first["HX-Redirect"] == second["HX-Redirect"]


def test_the_same_button_later_starts_another(operator_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        operator_client.post(reverse("registry-refresh-index"))
        Job.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
        operator_client.post(reverse("registry-refresh-index"))

    assert Job.objects.filter(kind="refresh_index").count() == 2


def test_a_finished_job_links_to_what_it_produced(operator_client):
    job = job_create(kind="refresh_index", enqueue=False)
    assert 'id="produced"' not in operator_client.get(job.get_absolute_url()).content.decode()

    job_execute(job_id=job.pk)

    html = operator_client.get(job.get_absolute_url()).content.decode()
    assert f'id="produced"><a class="button primary" href="{reverse("registry-overview")}"' in html


def test_watching_a_job_finish_takes_you_to_what_it_produced(operator_client):
    job = job_create(kind="drift_report", enqueue=False)
    watching = operator_client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert watching.status_code == 200 and "HX-Redirect" not in watching

    job_execute(job_id=job.pk)
    last = operator_client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")

    assert last["HX-Redirect"] == reverse("registry-drift-report")
    later = operator_client.get(job.get_absolute_url())  # opened afterwards: the job page stays
    assert later.status_code == 200 and 'id="job-result"' in later.content.decode()
    result = later.content.decode().split('id="job-result"')[1].split("</table>")[0]
    assert "=" not in re.sub(r"<[^>]*>", "", result)  # read as a table, not as k=v


def test_a_succeeded_job_reads_done_not_its_last_step_counts(operator_client):
    done = job_create(kind="refresh_index", enqueue=False)
    Job.objects.filter(pk=done.pk).update(
        status=Job.Status.SUCCEEDED, progress_done=0, progress_total=1, message="cutting-over x: 0/1"
    )
    failed = job_create(kind="drift_report", enqueue=False)
    Job.objects.filter(pk=failed.pk).update(status=Job.Status.FAILED, progress_done=340, progress_total=805)

    listing = operator_client.get(reverse("jobs-list-jobs")).content.decode()
    detail = operator_client.get(done.get_absolute_url()).content.decode()

    assert "0 / 1" not in listing and "340 / 805" in listing
    assert re.search(r'id="job-progress">done</td>', detail) and "0 / 1" not in detail
    assert "340 / 805" in operator_client.get(failed.get_absolute_url()).content.decode()


def test_the_job_list_refuses_a_kind_or_status_that_does_not_exist(operator_client):
    job_create(kind="refresh_index", enqueue=False)
    for params in ({"kind": "nope\x00"}, {"status": "x" * 500}):
        response = operator_client.get(reverse("jobs-list-jobs"), params)
        assert response.status_code == 400 and b"No such job" in response.content
    listed = operator_client.get(reverse("jobs-list-jobs"), {"kind": "refresh_index", "status": "pending"})
    assert listed.status_code == 200 and b"refresh index" in listed.content
