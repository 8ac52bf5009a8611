"""Through the real SDK against the local Pinecone server with 30% of requests answered 429 or
503 and counts lagging deletes by a second: erasure and twin deletion still end verified, and
the verification shows it had to wait for the counts."""

from __future__ import annotations

import pytest

from tests.support.erasure import A1_NAMESPACES, NEIGHBOURS, make_creator, run_job
from tests.support.vectors import DIM, fill, use_server
from twinadmin.erasure.services import (
    erasure_request_approve,
    erasure_request_file,
    twin_deletion_request,
)
from twinadmin.jobs.models import Job
from twinadmin.vectors.server import FaultConfig

pytestmark = pytest.mark.django_db

LAG = 1.0


@pytest.fixture
def server(make_server, settings):
    """The local server, its store filled like `creator_a1`, and get_index() pointing at it
    through the Pinecone adapter (the real SDK over HTTP)."""
    server = make_server(dimension=DIM)
    fill(server.store, {**A1_NAMESPACES, **NEIGHBOURS, "__default__": 0, "": NEIGHBOURS["__default__"]})
    use_server(settings, server, retry_attempts=None)  # the adapter rides out the faults
    settings.VECTOR_DIMENSION = DIM
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 30
    # Faults from here on; the lagged view starts from what the store holds now.
    server.set_faults(fail_429=0.15, fail_503=0.15, retry_after=0.02, count_lag_seconds=LAG, seed=11)
    return server


def test_erasure_completes_verified_despite_429s_503s_and_lagging_counts(db, server, operator, approver):
    make_creator("a.1", ["t1", "t2"])
    make_creator("a.10", ["t1"])
    erasure = erasure_request_file(creator_id="a.1", reason="DSAR", confirm="a.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()

    job = run_job(erasure.job_id)

    assert job.status == Job.Status.SUCCEEDED, job.error
    erasure.refresh_from_db()
    assert erasure.status == "completed"
    assert server.store.counts() == NEIGHBOURS
    assert {n.name: (n.count_before, n.status, n.verified) for n in erasure.namespaces.all()} == {
        name: (count, "deleted", True) for name, count in A1_NAMESPACES.items()
    }
    # Faults really happened, and the counts really lagged: verification needed several rounds.
    assert server.request_count(status=429) > 0 and server.request_count(status=503) > 0
    rounds = erasure.verification["passes"][0]["rounds"]
    assert len(rounds) > 1 and rounds[0]["still_listed"] > 0 and rounds[-1]["still_listed"] == 0


def test_twin_deletion_completes_verified_despite_faults(db, server, operator):
    make_creator("a.1", ["t1", "t2"])
    deletion = twin_deletion_request(
        creator_id="a.1", twin_id="t1", reason="r", confirm="t1", actor=operator, enqueue=False
    )

    job = run_job(deletion.job_id)

    assert job.status == Job.Status.SUCCEEDED, job.error
    deletion.refresh_from_db()
    assert (deletion.status, deletion.count_before, deletion.count_after) == ("verified", 3, 0)
    assert "creator_a.1_twin_t1" not in server.store.counts()
    # The description kept reporting the old count until the lag passed.
    assert deletion.verification["rounds"][0]["count"] == 3


def test_faults_setting_is_what_the_issue_asks_for(server):
    faults: FaultConfig = server.faults
    assert faults.fail_429 + faults.fail_503 == pytest.approx(0.3) and faults.count_lag_seconds > 0
