"""The erasure alarms of the drift report (erased creators with data left, deleted twins with data
left) are checked against the index itself, never raised from a stale snapshot row; on the local
store and through the SDK against the local Pinecone server."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.support.vectors import use_server
from twinadmin.registry.drift import drift_report_build
from twinadmin.registry.models import Creator, IndexNamespace, IndexSnapshot, Twin
from twinadmin.registry.services import creator_create, index_snapshot_store, twin_create
from twinadmin.vectors import Vector, get_index

pytestmark = pytest.mark.django_db


def _put(namespace: str, n: int) -> None:
    get_index().upsert(namespace, [Vector(id=f"v{i}", values=[float(i + 1)] * 8) for i in range(n)])


@pytest.fixture(params=["local", "sdk"], ids=["local-store", "sdk-via-local-server"])
def world(request, settings):
    """Alice is active with one twin; Carol was erased; Alice's twin `gone` was deleted. The
    stored snapshot still lists namespaces of both with vectors, as it did before the erasure
    and the deletion: stale rows. The index itself holds only Alice's active data."""
    if request.param == "sdk":
        use_server(settings, request.getfixturevalue("make_server")(dimension=8))
    alice = creator_create(creator_id="alice")
    twin_create(creator=alice, twin_id="t1")
    gone = twin_create(creator=alice, twin_id="gone")
    Twin.objects.filter(pk=gone.pk).update(status=Twin.Status.DELETED)
    carol = creator_create(creator_id="carol")
    twin_create(creator=carol, twin_id="x")
    Creator.objects.filter(pk=carol.pk).update(status=Creator.Status.ERASED)
    Twin.objects.filter(creator=carol).update(status=Twin.Status.DELETED)
    _put("creator_alice_twin_t1", 3)
    index_snapshot_store(
        dimension=8,
        metric="cosine",
        namespaces={
            "creator_alice_twin_t1": 3,
            "creator_alice_twin_gone": 2,
            "creator_carol": 1,
            "creator_carol_twin_x": 4,
        },
    )


def test_stale_rows_of_erased_data_raise_no_alarm_and_are_dropped(world):
    report = drift_report_build()

    assert report.erased_with_data == [] and report.deleted_twins_with_data == []
    assert report.counts["erased_with_data"] == 0 and report.counts["deleted_twins_with_data"] == 0
    assert not report.has_erasure_breach and report.is_clean, report.as_dict()
    assert report.verified_live
    # The rows were corrected on the way, and the summary with them.
    assert set(IndexNamespace.objects.values_list("name", flat=True)) == {"creator_alice_twin_t1"}
    snapshot = IndexSnapshot.objects.latest()
    assert (snapshot.namespace_count, snapshot.total_vector_count) == (1, 3)


def test_the_command_exits_zero_for_a_stale_row(world, capsys):
    call_command("drift_report", "--json", "--no-refresh")
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["erased_with_data"] == 0 and out["clean"] is True


def test_erased_data_still_in_the_index_raises_the_alarm_with_its_live_count(world):
    _put("creator_carol_twin_x", 2)  # the snapshot says 4
    _put("creator_alice_twin_gone", 1)

    report = drift_report_build()

    assert [(r["name"], r["vector_count"]) for r in report.erased_with_data] == [("creator_carol_twin_x", 2)]
    assert [(r["name"], r["vector_count"]) for r in report.deleted_twins_with_data] == [
        ("creator_alice_twin_gone", 1),
        ("creator_carol_twin_x", 2),
    ]
    assert report.has_erasure_breach
    assert IndexNamespace.objects.get(name="creator_carol_twin_x").vector_count == 2
    assert not IndexNamespace.objects.filter(name="creator_carol").exists()


def test_the_drift_page_shows_the_alarm_only_for_data_still_there(world, auditor_client):
    body = auditor_client.get(reverse("registry-drift-report")).content.decode()
    assert "Erased creators with data left" not in body and "creator_carol_twin_x" not in body

    _put("creator_carol_twin_x", 2)
    index_snapshot_store(dimension=8, metric="cosine", namespaces={"creator_carol_twin_x": 2})
    body = auditor_client.get(reverse("registry-drift-report")).content.decode()
    assert "Erased creators with data left (1)" in body and "creator_carol_twin_x" in body


def test_with_nothing_to_check_the_index_is_not_called(settings, make_server, auditor_client):
    server = make_server(dimension=8)
    use_server(settings, server)
    creator_create(creator_id="alice")
    index_snapshot_store(dimension=8, metric="cosine", namespaces={"creator_alice": 1, "stray": 2})

    response = auditor_client.get(reverse("registry-drift-report"))

    assert response.status_code == 200 and "stray" in response.content.decode()
    assert server.request_count() == 0


def test_an_unreachable_index_keeps_the_alarm_and_says_it_is_unverified(
    settings,
    make_server,
    auditor_client,
):
    server = make_server(dimension=8)
    use_server(settings, server)
    carol = creator_create(creator_id="carol")
    Creator.objects.filter(pk=carol.pk).update(status=Creator.Status.ERASED)
    index_snapshot_store(dimension=8, metric="cosine", namespaces={"creator_carol": 1})
    server.set_faults(fail_503=1.0, retry_after=0.01)

    response = auditor_client.get(reverse("registry-drift-report"))

    report = response.context["report"]
    assert report.has_erasure_breach and not report.verified_live and report.live_error
    assert 'id="live-error"' in response.content.decode()
    assert IndexNamespace.objects.filter(name="creator_carol").exists()  # nothing was "fixed"
