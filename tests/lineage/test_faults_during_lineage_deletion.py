"""Faults while erasing lineage sources end as for any namespace: retried, resumable, and the
creator is marked erased only when every copy, lineage included, is verified gone; otherwise
the request stays open and names what is left. Through the real SDK against the local server."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.migrations_app.helpers import legacy_sources
from tests.support.seed import CREATOR
from twinadmin.erasure.models import ErasureRequest
from twinadmin.erasure.services import erasure_request_retry
from twinadmin.jobs.leases import resumable_job_run
from twinadmin.registry.models import Creator
from twinadmin.vectors import get_index, reset_index_cache
from twinadmin.vectors.seed import legacy_index_seed

from .helpers import erase, map_creator, survivors

pytestmark = pytest.mark.django_db


@pytest.fixture
def migrated(pinecone_local, seed_data, creator, capsys):
    server = pinecone_local()
    legacy_index_seed(index=get_index(), seed_data=seed_data)
    assert map_creator(capsys)["status"] == "succeeded"
    return server


def _originals(seed_data):
    return [v for vectors in seed_data.namespaces.values() for v in vectors]


def test_an_outage_of_one_source_keeps_the_request_open_and_a_retry_finishes_it(
    migrated, seed_data, settings, operator, approver
):
    source = legacy_sources(get_index())[3]
    settings.PINECONE_RETRY_ATTEMPTS = 1  # the outage reaches the job after the SDK's own retries
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 1
    reset_index_cache()
    index = get_index()
    migrated.set_faults(outage_namespaces=frozenset({source}), retry_after=0.01)

    erasure = erase(operator, approver)

    assert erasure.status == ErasureRequest.Status.FAILED
    assert source in erasure.last_error
    row = erasure.namespaces.get(name=source)
    assert (row.kind, row.status, row.verified) == ("legacy-source", "failed", False) and "503" in row.error
    assert Creator.objects.get(creator_id=CREATOR).status == Creator.Status.ERASURE_PENDING
    assert {name for name, _ in survivors(index, _originals(seed_data))} == {source}
    with pytest.raises(SystemExit):
        call_command("verify_deletion", CREATOR)
    assert migrated.request_count(status=503) > 0

    migrated.set_faults(outage_namespaces=frozenset())  # the outage is over
    erasure_request_retry(erasure=erasure, actor=operator, enqueue=False)
    erasure.refresh_from_db()
    resumable_job_run(job_id=erasure.job_id)
    erasure.refresh_from_db()

    assert erasure.status == ErasureRequest.Status.COMPLETED, erasure.last_error
    assert survivors(index, _originals(seed_data)) == []
    # Checkpoints: the sources deleted by the first run were not deleted again.
    calls = dict(erasure.namespaces.filter(kind="legacy-source").values_list("name", "delete_calls"))
    assert calls.pop(source) == 2 and set(calls.values()) == {1}
    call_command("verify_deletion", CREATOR)


def test_a_storm_of_429_and_503_is_ridden_out(migrated, seed_data, operator, approver):
    def storm() -> None:
        migrated.set_faults(fail_429=0.15, fail_503=0.15, retry_after=0.01, seed=3)

    erasure = erase(operator, approver, before_run=storm)

    assert erasure.status == ErasureRequest.Status.COMPLETED, erasure.last_error
    migrated.set_faults(fail_429=0.0, fail_503=0.0)
    assert survivors(get_index(), _originals(seed_data)) == []
    assert migrated.request_count(status=429) > 0 and migrated.request_count(status=503) > 0
