"""Assertions shared by the migration tests: what a user cares about is the index content."""

from __future__ import annotations

from twinadmin.registry import codec
from twinadmin.vectors import Vector, VectorIndex


def read_all(index: VectorIndex, namespace: str) -> dict[str, Vector]:
    out: dict[str, Vector] = {}
    for ids in index.iter_id_pages(namespace):
        out.update(index.fetch(namespace, ids))
    return out


def assert_same_vectors(actual: dict[str, Vector], expected: list[Vector] | dict[str, Vector]) -> None:
    """Same id set, and every vector equal: float32 bit-exact dense values, sparse indices and
    float32 bit-exact sparse weights, and equal metadata."""
    expected_map = expected if isinstance(expected, dict) else {v.id: v for v in expected}
    missing, extra = set(expected_map) - set(actual), set(actual) - set(expected_map)
    assert not missing and not extra, f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
    changed = [i for i, v in expected_map.items() if actual[i] != _normalised(v)]
    assert not changed, f"vectors differ: {changed[:5]}"


def _normalised(vector: Vector) -> Vector:
    """The seed writes integer metadata; Pinecone (and the local store) keep numbers as doubles."""
    if vector.metadata is None:
        return vector
    metadata = {
        k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in vector.metadata.items()
    }
    return Vector(vector.id, vector.values, metadata, vector.sparse_values)


def twin_namespace(creator_id: str, source: str) -> str:
    return codec.twin_namespace(creator_id, source.lower())


def run_phases(run, *phases: str) -> bool:
    """Execute the run's job in this process up to the last of `phases`, pausing it there (a
    staged run). True when the run got past that phase without failing or being cancelled."""
    from migrations_app.models import NamespaceMigration
    from migrations_app.services import migration_execute, remaining_phases

    migration_execute(run_id=run.pk, until=phases[-1])
    run.refresh_from_db()
    stopped = (NamespaceMigration.Status.FAILED, NamespaceMigration.Status.CANCELLED)
    return run.status not in stopped and phases[-1] not in remaining_phases(run)


def legacy_sources(index: VectorIndex) -> list[str]:
    return sorted(
        n
        for n in index.describe_index_stats().namespaces
        if codec.parse_namespace(n).kind.value == "legacy-uuid"
    )
