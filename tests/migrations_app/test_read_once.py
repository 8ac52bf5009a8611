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


def _fetches(log: Path, namespace: str) -> int:
    lines = (json.loads(line) for line in log.read_text().splitlines())
    return sum(1 for r in lines if r["path"] == "/vectors/fetch" and r["namespace"] == namespace)


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
    # Read for the backup and the copy, then once more before its deletion.
    assert _fetches(tmp_path / "requests.jsonl", source) == 2 * math.ceil(total / BATCH)
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
