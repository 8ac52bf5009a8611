"""A broker restarted empty loses the messages of pending jobs. The sweep sends each such job
again once its last message is older than the grace period (JOB_RESEND_AFTER_SECONDS) — once
per loss: the next sweeps leave it alone until that message too is overdue. A job a worker sent
back for a retry, or one whose lapsed lease was already handed on, is not sent again early.
Every message really goes to the broker here (and the queue is emptied afterwards)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from migrations_app.jobs import JOB_KIND as MIGRATION_KIND
from twinadmin.celery import app as celery_app
from twinadmin.jobs import leases
from twinadmin.jobs.models import Job, JobLease
from twinadmin.jobs.services import RETRY_DELAY_MAX_SECONDS, job_create, job_execute
from twinadmin.vectors.errors import TransientError

pytestmark = pytest.mark.django_db
KIND = "delete_twin"  # resumable


@pytest.fixture(autouse=True)
def _empty_queue(settings):
    settings.JOB_RESEND_AFTER_SECONDS = 60.0
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def _sweep(django_capture_on_commit_callbacks) -> dict[str, list[int]]:
    with django_capture_on_commit_callbacks(execute=True):
        return leases.jobs_sweep()


def _age(job: Job, **fields: float) -> None:
    """Move the job's timestamps `seconds` into the past (instead of waiting that long)."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(**{f: now - dt.timedelta(seconds=s) for f, s in fields.items()})


def test_a_lost_pending_job_is_sent_again_once_per_loss(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(kind=KIND, params={"twin_id": "gone"})
    assert Job.objects.get(pk=job.pk).sent_at is not None  # sending is recorded
    assert _sweep(django_capture_on_commit_callbacks)["pending"] == []  # just sent: on its way

    _age(job, created_at=3600, sent_at=61)  # the broker lost it a minute ago
    assert _sweep(django_capture_on_commit_callbacks)["pending"] == [job.pk]
    for _ in range(3):  # the sweeps that follow see the fresh message, not a loss
        assert _sweep(django_capture_on_commit_callbacks)["pending"] == []

    _age(job, sent_at=61)  # lost again
    assert _sweep(django_capture_on_commit_callbacks)["pending"] == [job.pk]


def test_a_job_sent_back_for_a_retry_is_not_taken_for_lost(django_capture_on_commit_callbacks):
    """An old job whose handler hit a transient error: Celery delivers the retry within its
    backoff; the sweep does not send it as well meanwhile."""
    job = Job.objects.create(kind=MIGRATION_KIND)  # a kind that retries transient index errors
    _age(job, created_at=3600, sent_at=3600)

    def flaky(_job: Job) -> dict:
        raise TransientError("index restarting")

    with pytest.raises(Exception, match="index restarting"):
        job_execute(job_id=job.pk, handler=flaky, may_retry=True)

    job.refresh_from_db()
    assert job.status == Job.Status.PENDING
    assert job.sent_at >= timezone.now() + dt.timedelta(seconds=RETRY_DELAY_MAX_SECONDS - 5)
    assert _sweep(django_capture_on_commit_callbacks)["pending"] == []
    _age(job, sent_at=61)  # the retry's latest due time passed a minute ago: lost
    assert _sweep(django_capture_on_commit_callbacks)["pending"] == [job.pk]


def test_a_lapsed_job_is_handed_on_once_not_on_every_sweep(django_capture_on_commit_callbacks):
    now = timezone.now()
    job = Job.objects.create(kind=KIND, status=Job.Status.RUNNING, started_at=now)
    JobLease.objects.create(job=job, owner="worker@dead:1:1", expires_at=now - dt.timedelta(seconds=5))
    _age(job, sent_at=3600)

    assert _sweep(django_capture_on_commit_callbacks)["lapsed"] == [job.pk]
    assert _sweep(django_capture_on_commit_callbacks)["lapsed"] == []  # its message is on its way

    _age(job, sent_at=61)  # and that one was lost too
    assert _sweep(django_capture_on_commit_callbacks)["lapsed"] == [job.pk]


def test_a_paused_job_is_nobodys_lost_message(django_capture_on_commit_callbacks):
    job = Job.objects.create(kind=KIND, params={Job.PAUSED: True})
    _age(job, created_at=3600, sent_at=3600)
    assert _sweep(django_capture_on_commit_callbacks)["pending"] == []


def test_a_lost_plain_job_is_sent_again_to_its_own_task(django_capture_on_commit_callbacks):
    """A plain kind (an index refresh, a drift report) waits in the same queue: a broker that
    loses it must not leave it pending for ever. The sweep sends it again, once per loss, to the
    plain task (not the resumable one, which would refuse a kind with no lease)."""
    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(kind="refresh_index")
    assert Job.objects.get(pk=job.pk).sent_at is not None
    assert _sweep(django_capture_on_commit_callbacks)["pending"] == []

    _age(job, created_at=3600, sent_at=61)
    assert _sweep(django_capture_on_commit_callbacks)["pending"] == [job.pk]
    assert _sweep(django_capture_on_commit_callbacks)["pending"] == []
    # Both messages (the first, lost here only on paper, and the one sent again) went to the
    # plain task.
    assert _messages_for(job.pk) == ["jobs.run_job", "jobs.run_job"]


def _messages_for(job_id: int) -> list[str]:
    """The task names of the messages waiting in the broker for `job_id` (taken off the queue)."""
    found = []
    name = celery_app.conf.task_default_queue
    with celery_app.connection_for_write() as conn, conn.SimpleQueue(name) as queue:
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            message.ack()
            if message.headers.get("argsrepr", "").strip("(,)") == str(job_id):
                found.append(message.headers["task"])
    return found
