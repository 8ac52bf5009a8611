"""A real Celery worker over Redis, SIGKILLed in the middle of copying, and a fresh worker (with
beat, as `make run` starts it): with no one pressing Resume, the jobs sweep finds the run's job
with a lapsed lease and hands it to the live worker, and the run continues by itself, ends
verified with not one vector lost, duplicated or altered, and continues the copy from its
checkpoint instead of starting again."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from migrations_app.models import MigrationItem, NamespaceMigration
from migrations_app.services import migration_create, migration_enqueue
from tests.migrations_app.helpers import assert_same_vectors, read_all, twin_namespace
from tests.support.seed import CREATOR
from tests.support.vectors import DIM, use_server
from tests.support.workers import wait_until
from twinadmin.audit.models import AuditEntry
from twinadmin.registry import codec
from twinadmin.vectors import DEFAULT_NAMESPACE, reset_index_cache
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.seed import generate_legacy_seed, legacy_index_seed
from twinadmin.vectors.server import LocalPineconeServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = NamespaceMigration.Status
BATCH = 20


@pytest.fixture
def server(tmp_path: Path, settings):
    store = LocalStore(tmp_path / "index.sqlite3", dimension=DIM, metric="cosine")
    server = LocalPineconeServer(store, request_log=tmp_path / "requests.jsonl").start()
    use_server(settings, server, retry_attempts=None)
    yield server
    reset_index_cache()
    server.stop()


def _upserts_into(log: Path, namespace: str, after: float) -> int:
    lines = (json.loads(line) for line in log.read_text().splitlines())
    return sum(
        1 for r in lines if r["path"] == "/vectors/upsert" and r["namespace"] == namespace and r["ts"] > after
    )


def test_sigkill_mid_copy_then_rerun_ends_verified_and_exact(start_worker, server, tmp_path, settings):
    seed = generate_legacy_seed(dimension=DIM, namespaces=4, vectors=2400, default_vectors=600, seed=5)
    legacy_index_seed(index=server.store, seed_data=seed)
    settings.MIGRATION_BACKUP_DIR = tmp_path / "backups"
    env = {
        "VECTOR_BACKEND": "pinecone",
        "PINECONE_API_KEY": "test-key",
        "PINECONE_INDEX_HOST": server.url,
        "MIGRATION_BACKUP_DIR": str(settings.MIGRATION_BACKUP_DIR),
        # Small sequential batches: many checkpoints, so the kill lands between two of them.
        "MIGRATION_BATCH_SIZE": str(BATCH),
        "MIGRATION_CONCURRENCY": "1",
        # A short lease, so the dead worker's claim lapses within seconds of the kill.
        "JOB_LEASE_SECONDS": "3",
    }
    first = start_worker(env=env)
    run = migration_create(actor="cli:test", creator_id=CREATOR, create_creator=True)
    migration_enqueue(run=run)

    # Once copying has begun, slow the index down so the copy is still going when we kill.
    wait_until(
        lambda: MigrationItem.objects.filter(run=run, step=MigrationItem.Step.COPYING).exists(),
        timeout=60,
        interval=0.01,
        what=lambda: f"the copy to start; worker log:\n{first.log_tail()}",
    )
    server.set_faults(latency_ms=30)
    copying = wait_until(
        lambda: MigrationItem.objects.filter(
            run=run, step=MigrationItem.Step.COPYING, copied__gte=3 * BATCH
        ).first(),
        timeout=30,
        interval=0.01,
        what="a few checkpoints of the copy",
    )
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    killed_at = __import__("time").time()
    server.set_faults(latency_ms=0)

    killed = MigrationItem.objects.get(pk=copying.pk)
    # The copy runs in the pass that reads the source (its backup's row count comes at its end).
    assert 0 < killed.copied < killed.source_count
    run.refresh_from_db()
    assert run.status == Status.RUNNING  # the dead worker's claim is still on the row
    dead_job = run.job_id

    # No manual step: the fresh worker's beat runs jobs.sweep, which finds the lapsed lease.
    start_worker(env={**env, "JOB_SWEEP_SECONDS": "1"}, beat=True)
    run = wait_until(
        lambda: NamespaceMigration.objects.filter(
            pk=run.pk, status__in=[Status.SUCCEEDED, Status.FAILED]
        ).first(),
        timeout=120,
        interval=0.2,
        what="the run to continue by itself and finish",
    )

    assert run.status == Status.SUCCEEDED, run.error
    assert run.attempt == 2
    continued = AuditEntry.objects.get(action="migration.run.continue", target_id=str(run.pk))
    assert continued.details["from_job"] == dead_job and continued.details["job"] == run.job_id
    assert continued.actor.startswith("worker@")  # taken over by a worker, nobody pressed Resume
    assert all(run.items.values_list("verified", flat=True))
    # Not one vector lost, duplicated or altered: exact id sets, bit-exact values, equal metadata.
    store = server.store
    assert_same_vectors(read_all(store, codec.creator_namespace(CREATOR)), seed.namespaces[DEFAULT_NAMESPACE])
    for namespace, vectors in seed.namespaces.items():
        if namespace != DEFAULT_NAMESPACE:
            assert_same_vectors(read_all(store, twin_namespace(CREATOR, namespace)), vectors)
    assert store.describe_index_stats().total_vector_count == 2 * 2400
    # The re-run continued from the checkpoint: it wrote (about) the rest, not the whole namespace.
    remaining = -(-(killed.source_count - killed.copied) // BATCH)
    redone = _upserts_into(tmp_path / "requests.jsonl", killed.target_namespace, after=killed_at)
    assert remaining <= redone <= remaining + 1 < -(-killed.source_count // BATCH)
