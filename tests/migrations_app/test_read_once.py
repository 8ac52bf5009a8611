"""The source is read once: one pass fetches each batch, writes it to the backup and upserts it
into the target; verification compares the target with the digests the backup recorded and lists
the source again (ids and count) instead of fetching it a second time. A writer that adds or
deletes source vectors meanwhile still stops the cut-over, naming the ids."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from migrations_app.models import NamespaceMigration
from migrations_app.pipeline.verify import VERIFY_UNIT_VECTORS
from migrations_app.services import migration_create, migration_execute
from tests.migrations_app.helpers import assert_same_vectors, legacy_sources, read_all, run_phases
from tests.support.seed import CREATOR
from tests.support.vectors import DIM, start_server, use_server
from twinadmin.registry.models import Twin
from twinadmin.vectors import Vector, get_index, reset_index_cache
from twinadmin.vectors.seed import legacy_index_seed

pytestmark = pytest.mark.django_db
BATCH = 10


@pytest.fixture
def logged_server(tmp_path: Path, settings, seed_data):
    """pinecone_local (through the real SDK) with its request log in a file, holding the seed."""
    server = start_server(tmp_path / "index.sqlite3", request_log=tmp_path / "requests.jsonl")
    legacy_index_seed(index=server.store, seed_data=seed_data)
    use_server(settings, server, retry_attempts=None)
    settings.MIGRATION_BATCH_SIZE = BATCH
    yield server
    reset_index_cache()
    server.stop()


def _requests(log: Path, path: str, namespace: str, *, skip: int = 0) -> int:
    """Requests to `path` about `namespace` in the log, past its first `skip` lines."""
    lines = (json.loads(line) for line in log.read_text().splitlines()[skip:])
    return sum(1 for r in lines if r["path"] == path and r["namespace"] == namespace)


def _fetches(log: Path, namespace: str) -> int:
    return _requests(log, "/vectors/fetch", namespace)


def test_each_source_vector_is_fetched_once_and_the_copy_is_exact(
    logged_server, creator, seed_data, tmp_path
):
    sources = legacy_sources(logged_server.store)[:3]
    run = migration_execute(
        run_id=migration_create(actor="cli:test", creator_id=CREATOR, namespaces=sources).pk
    )

    assert run.status == NamespaceMigration.Status.SUCCEEDED, run.error
    log = tmp_path / "requests.jsonl"
    for item in run.items.all():
        assert item.verified
        # One fetch per batch of the source, in all: backup, copy and verification together.
        assert _fetches(log, item.source_namespace) == math.ceil(item.total / BATCH)
        assert_same_vectors(
            read_all(logged_server.store, item.target_namespace), seed_data.namespaces[item.source_namespace]
        )


def test_a_source_about_to_be_deleted_is_compared_value_by_value(logged_server, creator, tmp_path):
    (source,) = legacy_sources(logged_server.store)[:1]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source], delete_source=True)
    total = logged_server.store.describe_namespace(source).vector_count

    run = migration_execute(run_id=run.pk)

    assert run.status == NamespaceMigration.Status.SUCCEEDED, run.error
    # Read for the backup and the copy in batches, then once more before its deletion, in as
    # few fetch requests as the API takes (one here: the namespace fits in one).
    assert total < VERIFY_UNIT_VECTORS
    assert _fetches(tmp_path / "requests.jsonl", source) == math.ceil(total / BATCH) + 1
    assert run.items.get().verification["source_reread"] is True


def test_ids_added_to_or_deleted_from_a_kept_source_stop_the_cut_over(logged_server, creator):
    index = get_index()
    (source,) = legacy_sources(logged_server.store)[:1]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source])
    assert run_phases(run, "backup", "copy")
    gone = index.list_ids(source, limit=1).ids
    index.delete_ids(source, gone)
    index.upsert(source, [Vector("written-meanwhile", np.ones(DIM, np.float32))])

    assert run_phases(run, "verify") is False

    item = run.items.get()
    report = item.verification
    assert item.verified is False
    assert report["reason"].startswith("the source changed after its backup was taken")
    assert report["examples"]["source_added"] == ["written-meanwhile"]
    assert report["examples"]["source_deleted"] == gone
    assert (report["source_added"], report["source_deleted"], report["different"]) == (1, 1, 0)
    assert report["source_reread"] is False  # kept: listed again, its values not fetched again
    assert not Twin.objects.exists()


def test_a_complete_target_is_checked_by_its_count_without_being_listed(logged_server, creator, tmp_path):
    """Every id of the backup fetched from the target with its digest, and the target's count at
    exactly that many: nothing else is there, and the third listing of every vector (the one
    that binds under a list rate limit) is not made."""
    (source,) = legacy_sources(logged_server.store)[:1]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source])
    assert run_phases(run, "backup", "copy")
    log = tmp_path / "requests.jsonl"
    before = len(log.read_text().splitlines())

    assert run_phases(run, "verify")

    item = run.items.get()
    report = item.verification
    assert report["ok"] and report["target_ids_by"] == "count"
    assert report["target_count"] == report["source_count"] == item.total
    assert _requests(log, "/vectors/list", item.target_namespace, skip=before) == 0
    assert _requests(log, "/vectors/list", source, skip=before) == math.ceil(item.total / 100)
    # Read back in as few fetch requests as the API takes (one: the namespace fits in one), not
    # one per batch of the backup (BATCH).
    assert item.total > BATCH and _requests(log, "/vectors/fetch", item.target_namespace, skip=before) == 1


def test_a_vector_nobody_copied_is_named_without_waiting_out_the_count_deadline(
    logged_server, creator, settings
):
    """Everything the backup holds is in the target, plus one vector more: its count says so at
    once, and the target is then listed to name it (not left to the deadline)."""
    settings.MIGRATION_COUNT_DEADLINE_SECONDS = 60
    index = get_index()
    (source,) = legacy_sources(logged_server.store)[:1]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source])
    assert run_phases(run, "backup", "copy")
    item = run.items.get()
    index.upsert(item.target_namespace, [Vector("intruder", np.ones(DIM, np.float32))])

    assert run_phases(run, "verify") is False

    item.refresh_from_db()
    report = item.verification
    assert (report["missing"], report["different"], report["extra"]) == (0, 0, 1)
    assert report["examples"]["extra"] == ["intruder"]
    assert report["target_ids_by"] == "listing" and report["target_count"] == item.total + 1
    assert report["counts"]["converged"] and report["duration_seconds"] < 30  # the deadline: 60 s
    assert not Twin.objects.exists()
