"""A hybrid (dense + sparse, dotproduct) legacy layout migrates, verifies and rolls back exactly
through the real SDK against pinecone_local: the sparse part of every vector is backed up, copied
and checksummed, and a changed sparse weight stops the cut-over like a changed dense value.
With VECTOR_BACKEND=pinecone the index's own dimension and metric are used: VECTOR_DIMENSION
(left at its 1536 default here) only shapes a new local store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from migrations_app import backups
from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_create
from tests.migrations_app import helpers
from tests.migrations_app.helpers import legacy_sources, read_all, run_phases
from tests.support.seed import CREATOR
from tests.support.vectors import start_server, use_server
from twinadmin.registry import codec
from twinadmin.registry.models import Twin
from twinadmin.vectors import DEFAULT_NAMESPACE, Vector, get_index, reset_index_cache
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.seed import LegacySeed, generate_legacy_seed, legacy_index_seed
from twinadmin.vectors.types import SparseValues

pytestmark = pytest.mark.django_db
HYBRID_DIM = 16


def _hybrid(seed: LegacySeed) -> LegacySeed:
    """The seed with a sparse part added to every vector but one per namespace (hybrid indexes
    hold dense-only vectors beside hybrid ones)."""
    rng = np.random.default_rng(7)
    out: dict[str, list[Vector]] = {}
    for name, vectors in seed.namespaces.items():
        out[name] = [vectors[0]]
        for v in vectors[1:]:
            nnz = int(rng.integers(1, 40))
            sparse = SparseValues(
                rng.choice(100_000, nnz, replace=False), rng.standard_normal(nnz).astype(np.float32)
            )
            out[name].append(Vector(v.id, v.values, v.metadata, sparse))
    return LegacySeed(namespaces=out)


@pytest.fixture
def hybrid_server(settings, tmp_path: Path):
    settings.VECTOR_DIMENSION = 1536  # the default: must not matter with VECTOR_BACKEND=pinecone
    settings.VECTOR_METRIC = "cosine"
    store = LocalStore(tmp_path / "hybrid.sqlite3", dimension=HYBRID_DIM, metric="dotproduct")
    server = start_server(tmp_path / "unused", store=store)
    use_server(settings, server, retry_attempts=None)
    yield server
    reset_index_cache()
    server.stop()


@pytest.fixture
def hybrid_seed(hybrid_server) -> LegacySeed:
    seed = _hybrid(generate_legacy_seed(namespaces=6, vectors=120, default_vectors=40, dimension=HYBRID_DIM))
    legacy_index_seed(index=get_index(), seed_data=seed)
    return seed


def test_a_hybrid_layout_is_mapped_verified_and_rolled_back_exactly(hybrid_server, hybrid_seed, capsys):
    index = get_index()
    assert (index.dimension, index.metric) == (HYBRID_DIM, "dotproduct")  # from the index itself

    call_command("map_to_test_creator", CREATOR, "--json", "--delete-source")
    report = json.loads(capsys.readouterr().out)

    assert report["status"] == "succeeded" and report["verified"] is True
    assert_same_vectors(
        read_all(index, codec.creator_namespace(CREATOR)), hybrid_seed.namespaces[DEFAULT_NAMESPACE]
    )
    for ns, vectors in hybrid_seed.namespaces.items():
        if ns != DEFAULT_NAMESPACE:
            assert_same_vectors(read_all(index, codec.twin_namespace(CREATOR, ns.lower())), vectors)
            assert ns not in index.describe_index_stats().namespaces  # the source went
    # The backups hold the sparse part in vector-io's sparse columns.
    run = NamespaceMigration.objects.get()
    item = run.items.order_by("position").first()
    table = backups.read_table(item.backup.location)
    assert {"sparse_indices", "sparse_values"} <= set(table.column_names)
    assert table.column("sparse_indices").null_count == 1

    call_command("migration_rollback", str(run.pk), "--json")
    assert json.loads(capsys.readouterr().out)["status"] == "rolled-back"

    for ns, vectors in hybrid_seed.namespaces.items():
        assert_same_vectors(read_all(index, ns), vectors)
    assert not Twin.objects.exists()


def assert_same_vectors(actual: dict[str, Vector], expected: list[Vector]) -> None:
    """The shared comparison (sparse parts included, bit-exactly), and every vector but the one
    dense-only vector of its namespace still carries a sparse part."""
    helpers.assert_same_vectors(actual, expected)
    assert sum(v.sparse_values is not None for v in actual.values()) == len(expected) - 1


def _nudge_sparse(vector: Vector) -> Vector:
    """The smallest change to the sparse part: one weight moved by one unit in the last place."""
    assert vector.sparse_values is not None
    weights = np.array(vector.sparse_values.values, dtype=np.float32)
    weights[0] = np.nextafter(weights[0], np.float32(np.inf))
    return Vector(
        vector.id, vector.values, vector.metadata, SparseValues(vector.sparse_values.indices, weights)
    )


def test_a_changed_sparse_weight_in_the_target_stops_the_cut_over(hybrid_server, hybrid_seed, creator):
    index = get_index()
    sources = legacy_sources(index)[:2]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=sources, delete_source=True)
    assert run_phases(run, "backup", "copy")
    item = run.items.order_by("position")[0]
    ids = [i for page in index.iter_id_pages(item.target_namespace) for i in page]
    victim = next(v for v in index.fetch(item.target_namespace, ids).values() if v.sparse_values is not None)
    index.upsert(item.target_namespace, [_nudge_sparse(victim)])

    assert run_phases(run, "verify") is False

    item.refresh_from_db()
    assert item.verification["different"] == 1
    assert item.verification["examples"]["different"] == [victim.id]
    assert run_phases(run, "cutover") is False
    assert index.describe_namespace(item.source_namespace).vector_count == item.total


def test_a_lost_sparse_part_in_the_target_stops_the_cut_over(hybrid_server, hybrid_seed, creator):
    index = get_index()
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(index)[:1])
    assert run_phases(run, "backup", "copy")
    item = run.items.order_by("position")[0]
    ids = [i for page in index.iter_id_pages(item.target_namespace) for i in page]
    victim = next(v for v in index.fetch(item.target_namespace, ids).values() if v.sparse_values is not None)
    index.upsert(item.target_namespace, [Vector(victim.id, victim.values, victim.metadata)])

    assert run_phases(run, "verify") is False
    item.refresh_from_db()
    assert item.verification["examples"]["different"] == [victim.id]


def test_map_to_test_creator_works_on_a_64_dimensional_index_without_vector_dimension(
    settings, tmp_path, capsys
):
    settings.VECTOR_DIMENSION = 1536
    server = start_server(tmp_path / "dim64.sqlite3", dimension=64)
    use_server(settings, server, retry_attempts=None)
    try:
        seed = generate_legacy_seed(namespaces=4, vectors=30, default_vectors=10, dimension=64)
        legacy_index_seed(index=get_index(), seed_data=seed)

        call_command("map_to_test_creator", CREATOR, "--json")

        report = json.loads(capsys.readouterr().out)
        assert report["status"] == "succeeded" and report["verified"] is True
    finally:
        reset_index_cache()
        server.stop()
