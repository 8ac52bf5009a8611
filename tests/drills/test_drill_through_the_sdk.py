"""The drill through the real SDK against the local Pinecone server, with 30% of requests
answered 429 or 503 and counts lagging: it still passes and leaves nothing of its creator."""

from __future__ import annotations

import pytest

from tests.support.drills import NOTHING, leftovers
from tests.support.vectors import use_server
from twinadmin.drills.models import DrillRun
from twinadmin.drills.services import erasure_drill_run

pytestmark = pytest.mark.django_db


def test_the_drill_passes_through_the_sdk_despite_faults_and_leaves_nothing(make_server, settings):
    server = make_server(dimension=settings.VECTOR_DIMENSION)
    use_server(settings, server, retry_attempts=None)  # the adapter rides out the faults
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 30
    server.set_faults(fail_429=0.15, fail_503=0.15, retry_after=0.02, count_lag_seconds=0.5, seed=3)

    run = erasure_drill_run(actor="cli:test_deletion", creator_id="drill-sdk")

    assert run.status == DrillRun.Status.PASSED, run.error
    assert all(step["ok"] for step in run.steps)
    server.set_faults(fail_429=0.0, fail_503=0.0, count_lag_seconds=0.0)
    assert leftovers("drill-sdk") == NOTHING
    assert server.store.describe_index_stats().namespaces == {}
    # The faults really happened, and everything went over HTTP.
    assert server.request_count(status=429) > 0 and server.request_count(status=503) > 0
