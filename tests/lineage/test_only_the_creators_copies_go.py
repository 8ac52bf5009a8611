"""Lineage decides what erasure may delete outside the creator's own namespaces: exactly the
ids copied to that creator. Foreign vectors written into a legacy namespace later stay; another
creator's sources stay; a source already attributed to another creator cannot be planned."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management.base import CommandError

from migrations_app.planning import discover
from migrations_app.services import migration_preview
from tests.migrations_app.helpers import legacy_sources, read_all
from tests.support.seed import CREATOR
from tests.support.vectors import DIM
from twinadmin.lineage.models import Lineage, LineageVector
from twinadmin.registry import codec
from twinadmin.registry.services import creator_create
from twinadmin.vectors import DEFAULT_NAMESPACE, Vector

from .helpers import erase, map_creator

pytestmark = pytest.mark.django_db


def _foreign(count: int, prefix: str) -> list[Vector]:
    rng = np.random.default_rng(7)
    return [Vector(f"{prefix}-{i}", rng.uniform(-1, 1, DIM)) for i in range(count)]


def test_every_copied_id_is_recorded_with_its_source_target_and_run(seeded, seed_data, creator, capsys):
    report = map_creator(capsys)
    copies = Lineage.objects.filter(creator_id=CREATOR, kind=Lineage.Kind.MIGRATION)
    assert copies.count() == 30 and all(c.complete and c.run_id == report["run"] for c in copies)
    default = copies.get(source_namespace=DEFAULT_NAMESPACE)
    assert default.target_namespace == codec.creator_namespace(CREATOR)
    assert set(LineageVector.objects.filter(lineage=default).values_list("vector_id", flat=True)) == {
        v.id for v in seed_data.namespaces[DEFAULT_NAMESPACE]
    }
    assert sum(c.vector_count for c in copies) == 805
    # Discovery now knows where __default__ went (before, it called it "not migrated").
    found = {row.name: row for row in discover(seeded)}
    assert found[DEFAULT_NAMESPACE].mapped_twin == codec.creator_namespace(CREATOR)


def test_a_legacy_namespace_that_gained_foreign_vectors_loses_only_the_copied_ids(
    seeded, seed_data, creator, operator, approver, capsys
):
    map_creator(capsys)
    source = legacy_sources(seeded)[0]
    foreign = _foreign(5, "foreign")
    seeded.upsert(source, foreign)

    erasure = erase(operator, approver)

    assert erasure.status == "completed", erasure.last_error
    assert set(read_all(seeded, source)) == {v.id for v in foreign}
    row = erasure.namespaces.get(name=source)
    assert (row.mode, row.ids_present_before, row.kept_after) == ("ids", len(seed_data.namespaces[source]), 5)
    # Every other legacy source held only the creator's copies: deleted whole.
    others = erasure.namespaces.filter(kind="legacy-source").exclude(name=source)
    assert set(others.values_list("mode", flat=True)) == {"namespace"}
    assert set(seeded.describe_index_stats().namespaces) == {source}


def test_erasing_one_of_two_creators_leaves_the_others_sources(
    seeded, seed_data, creator, operator, approver, capsys
):
    sources = legacy_sources(seeded)
    mine, theirs = sources[:10], sources[10:20]
    map_creator(capsys, "--namespaces", *mine)
    creator_create(creator_id="other.creator")
    map_creator(capsys, "--namespaces", *theirs, creator_id="other.creator")

    erasure = erase(operator, approver)

    assert erasure.status == "completed", erasure.last_error
    left = seeded.describe_index_stats().namespaces
    assert not set(mine) & set(left)
    for name in theirs:
        assert left[name] == len(seed_data.namespaces[name])
        assert left[codec.twin_namespace("other.creator", name.lower())] == len(seed_data.namespaces[name])
    # Untouched by either migration: still there in full.
    for name in sources[20:] + [DEFAULT_NAMESPACE]:
        assert left[name] == len(seed_data.namespaces[name])


def test_a_source_copied_to_another_creator_cannot_be_planned_for_a_second_one(seeded, creator, capsys):
    source = legacy_sources(seeded)[0]
    map_creator(capsys, "--namespaces", source, DEFAULT_NAMESPACE)
    creator_create(creator_id="someone.else")

    for name in (source, DEFAULT_NAMESPACE):
        plan = migration_preview(creator_id="someone.else", namespaces=[name])
        assert not plan.ok
        assert any(f"was copied to creator {CREATOR}" in p for p in plan.problems), plan.problems
    with pytest.raises(CommandError, match=f"copied to creator {CREATOR}"):
        map_creator(capsys, "--namespaces", source, creator_id="someone.else")


def test_once_the_first_creator_is_erased_the_rest_of_default_can_be_planned_again(
    seeded, creator, operator, approver, capsys
):
    map_creator(capsys, "--namespaces", DEFAULT_NAMESPACE)
    seeded.upsert(DEFAULT_NAMESPACE, _foreign(3, "product"))
    assert erase(operator, approver).status == "completed"
    creator_create(creator_id="next.one")

    plan = migration_preview(creator_id="next.one", namespaces=[DEFAULT_NAMESPACE])
    assert plan.ok, plan.problems
    assert plan.rows[0].source_count == 3


def test_a_run_cancelled_after_its_backup_is_in_the_scope_and_its_sources_are_erased(
    seeded, seed_data, creator, operator, approver
):
    from migrations_app.services import migration_cancel, migration_create
    from tests.migrations_app.helpers import run_phases
    from twinadmin.erasure.scope import erasure_scope_read

    sources = legacy_sources(seeded)[:3]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=sources)
    assert run_phases(run, "backup")  # read (and recorded), nothing copied yet
    migration_cancel(run=run, actor="cli:test")
    run.refresh_from_db()
    assert run.status == "cancelled"

    scope = erasure_scope_read(creator_id=CREATOR)
    assert {m["run"]: m["status"] for m in scope.migrations} == {run.pk: "cancelled"}
    assert {e.name: e.copied_ids for e in scope.lineage} == {s: len(seed_data.namespaces[s]) for s in sources}

    erasure = erase(operator, approver)

    assert erasure.status == "completed", erasure.last_error
    left = seeded.describe_index_stats().namespaces
    assert not set(sources) & set(left)
    assert len(left) == 30 - 3  # every other legacy namespace and __default__ untouched
