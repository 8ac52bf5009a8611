"""With pinecone_local answering 30% of requests with 429 or 503, a migration through the real
SDK still ends verified, with every vector exact; an outage that outlives the adapter's retries
sends the run's job back to be delivered again (Celery's autoretry), and it continues."""

from __future__ import annotations

import pytest

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_create, migration_execute
from tests.migrations_app.helpers import assert_same_vectors, read_all, twin_namespace
from tests.support.seed import CREATOR
from tests.support.vectors import adapter_for
from twinadmin.audit.models import AuditEntry
from twinadmin.jobs.leases import resumable_job_run
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import JobRetry
from twinadmin.registry import codec
from twinadmin.vectors import DEFAULT_NAMESPACE
from twinadmin.vectors.seed import legacy_index_seed
from twinadmin.vectors.server import FaultConfig

pytestmark = pytest.mark.django_db


def test_thirty_percent_429_and_503_still_end_verified(pinecone_local, seed_data, creator):
    server = pinecone_local()
    legacy_index_seed(index=server.store, seed_data=seed_data)
    server.set_faults(**vars(FaultConfig(fail_429=0.15, fail_503=0.15, retry_after=0, seed=11)))
    # The adapter's retries, with short waits: what is tested is that every failure is retried.
    index = adapter_for(server)

    run = migration_create(actor="cli:test", creator_id=CREATOR, delete_source=True, index=index)
    run = migration_execute(run_id=run.pk, index=index)

    assert run.status == NamespaceMigration.Status.SUCCEEDED, run.error
    assert all(run.items.values_list("verified", flat=True)) and run.items.count() == 30
    assert server.request_count(status=429) > 20 and server.request_count(status=503) > 20
    store = server.store
    assert_same_vectors(
        read_all(store, codec.creator_namespace(CREATOR)), seed_data.namespaces[DEFAULT_NAMESPACE]
    )
    for namespace, vectors in seed_data.namespaces.items():
        if namespace != DEFAULT_NAMESPACE:
            assert_same_vectors(read_all(store, twin_namespace(CREATOR, namespace)), vectors)
        assert read_all(store, namespace) == {}  # deleted, and only after verification


def _outage_run(pinecone_local, seed_data, settings):
    """A run whose copy meets an outage of its target that outlives the adapter's own retries."""
    server = pinecone_local()
    legacy_index_seed(index=server.store, seed_data=seed_data)
    settings.PINECONE_RETRY_ATTEMPTS = 1  # the adapter gives up at once: the job's retry is tested
    source = sorted(n for n in seed_data.namespaces if n != DEFAULT_NAMESPACE)[0]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source])
    target = run.items.get().target_namespace
    server.set_faults(outage_namespaces=[target], outage_operations=["upsert"], retry_after=0)
    return server, run, source


def test_a_transient_outage_sends_the_job_back_to_be_retried_and_it_continues(
    pinecone_local, seed_data, creator, settings
):
    server, run, source = _outage_run(pinecone_local, seed_data, settings)

    with pytest.raises(JobRetry):  # what makes Celery deliver it again, with backoff
        resumable_job_run(job_id=run.job_id, may_retry=True)

    run.refresh_from_db()
    # The target is written in the pass that reads the source and writes the backup.
    assert (run.status, run.phase) == (NamespaceMigration.Status.QUEUED, "backup")
    assert run.message.startswith("backup: retrying after TransientError")
    assert run.job.status == Job.Status.PENDING and not run.error
    assert not AuditEntry.objects.filter(action="migration.run.failed").exists()

    server.set_faults(outage_namespaces=[])  # the outage ends before the next delivery
    resumable_job_run(job_id=run.job_id, may_retry=True)

    run.refresh_from_db()
    assert (run.status, run.attempt) == (NamespaceMigration.Status.SUCCEEDED, 1), run.error
    assert run.job.status == Job.Status.SUCCEEDED
    assert_same_vectors(read_all(server.store, twin_namespace(CREATOR, source)), seed_data.namespaces[source])


def test_on_the_last_try_a_transient_error_fails_the_run_resumably(
    pinecone_local, seed_data, creator, settings
):
    _, run, _ = _outage_run(pinecone_local, seed_data, settings)

    resumable_job_run(job_id=run.job_id, may_retry=False)

    run.refresh_from_db()
    assert run.status == NamespaceMigration.Status.FAILED and "TransientError" in run.error
    assert run.job.status == Job.Status.FAILED and run.can_resume
    assert AuditEntry.objects.filter(action="migration.run.failed", target_id=str(run.pk)).exists()
