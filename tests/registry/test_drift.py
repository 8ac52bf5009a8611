"""Drift report: each kind of drift found on a constructed index, none on a clean one; on the
local store and through the real SDK against the local Pinecone server."""

import datetime as dt
import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.support.vectors import use_server
from twinadmin.registry.drift import drift_report_build, drift_report_run
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import (
    RegistryError,
    creator_create,
    index_refresh,
    orphan_register_as_twin,
    twin_create,
)
from twinadmin.vectors import Vector, get_index

pytestmark = pytest.mark.django_db

LEGACY = "0b9f7ac2-1111-4c3a-9e0e-3c1f2a4b5d6e"


def _put(namespace: str, n: int) -> None:
    get_index().upsert(namespace, [Vector(id=f"v{i}", values=[float(i + 1)] * 8) for i in range(n)])


@pytest.fixture(params=["local", "sdk"], ids=["local-store", "sdk-via-local-server"])
def clean_world(request, settings):
    server = None
    if request.param == "sdk":
        server = request.getfixturevalue("make_server")(dimension=8)
        use_server(settings, server)
    creator = creator_create(creator_id="alice")
    twin_create(creator=creator, twin_id="t1")
    _put("creator_alice", 2)
    _put("creator_alice_twin_t1", 3)
    index_refresh()
    if server is not None:  # it did go over HTTP
        served = server.store.describe_index_stats().namespaces
        assert served == {"creator_alice": 2, "creator_alice_twin_t1": 3}
    return creator


def test_a_clean_registry_and_index_report_no_drift(clean_world):
    report = drift_report_run()
    assert report.is_clean, report.as_dict()
    assert set(report.counts.values()) == {0}


def test_each_kind_of_drift_is_found(clean_world):
    alice = clean_world
    # stale count: the index changes after the registry last observed it
    _put("creator_alice_twin_t1", 5)
    # missing: an active twin with no namespace
    twin_create(creator=alice, twin_id="empty")
    # orphan twin of a known creator, orphan creator-wide of an unknown creator, an unknown name
    _put("creator_alice_twin_ghost", 1)
    _put("creator_bob", 1)
    _put("scratch-space", 1)
    # deleted twin whose namespace still holds vectors
    gone = twin_create(creator=alice, twin_id="gone")
    Twin.objects.filter(pk=gone.pk).update(status=Twin.Status.DELETED)
    _put("creator_alice_twin_gone", 2)
    # legacy namespaces: one migrated into a twin, one not; and the default namespace
    twin_create(creator=alice, twin_id=LEGACY, legacy_namespace=LEGACY)
    _put(LEGACY, 4)
    _put("11111111-2222-4333-8444-555555555555", 1)
    _put("", 1)
    _put("creator_alice_twin_" + LEGACY, 4)
    # an erased creator with data left
    erased = creator_create(creator_id="carol")
    Creator.objects.filter(pk=erased.pk).update(status=Creator.Status.ERASED)
    _put("creator_carol_twin_x", 2)

    report = drift_report_run()

    orphans = {r["name"]: (r["parsed_owner"], r["creator_registered"]) for r in report.orphans}
    assert orphans == {
        "creator_alice_twin_ghost": ("alice", True),
        "creator_bob": ("bob", False),
        "scratch-space": (None, False),
        "creator_carol_twin_x": ("carol", True),
    }
    assert [r["name"] for r in report.deleted_twins_with_data] == ["creator_alice_twin_gone"]
    assert [r["namespace"] for r in report.missing_namespaces] == ["creator_alice_twin_empty"]
    # t1 changed under the registry; the adopted legacy twin was never observed at all
    assert report.stale_counts == [
        {"creator_id": "alice", "twin_id": LEGACY, "registry_count": None, "index_count": 4},
        {"creator_id": "alice", "twin_id": "t1", "registry_count": 3, "index_count": 5},
    ]
    legacy = {r["name"]: r["migrated_to"] for r in report.legacy_present}
    assert legacy == {
        "__default__": None,
        LEGACY: f"creator_alice_twin_{LEGACY}",
        "11111111-2222-4333-8444-555555555555": None,
    }
    assert [r["name"] for r in report.erased_with_data] == ["creator_carol_twin_x"]
    assert report.has_erasure_breach


