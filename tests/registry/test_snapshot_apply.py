"""A job that changed the index tells the stored snapshot what it verified (index_snapshot_apply),
or has it re-read a few namespaces live (index_namespaces_reread): only those rows change, the
summary keeps adding up, the registry twins take the counts."""

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from tests.support.vectors import use_server
from twinadmin.registry.models import IndexNamespace, IndexSnapshot, Twin
from twinadmin.registry.services import (
    creator_create,
    index_namespaces_reread,
    index_snapshot_apply,
    index_snapshot_store,
    twin_create,
)
from twinadmin.vectors import Vector, get_index
from twinadmin.vectors.server import FaultConfig

pytestmark = pytest.mark.django_db


def _put(namespace: str, n: int) -> None:
    get_index().upsert(namespace, [Vector(id=f"v{i}", values=[float(i + 1)] * 8) for i in range(n)])


def _rows() -> dict[str, int]:
    return dict(IndexNamespace.objects.values_list("name", "vector_count"))


def _assert_summary_adds_up() -> IndexSnapshot:
    snapshot = IndexSnapshot.objects.latest()
    assert snapshot.namespace_count == IndexNamespace.objects.count()
    assert snapshot.total_vector_count == IndexNamespace.objects.aggregate(n=Sum("vector_count"))["n"]
    return snapshot


@pytest.fixture
def alice():
    alice = creator_create(creator_id="alice")
    for twin_id in ("t1", "gone", "other"):
        twin_create(creator=alice, twin_id=twin_id)
    index_snapshot_store(
        dimension=8,
        metric="cosine",
        namespaces={
            "creator_alice": 2,
            "creator_alice_twin_t1": 3,
            "creator_alice_twin_gone": 4,
            "creator_alice_twin_other": 6,
            "__default__": 10,
        },
    )
    # The twin was deleted from the registry; its namespace is what the job just emptied.
    Twin.objects.filter(twin_id="gone").update(status=Twin.Status.DELETED)
    return alice


def test_apply_updates_adds_and_drops_rows_and_the_twins_counts(alice):
    before = IndexSnapshot.objects.latest()

    index_snapshot_apply(
        observed={
            "creator_alice_twin_t1": 7,
            "creator_alice_twin_gone": 0,
            "creator_alice_twin_new": 5,
            "creator_bob": 1,
        }
    )

    assert _rows() == {
        "creator_alice": 2,
        "creator_alice_twin_t1": 7,
        "creator_alice_twin_new": 5,
        "creator_alice_twin_other": 6,
        "creator_bob": 1,
        "__default__": 10,
    }
    new = IndexNamespace.objects.get(name="creator_alice_twin_new")
    assert (new.kind, new.creator_id, new.twin_id) == ("twin", "alice", "new")
    assert IndexNamespace.objects.get(name="creator_bob").kind == "creator-wide"
    # Only what was observed is stamped anew.
    assert IndexNamespace.objects.get(name="creator_alice").observed_at == before.observed_at
    assert new.observed_at > before.observed_at

    snapshot = _assert_summary_adds_up()
    assert (snapshot.pk, snapshot.namespace_count, snapshot.total_vector_count) == (before.pk, 6, 31)
    assert snapshot.observed_at == before.observed_at  # the other namespaces were not re-read

    twins = {t.twin_id: t for t in Twin.objects.all()}
    assert twins["t1"].vector_count == 7 and twins["t1"].count_observed_at == new.observed_at
    assert twins["gone"].vector_count == 0 and twins["gone"].count_observed_at == new.observed_at
    assert twins["other"].vector_count == 6 and twins["other"].count_observed_at < new.observed_at


def test_apply_without_a_snapshot_writes_the_rows_and_creates_no_summary():
    index_snapshot_apply(observed={"creator_carol": 3, "creator_dave": 0})
    assert _rows() == {"creator_carol": 3}
    assert not IndexSnapshot.objects.exists()


def test_apply_costs_the_same_queries_whatever_the_snapshot_holds(alice):
    observed = {"creator_alice_twin_t1": 1, "creator_alice_twin_gone": 0, "creator_zed": 2}

    def queries_with(extra_namespaces: int) -> int:
        namespaces = {f"creator_c{i}_twin_t": 1 for i in range(extra_namespaces)}
        namespaces.update({"creator_alice_twin_t1": 3, "creator_alice_twin_gone": 4})
        index_snapshot_store(dimension=8, metric="cosine", namespaces=namespaces)
        with CaptureQueriesContext(connection) as queries:
            index_snapshot_apply(observed=observed)
        _assert_summary_adds_up()
        return len(queries)

    assert queries_with(10) == queries_with(3000)


def test_reread_reads_the_index_and_corrects_the_snapshot(alice):
    _put("creator_alice_twin_t1", 5)  # the index has more than the snapshot says
    # creator_alice_twin_other: in the snapshot, not in the index

    seen = index_namespaces_reread(names=["creator_alice_twin_t1", "creator_alice_twin_other"])

    assert seen == {"creator_alice_twin_t1": 5, "creator_alice_twin_other": 0}
    rows = _rows()
    assert rows["creator_alice_twin_t1"] == 5 and "creator_alice_twin_other" not in rows
    assert Twin.objects.get(twin_id="other").vector_count == 0
    _assert_summary_adds_up()


def test_reread_counts_the_ids_while_the_index_counts_lag(settings, make_server, alice):
    server = make_server(dimension=8, faults=FaultConfig(count_lag_seconds=600))
    use_server(settings, server)
    _put("creator_alice_twin_new", 3)
    assert "creator_alice_twin_new" not in get_index().describe_index_stats().namespaces  # lagging

    assert index_namespaces_reread(names=["creator_alice_twin_new"]) == {"creator_alice_twin_new": 3}
    assert _rows()["creator_alice_twin_new"] == 3


def test_reread_of_no_names_does_not_call_the_index(settings, make_server, alice):
    server = make_server(dimension=8)
    use_server(settings, server)
    assert index_namespaces_reread(names=[]) == {}
    assert server.request_count() == 0
