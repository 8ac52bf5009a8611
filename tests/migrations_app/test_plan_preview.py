"""Plans: the preview names every source -> target with counts, applies the naming and
__default__ policies, refuses conflicts, and a dry run changes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from migrations_app.models import MigrationItem, NamespaceMigration
from migrations_app.services import migration_create, migration_preview
from tests.support.seed import CREATOR
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import twin_create
from twinadmin.vectors import DEFAULT_NAMESPACE, Vector, get_index

pytestmark = pytest.mark.django_db


def test_preview_maps_every_legacy_uuid_to_a_twin_and_default_to_the_creator_namespace(seeded, seed_data):
    plan = migration_preview(creator_id=CREATOR, create_creator=True)

    assert plan.ok, plan.problems
    assert len(plan.rows) == 30 and plan.twin_count == 29 and plan.vector_count == 805
    default = plan.rows[0]
    assert (default.source, default.target, default.source_count) == (
        DEFAULT_NAMESPACE,
        codec.creator_namespace(CREATOR),
        376,
    )
    for row in plan.rows[1:]:
        assert row.target == f"creator_{CREATOR}_twin_{row.source}"
        assert row.source_count == len(seed_data.namespaces[row.source])


def test_dry_run_writes_nothing(seeded, tmp_path, capsys, settings):
    before = get_index().describe_index_stats()

    call_command("map_to_test_creator", CREATOR, "--dry-run", "--json")

    report = json.loads(capsys.readouterr().out)
    assert (report["run"], report["status"], report["ok"]) == (None, "dry-run", True)
    assert len(report["namespaces"]) == 30
    assert NamespaceMigration.objects.count() == 0 and Creator.objects.count() == 0
    assert get_index().describe_index_stats() == before
    assert not settings.MIGRATION_BACKUP_DIR.exists()


@pytest.mark.parametrize(
    ("naming", "first_twin_id"),
    [("semantic", None), ("sequential", "001")],
)
def test_semantic_and_sequential_naming_use_the_registry_policies(seeded, creator, naming, first_twin_id):
    plan = migration_preview(creator_id=CREATOR, naming=naming)

    twin_rows = [r for r in plan.rows if r.twin_id]
    assert len(twin_rows) == 29 and plan.ok
    if naming == "sequential":
        assert [r.twin_id for r in twin_rows] == [f"{n:03d}" for n in range(1, 30)]
    else:
        assert all(r.twin_id == f"legacy-{r.source[:8]}" for r in twin_rows)
    assert len({r.target for r in twin_rows}) == 29


def test_sequential_numbers_continue_after_existing_twins(seeded, creator):
    twin_create(creator=creator, naming="sequential", name="existing")
    plan = migration_preview(creator_id=CREATOR, naming="sequential", namespaces=[_first_uuid(seeded)])
    assert plan.rows[0].twin_id == "002"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("twin", "twin"),
        ("keep", None),
        ("delete", "delete"),
    ],
)
def test_default_namespace_policies(seeded, creator, policy, expected):
    plan = migration_preview(creator_id=CREATOR, default_policy=policy)

    default = [r for r in plan.rows if r.source == DEFAULT_NAMESPACE]
    if expected is None:
        assert default == [] and plan.kept == [DEFAULT_NAMESPACE] and len(plan.rows) == 29
    elif expected == "delete":
        assert default[0].action == "delete" and default[0].target == ""
    else:
        assert default[0].target_kind == "twin"
        assert default[0].target == codec.twin_namespace(CREATOR, default[0].twin_id)
        # The same plan previews the same id again (the dry run and the run agree).
        again = migration_preview(creator_id=CREATOR, default_policy=policy)
        assert [r.twin_id for r in again.rows if r.source == DEFAULT_NAMESPACE] == [default[0].twin_id]


def test_delete_policy_backs_up_then_deletes_default(seeded, seed_data, creator, capsys):
    call_command("map_to_test_creator", CREATOR, "--default-namespace", "delete", "--json")
    report = json.loads(capsys.readouterr().out)

    assert report["verified"] is True
    index = get_index()
    assert DEFAULT_NAMESPACE not in index.describe_index_stats().namespaces
    item = MigrationItem.objects.get(run_id=report["run"], source_namespace=DEFAULT_NAMESPACE)
    assert item.source_deleted and item.backup.vector_count == 376 and item.verification["backup_files_ok"]


def _first_uuid(index) -> str:
    return sorted(n for n in index.describe_index_stats().namespaces if n != DEFAULT_NAMESPACE)[0]


def test_target_holding_foreign_vectors_is_a_conflict(seeded, creator):
    source = _first_uuid(seeded)
    target = codec.twin_namespace(CREATOR, source)
    seeded.upsert(target, [Vector("stranger", np.ones(8, np.float32))])

    plan = migration_preview(creator_id=CREATOR)

    row = next(r for r in plan.rows if r.source == source)
    assert not plan.ok
    assert row.target_count == 1
    assert any("not from this source" in c and "stranger" in c for c in row.conflicts)


def test_target_holding_an_earlier_partial_copy_of_the_same_source_is_fine(seeded, creator):
    source = _first_uuid(seeded)
    ids = seeded.list_ids(source, limit=3).ids
    seeded.upsert(codec.twin_namespace(CREATOR, source), list(seeded.fetch(source, ids).values()))

    plan = migration_preview(creator_id=CREATOR)

    assert plan.ok, plan.problems


def test_registered_twin_with_the_target_id_is_a_conflict(seeded, creator):
    source = _first_uuid(seeded)
    twin_create(creator=creator, twin_id=source)

    plan = migration_preview(creator_id=CREATOR, namespaces=[source])

    assert plan.rows[0].conflicts == [f"twin {source} is already registered for {CREATOR}"]


def test_namespace_held_by_an_active_run_is_a_conflict(seeded, creator):
    source = _first_uuid(seeded)
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source])

    plan = migration_preview(creator_id=CREATOR, namespaces=[source])

    assert f"run {run.pk} is active on {source}" in plan.rows[0].conflicts


def test_the_database_allows_one_active_run_per_source_and_per_target(seeded, creator):
    source = _first_uuid(seeded)
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source])
    other = NamespaceMigration.objects.create(creator_id=CREATOR, requested_by_name="t")

    with pytest.raises(IntegrityError), transaction.atomic():
        MigrationItem.objects.create(run=other, position=1, source_namespace=source)
    item = run.items.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        MigrationItem.objects.create(
            run=other, position=2, source_namespace="other", target_namespace=item.target_namespace
        )


def test_creating_a_missing_creator_needs_confirmation(seeded):
    plan = migration_preview(creator_id="new.creator")
    assert not plan.ok
    assert plan.errors == ["Creator 'new.creator' does not exist; confirm that it should be created."]
    assert migration_preview(creator_id="new.creator", create_creator=True).ok


def test_command_exits_non_zero_on_a_conflicting_plan(seeded, creator):
    twin_create(creator=creator, twin_id=_first_uuid(seeded))
    with pytest.raises(CommandError, match="already registered"):
        call_command("map_to_test_creator", CREATOR, "--dry-run")
    assert not Twin.objects.exclude(twin_id=_first_uuid(seeded)).exists()
