"""Done when (issue: erasure by lineage): on the seed layout, migrate onto sainath.no.1, write
unrelated vectors into __default__ afterwards, erase the creator. An independent reader finds
none of the 805 original vectors anywhere in the index and the unrelated ones intact;
verify_deletion exits 0 and drift_report, run right after on the stored snapshot, exits 0. The
same with --delete-source, with --default-namespace twin, after a rollback, and through the real
SDK against the local Pinecone server."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_execute, migration_rollback
from tests.support.seed import CREATOR
from tests.support.vectors import DIM
from twinadmin.erasure.receipts import erasure_receipt
from twinadmin.lineage.models import Lineage
from twinadmin.vectors import DEFAULT_NAMESPACE, Vector, get_index

from .helpers import erase, everything, map_creator, survivors

pytestmark = pytest.mark.django_db


def _unrelated(count: int, prefix: str = "later") -> list[Vector]:
    rng = np.random.default_rng(99)
    return [Vector(f"{prefix}-{i}", rng.uniform(-1, 1, DIM), {"by": "the product"}) for i in range(count)]


def _originals(seed_data) -> list[Vector]:
    return [v for vectors in seed_data.namespaces.values() for v in vectors]


def _assert_nothing_of_the_creator_left(index, seed_data, later: list[Vector]) -> None:
    assert survivors(index, _originals(seed_data)) == []
    left = everything(index)
    assert set(left) == {DEFAULT_NAMESPACE}
    assert {v.id for v in left[DEFAULT_NAMESPACE].values()} == {v.id for v in later}
    call_command("verify_deletion", CREATOR)  # exit 0: no SystemExit
    call_command("drift_report", "--no-refresh")  # exit 0: the stored snapshot is already true


@pytest.mark.parametrize("backend", ["local", "sdk"])
def test_erasing_after_a_migration_with_sources_kept_leaves_no_copy(
    backend, request, seed_data, creator, operator, approver, capsys
):
    if backend == "sdk":
        request.getfixturevalue("pinecone_local")()
    index = get_index()
    from twinadmin.vectors.seed import legacy_index_seed

    legacy_index_seed(index=index, seed_data=seed_data)
    assert map_creator(capsys)["status"] == "succeeded"
    later = _unrelated(7)
    index.upsert(DEFAULT_NAMESPACE, later)

    erasure = erase(operator, approver)

    assert erasure.status == "completed", erasure.last_error
    _assert_nothing_of_the_creator_left(index, seed_data, later)
    receipt = erasure_receipt(erasure)
    sources = {s["name"]: s for s in receipt["lineage_sources"]}
    assert len(sources) == 30 and all(s["verified"] for s in sources.values())
    default = sources[DEFAULT_NAMESPACE]
    assert (default["kind"], default["copied_ids"], default["copied_ids_found"]) == ("default-ids", 376, 376)
    assert (default["erased_as"], default["other_vectors_kept"]) == ("ids", 7)
    legacy = [s for name, s in sources.items() if name != DEFAULT_NAMESPACE]
    assert {s["erased_as"] for s in legacy} == {"namespace"} and {
        s["other_vectors_kept"] for s in legacy
    } == {0}
    assert receipt["totals"]["lineage_ids_erased"] == 805
    assert not Lineage.objects.filter(creator_id=CREATOR, erased_at__isnull=True).exists()


def test_with_delete_source_the_backups_and_targets_were_the_only_copies(
    seeded, seed_data, creator, operator, approver, capsys
):
    assert map_creator(capsys, "--delete-source")["status"] == "succeeded"
    later = _unrelated(3)
    seeded.upsert(DEFAULT_NAMESPACE, later)

    erasure = erase(operator, approver)

    assert erasure.status == "completed", erasure.last_error
    _assert_nothing_of_the_creator_left(seeded, seed_data, later)
    sources = erasure.namespaces.filter(kind__in=["legacy-source", "default-ids"])
    assert sources.count() == 30 and set(sources.values_list("status", flat=True)) == {"not_found"}
    assert erasure.backups.count() == 30 and set(erasure.backups.values_list("action", flat=True)) == {
        "deleted"
    }


def test_default_namespace_copied_into_a_twin_is_erased_by_its_ids(
    seeded, seed_data, creator, operator, approver, capsys
):
    assert map_creator(capsys, "--default-namespace", "twin")["status"] == "succeeded"
    later = _unrelated(4)
    seeded.upsert(DEFAULT_NAMESPACE, later)

    erasure = erase(operator, approver)

    assert erasure.status == "completed", erasure.last_error
    _assert_nothing_of_the_creator_left(seeded, seed_data, later)
    assert erasure.namespaces.get(name=DEFAULT_NAMESPACE).kept_after == 4


def test_a_rolled_back_migration_still_attributes_its_sources(
    seeded, seed_data, creator, operator, approver, capsys
):
    report = map_creator(capsys)
    run = NamespaceMigration.objects.get(pk=report["run"])
    migration_rollback(run=run, actor="cli:test", enqueue=False)
    assert migration_execute(run_id=run.pk).status == "rolled-back"
    assert survivors(seeded, _originals(seed_data))  # the sources are back as they were
    later = _unrelated(2)
    seeded.upsert(DEFAULT_NAMESPACE, later)

    erasure = erase(operator, approver)

    assert erasure.status == "completed", erasure.last_error
    _assert_nothing_of_the_creator_left(seeded, seed_data, later)
