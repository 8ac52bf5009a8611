import threading

import pytest
from django.db import IntegrityError, connection, transaction

from twinadmin.registry.models import Creator, IndexNamespace, IndexSnapshot, Twin
from twinadmin.registry.services import (
    RegistryError,
    creator_create,
    index_refresh,
    index_snapshot_store,
    twin_create,
)
from twinadmin.vectors import Vector, get_index

pytestmark = pytest.mark.django_db


def test_creator_create_refuses_malformed_and_duplicate_ids():
    creator_create(creator_id="sainath.no.1")
    with pytest.raises(RegistryError, match="already exists"):
        creator_create(creator_id="sainath.no.1")
    with pytest.raises(RegistryError, match="Invalid creator id"):
        creator_create(creator_id="Bad_Id")
    assert list(Creator.objects.values_list("creator_id", flat=True)) == ["sainath.no.1"]


def test_database_refuses_invalid_ids_even_past_the_services():
    with pytest.raises(IntegrityError), transaction.atomic():
        Creator.objects.create(creator_id="has_underscore")
    creator = Creator.objects.create(creator_id="ok")
    with pytest.raises(IntegrityError), transaction.atomic():
        Twin.objects.create(creator=creator, twin_id="UPPER")


def test_uuid_policy_gives_a_valid_twin_namespace():
    creator = creator_create(creator_id="c1")
    twin = twin_create(creator=creator, name="Support bot")
    assert len(twin.twin_id) == 36
    assert twin.namespace == f"creator_c1_twin_{twin.twin_id}"


def test_semantic_policy_slugs_the_name_and_stays_unique_per_creator():
    creator = creator_create(creator_id="c1")
    other = creator_create(creator_id="c2")
    first = twin_create(creator=creator, name="Sales Coach_v2!", naming="semantic")
    second = twin_create(creator=creator, name="sales coach v2", naming="semantic")
    third = twin_create(creator=other, name="Sales Coach v2", naming="semantic")
    assert (first.twin_id, second.twin_id, third.twin_id) == (
        "sales-coach-v2",
        "sales-coach-v2-2",
        "sales-coach-v2",
    )
    with pytest.raises(RegistryError, match="Cannot derive"):
        twin_create(creator=creator, name="!!!", naming="semantic")


def test_sequential_policy_numbers_per_creator():
    a = creator_create(creator_id="a")
    b = creator_create(creator_id="b")
    ids = [twin_create(creator=a, naming="sequential").twin_id for _ in range(3)]
    assert ids == ["001", "002", "003"]
    assert twin_create(creator=b, naming="sequential").twin_id == "001"
    assert twin_create(creator=a, naming="sequential").namespace == "creator_a_twin_004"


@pytest.mark.django_db(transaction=True)
def test_sequential_policy_is_race_free_under_concurrent_creation():
    creator = creator_create(creator_id="racer")
    results: list[str] = []
    errors: list[Exception] = []

    def make():
        try:
            results.append(twin_create(creator=creator, naming="sequential").twin_id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [f"{i:03d}" for i in range(1, 9)]


def test_explicit_twin_id_is_validated_and_duplicates_refused():
    creator = creator_create(creator_id="c1")
    twin_create(creator=creator, twin_id="abc", naming="legacy")
    with pytest.raises(RegistryError, match="already has a twin"):
        twin_create(creator=creator, twin_id="abc")
    with pytest.raises(RegistryError, match="Invalid twin id"):
        twin_create(creator=creator, twin_id="a_b")
    assert Twin.objects.count() == 1


def test_no_twins_for_a_creator_being_erased():
    creator = creator_create(creator_id="c1")
    Creator.objects.filter(pk=creator.pk).update(status=Creator.Status.ERASURE_PENDING)
    with pytest.raises(RegistryError, match="erasure-pending"):
        twin_create(creator=creator)


def test_snapshot_replaces_previous_state_and_updates_twin_counts():
    creator = creator_create(creator_id="c1")
    twin = twin_create(creator=creator, twin_id="t1")
    index_snapshot_store(dimension=8, metric="cosine", namespaces={"old": 1, "creator_c1_twin_t1": 5})
    index_snapshot_store(dimension=8, metric="cosine", namespaces={"__default__": 3, "creator_c1_twin_t1": 7})
    rows = {n.name: (n.kind, n.vector_count) for n in IndexNamespace.objects.all()}
    assert rows == {"__default__": ("default", 3), "creator_c1_twin_t1": ("twin", 7)}
    twin.refresh_from_db()
    assert twin.vector_count == 7
    assert IndexSnapshot.objects.latest().total_vector_count == 10


def test_refresh_reads_the_vector_index():
    index = get_index()
    index.upsert("creator_c1", [Vector(id=f"v{i}", values=[float(i + 1)] * 8) for i in range(4)])
    index.upsert("", [Vector(id="d", values=[1.0] * 8)])
    result = index_refresh()
    assert result == {"namespaces": 2, "total_vector_count": 5}
    assert IndexNamespace.objects.get(name="creator_c1").kind == "creator-wide"
    assert IndexNamespace.objects.get(name="__default__").vector_count == 1