def test_command_exits_non_zero_only_for_an_erased_creator_with_data(clean_world, capsys):
    call_command("drift_report", "--json")
    assert json.loads(capsys.readouterr().out)["clean"] is True
    erased = creator_create(creator_id="carol")
    Creator.objects.filter(pk=erased.pk).update(status=Creator.Status.ERASED)
    _put("creator_carol", 1)
    with pytest.raises(CommandError, match="erased creators still hold data"):
        call_command("drift_report", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["erased_with_data"] == 1 and out["erased_with_data"][0]["name"] == "creator_carol"


def test_registering_an_orphan_adopts_it_and_clears_the_drift(clean_world):
    _put("creator_dave_twin_notes", 2)
    index_refresh()
    twin = orphan_register_as_twin(namespace="creator_dave_twin_notes")
    assert (twin.creator.creator_id, twin.twin_id, twin.naming) == ("dave", "notes", "adopted")
    assert Twin.objects.get(pk=twin.pk).vector_count == 2
    assert drift_report_build().is_clean
    with pytest.raises(RegistryError, match="not a twin namespace"):
        orphan_register_as_twin(namespace="creator_dave")
    with pytest.raises(RegistryError, match="already has a twin"):
        orphan_register_as_twin(namespace="creator_dave_twin_notes")


def test_an_erased_creators_namespace_cannot_be_adopted(clean_world):
    erased = creator_create(creator_id="carol")
    Creator.objects.filter(pk=erased.pk).update(status=Creator.Status.ERASED)
    with pytest.raises(RegistryError, match="erased"):
        orphan_register_as_twin(namespace="creator_carol_twin_x")
    assert not Twin.objects.filter(creator=erased).exists()


def test_drift_page_and_actions_respect_roles(
    clean_world, client, operator, auditor, django_assert_max_num_queries
):
    _put("creator_alice_twin_ghost", 1)
    index_refresh()
    client.force_login(auditor)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("registry-drift-report"))
    assert response.status_code == 200 and "creator_alice_twin_ghost" in response.content.decode()
    assert "Register as twin" not in response.content.decode()
    assert (
        client.post(
            reverse("registry-register-orphan"), {"namespace": "creator_alice_twin_ghost"}
        ).status_code
        == 403
    )
    assert client.post(reverse("registry-run-drift")).status_code == 403
    client.force_login(operator)
    response = client.post(reverse("registry-register-orphan"), {"namespace": "creator_alice_twin_ghost"})
    assert response.status_code == 302
    assert Twin.objects.filter(creator__creator_id="alice", twin_id="ghost").exists()
    response = client.post(reverse("registry-register-orphan"), {"namespace": "creator_bob"})
    assert response.status_code == 400
    assert client.post(reverse("registry-run-drift")).status_code == 302


def test_scheduled_task_records_a_job(clean_world):
    from twinadmin.jobs.models import Job
    from twinadmin.registry.tasks import scheduled_drift_report

    assert scheduled_drift_report() == "succeeded"
    job = Job.objects.get(kind="drift_report")
    assert job.result["clean"] is True and job.params["scheduled"] is True


def test_drift_cards_carry_readable_labels(clean_world, auditor_client):
    _put("creator_alice_twin_ghost", 1)
    index_refresh()

    body = auditor_client.get(reverse("registry-drift-report")).content.decode()

    card = re.search(r'data-kind="orphans"><div class="value">(\d+)</div><div class="label">([^<]*)<', body)
    assert card and card.groups() == ("1", "orphan namespaces")
    assert "deleted twins with data" in body and "deletedtwinswithdata" not in body


def test_the_snapshot_time_reads_as_a_time_with_the_exact_value_on_hover(clean_world, auditor_client):
    index_refresh()

    body = auditor_client.get(reverse("registry-drift-report")).content.decode()

    shown = re.search(r'Index observed <time datetime="([^"]+)" title="([^"]+) UTC">([^<]+) UTC</time>', body)
    assert shown, body
    at = dt.datetime.fromisoformat(shown.group(1))
    assert shown.group(2) == at.strftime("%Y-%m-%d %H:%M:%S.%f")  # exact, on hover
    assert shown.group(3) == at.strftime("%-d %b %Y %H:%M:%S")  # readable, to the second
