"""A worker SIGKILLed in the middle of an erasure, and another started: the erasure finishes,
verified, from the checkpoints the first one left (nothing deleted twice by the same request
row), through the real SDK against the local Pinecone server."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.support.erasure import make_creator
from tests.support.vectors import DIM, fill
from tests.support.workers import kill_hard, wait_until
from twinadmin.erasure.models import ErasureRequest
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.jobs.models import Job, JobLease
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.pinecone_adapter import PineconeIndex
from twinadmin.vectors.server import FaultConfig, LocalPineconeServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TWINS = 60


@pytest.fixture
def server(tmp_path):
    store = LocalStore(tmp_path / "server.sqlite3", dimension=DIM, metric="cosine")
    # 30 ms a request: slow enough to kill the worker half-way through the deletes.
    with LocalPineconeServer(store, faults=FaultConfig(latency_ms=30)) as server:
        yield server


def test_a_killed_worker_s_erasure_is_finished_by_the_next_worker(server, start_worker, make_user, settings):
    twins = [f"t{i:03d}" for i in range(TWINS)]
    make_creator("k.1", twins)
    make_creator("k.10", ["t000"])
    fill(
        server.store,
        {f"creator_k.1_twin_{t}": 2 for t in twins} | {"creator_k.1": 3, "creator_k.10_twin_t000": 4},
    )
    env = {
        "VECTOR_BACKEND": "pinecone",
        "PINECONE_API_KEY": "test-key",
        "PINECONE_INDEX_HOST": server.url,
        "VECTOR_DIMENSION": str(DIM),
    }
    first = start_worker(env=env, name="first")
    operator, approver = make_user("itest-op", "operators"), make_user("itest-appr", "approvers")
    erasure = erasure_request_file(creator_id="k.1", reason="DSAR", confirm="k.1", actor=operator)

    erasure_request_approve(
        erasure=erasure, actor=approver, confirm=erasure.creator_id
    )  # queued to the workers on commit

    erasure.refresh_from_db()
    first_job = erasure.job_id
    wait_until(
        lambda: erasure.namespaces.filter(status="deleted").count() >= 10,
        timeout=60,
        interval=0.02,
        what=lambda: f"the first worker to delete 10 namespaces:\n{first.log_tail()}",
    )
    kill_hard(first)
    deleted_by_first = erasure.namespaces.filter(status="deleted").count()
    assert deleted_by_first < TWINS + 1, "the first worker finished before it was killed"
    assert Job.objects.get(pk=first_job).status == Job.Status.RUNNING
    # Time passing: the dead worker's lease (JOB_LEASE_SECONDS) runs out. The only thing patched here.
    JobLease.objects.filter(job_id=first_job).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    second = start_worker(env=env, name="second")

    def finished() -> ErasureRequest | None:
        # Ended means both: the erasure is terminal and the job carrying it has closed (the job's
        # row is written just after the erasure's, so the pages agree a moment later).
        second.check_alive()
        erasure.refresh_from_db()
        if erasure.status not in ("completed", "failed"):
            return None
        return erasure if Job.objects.get(pk=erasure.job_id).is_finished else None

    wait_until(finished, timeout=120, interval=0.2, what=lambda: f"the erasure to end:\n{second.log_tail()}")
    assert erasure.status == "completed", erasure.last_error
    assert server.store.counts() == {"creator_k.10_twin_t000": 4}
    assert Job.objects.get(pk=first_job).status == Job.Status.FAILED
    successor = Job.objects.get(pk=erasure.job_id)
    assert successor.pk != first_job and successor.status == Job.Status.SUCCEEDED
    assert successor.params["continues_job"] == first_job
    rows = list(erasure.namespaces.all())
    assert len(rows) == TWINS + 1 and all(r.verified for r in rows)
    assert {r.status for r in rows} <= {"deleted", "not_found"}
    # Only the deletes in flight when the worker died are seen as already gone: the pool's window
    # (bounded_map refills it before handing a result over) and the one being recorded.
    assert sum(1 for r in rows if r.status == "not_found") <= PineconeIndex.concurrency_hint + 1
    assert "re-enqueued interrupted jobs" in second.log()
