"""When a twin deletion or a creator erasure completes, the worker signs a checkpoint that
covers its audit entries (sent after commit; here the task runs in this process, eagerly,
because the broker is a process boundary)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.support.erasure import run_job
from twinadmin.audit.checkpoints import checkpoint_files, checkpoint_read
from twinadmin.audit.keys import public_key_load
from twinadmin.audit.models import AuditEntry
from twinadmin.celery import app as celery_app
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file, twin_deletion_request
from twinadmin.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_tasks():
    call_command("audit_keygen", stdout=io.StringIO(), stderr=io.StringIO())
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def _newest_size() -> int:
    key = public_key_load()
    return max((checkpoint_read(p, key).tree_size for p in checkpoint_files()), default=-1)


def test_a_completed_twin_deletion_is_checkpointed(
    creator_a1, index, operator, eager_tasks, django_capture_on_commit_callbacks
):
    deletion = twin_deletion_request(
        actor=operator, enqueue=False, creator_id="a.1", twin_id="t1", reason="asked", confirm="t1"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(deletion.job_id).status == Job.Status.SUCCEEDED
    assert _newest_size() == AuditEntry.objects.count()


def test_a_completed_erasure_is_checkpointed(
    creator_a1, index, operator, approver, eager_tasks, django_capture_on_commit_callbacks
):
    erasure = erasure_request_file(
        creator_id="a.1", reason="DSAR", ticket_reference="T-1", confirm="a.1", actor=operator
    )
    erasure_request_approve(erasure=erasure, actor=approver, confirm="a.1", enqueue=False)
    erasure.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(erasure.job_id).status == Job.Status.SUCCEEDED
    erasure.refresh_from_db()
    assert _newest_size() >= erasure.audit_seq == AuditEntry.objects.count()
