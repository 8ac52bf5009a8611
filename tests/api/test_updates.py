"""Updating what the product registered: PATCH a creator's display name or a twin's name, PUT a
creator with the twins it must have (create or update). Each change is audited with the client
as the actor; the same value again changes nothing and writes no entry; an erasing or erased
creator and a twin being deleted are never changed; bad input is Problem Details and changes
nothing; an Idempotency-Key retry returns the first answer and does nothing again."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.api.conftest import concurrently, problem
from tests.support.erasure import make_creator
from twinadmin.audit.models import AuditEntry
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import (
    creator_mark_erased,
    creator_mark_erasure_pending,
    creator_update,
    twin_mark_deleted,
    twin_mark_deleting,
)

pytestmark = pytest.mark.django_db
UPDATES = ("creator.update", "twin.update", "creator.create", "twin.create")


@pytest.fixture
def u1() -> Creator:
    creator = make_creator("u.1", ["t1", "t2"])
    creator.display_name = "Old"
    creator.save()
    Twin.objects.filter(twin_id="t1").update(name="First")
    return creator


def _entries(**filters: str) -> list[tuple[str, str, str]]:
    entries = AuditEntry.objects.filter(action__in=UPDATES, **filters).order_by("seq")
    return list(entries.values_list("actor", "action", "target_id"))


def _names() -> tuple[str, dict[str, str]]:
    creator = Creator.objects.get(creator_id="u.1")
    return creator.display_name, dict(creator.twins.values_list("twin_id", "name"))


def test_patching_a_creator_changes_its_display_name_audited_as_the_client(product, u1):
    response = product.patch("/creators/u.1", {"display_name": "  New name "})

    assert response.status_code == 200
    assert response.json()["display_name"] == "New name"
    assert Creator.objects.get(creator_id="u.1").display_name == "New name"
    entry = AuditEntry.objects.get(action="creator.update")
    assert (entry.actor, entry.target_id, entry.creator_id) == ("api:product", "u.1", "u.1")
    assert entry.details == {"display_name": "New name", "before": {"display_name": "Old"}}


def test_patching_a_twin_renames_it_and_keeps_its_id_and_namespace(product, u1):
    response = product.patch("/creators/u.1/twins/t1", {"name": "Sales bot"})

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["namespace"]) == ("Sales bot", "creator_u.1_twin_t1")
    assert _names() == ("Old", {"t1": "Sales bot", "t2": ""})
    entry = AuditEntry.objects.get(action="twin.update")
    assert (entry.actor, entry.target_id, entry.creator_id) == ("api:product", "t1", "u.1")
    assert entry.details == {"name": "Sales bot", "before": {"name": "First"}}


def test_the_same_name_again_changes_nothing_and_writes_no_entry(product, u1):
    updated_at = Creator.objects.get(creator_id="u.1").updated_at

    assert product.patch("/creators/u.1", {"display_name": "Old "}).status_code == 200
    assert product.patch("/creators/u.1/twins/t1", {"name": "First"}).status_code == 200
    again = product.put(
        "/creators/u.1", {"display_name": "Old", "twins": [{"twin_id": "t1", "name": "First"}]}
    )

    assert again.status_code == 200
    assert _entries() == []
    assert Creator.objects.get(creator_id="u.1").updated_at == updated_at


@pytest.mark.parametrize("state", ["erasure-pending", "erased"])
def test_an_erasing_or_erased_creator_is_never_changed(product, u1, state):
    creator_mark_erasure_pending(creator_id="u.1")
    if state == "erased":
        creator_mark_erased(creator_id="u.1", observed_at=timezone.now())
    before = _names()

    refused = [
        problem(product.patch("/creators/u.1", {"display_name": "New"}), 422),
        problem(product.patch("/creators/u.1", {"display_name": "Old"}), 422),  # unchanged, still refused
        problem(product.patch("/creators/u.1/twins/t1", {"name": "New"}), 422),
        problem(product.put("/creators/u.1", {"display_name": "New", "twins": [{"twin_id": "t9"}]}), 422),
    ]

    assert all(state in body["detail"] for body in refused)
    assert _names() == before and _entries() == []
    assert not Twin.objects.filter(twin_id="t9").exists()


@pytest.mark.parametrize("state", ["deleting", "deleted"])
def test_a_twin_being_deleted_or_deleted_is_not_renamed(product, u1, state):
    twin_mark_deleting(creator_id="u.1", twin_id="t1")
    if state == "deleted":
        twin_mark_deleted(creator_id="u.1", twin_id="t1", observed_at=timezone.now())

    body = problem(product.patch("/creators/u.1/twins/t1", {"name": "New"}), 422)
    put = problem(product.put("/creators/u.1", {"display_name": "New", "twins": [{"twin_id": "t1"}]}), 422)

    assert state in body["detail"] and state in put["detail"]
    assert _names() == ("Old", {"t1": "First", "t2": ""})  # the PUT's display name rolled back too
    assert _entries() == []


@pytest.mark.parametrize(
    ("path", "patch", "put"),
    [
        ("/creators/u.1", {"display_name": "a\u202eb"}, {"display_name": "a\u202eb"}),
        ("/creators/u.1/twins/t1", {"name": "a\u2066b"}, {"twins": [{"twin_id": "t1", "name": "a\u2066b"}]}),
        ("/creators/u.1", {"display_name": "a\x00b"}, {"display_name": "a\x00b"}),
    ],
)
def test_bidirectional_controls_and_nul_are_refused(product, u1, path, patch, put):
    problem(product.patch(path, patch), 422)
    problem(product.put("/creators/u.1", put), 422)
    assert _names() == ("Old", {"t1": "First", "t2": ""}) and _entries() == []


def test_the_services_refuse_bidirectional_controls_too(u1):
    """The rule is the registry's, whoever calls it: the API's schema only answers earlier."""
    from twinadmin.registry.services import RegistryError, twin_update

    with pytest.raises(RegistryError, match="U\\+202E"):
        creator_update(creator_id="u.1", display_name="a\u202eb", actor="cli:test")
    with pytest.raises(RegistryError, match="U\\+2066"):
        twin_update(creator_id="u.1", twin_id="t1", name="a\u2066b", actor="cli:test")
    with pytest.raises(RegistryError, match="Unknown creator"):
        creator_update(creator_id="u.1\x00", display_name="x", actor="cli:test")
    assert _names() == ("Old", {"t1": "First", "t2": ""}) and _entries() == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "/creators/u.1", {"display_name": "New"}),
        ("patch", "/creators/u.1/twins/t1", {"name": "New"}),
        ("put", "/creators/u.1", {"display_name": "New", "twins": [{"twin_id": "t9"}]}),
    ],
)
def test_a_token_without_registry_write_is_refused(make_api, u1, method, path, body):
    reader = make_api("registry:read", "erasure:request", name="reader")

    body_of = problem(getattr(reader, method)(path, body), 403)

    assert "registry:write" in body_of["detail"]
    assert _names() == ("Old", {"t1": "First", "t2": ""}) and _entries() == []
    assert (
        AuditEntry.objects.get(action="api.refused", actor="api:reader").details["scope"] == "registry:write"
    )


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/creators/ghost.1", {"display_name": "x"}, 404),
        ("/creators/NOT_VALID", {"display_name": "x"}, 404),
        ("/creators/u.1/twins/ghost", {"name": "x"}, 404),
        ("/creators/u.1/twins/Bad_Id", {"name": "x"}, 404),
        ("/creators/u.1", {}, 422),  # nothing to set
        ("/creators/u.1", {"displayname": "x"}, 422),  # misspelt: not a silent no-op
        ("/creators/u.1/twins/t1", {"name": "x", "naming": "semantic"}, 422),  # the id never changes
        ("/creators/u.1", {"display_name": "x" * 201}, 422),
    ],
)
def test_unknown_objects_and_bad_bodies_change_nothing(product, u1, path, body, status):
    problem(product.patch(path, body), status)
    assert _names() == ("Old", {"t1": "First", "t2": ""}) and _entries() == []


def test_a_retry_with_the_same_key_returns_the_first_answer_and_does_nothing_again(product, u1):
    key = {"Idempotency-Key": "rename-1"}
    first = product.patch("/creators/u.1/twins/t1", {"name": "Second"}, **key)
    # Meanwhile someone renames it on the pages; the product's retry must not undo that.
    from twinadmin.registry.services import twin_update

    twin_update(creator_id="u.1", twin_id="t1", name="Third", actor="op")

    again = product.patch("/creators/u.1/twins/t1", {"name": "Second"}, **key)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.json()["name"] == "Second"
    assert again["Idempotent-Replayed"] == "true"
    assert _names()[1]["t1"] == "Third"
    assert _entries(actor="api:product") == [("api:product", "twin.update", "t1")]
    reused = problem(product.patch("/creators/u.1/twins/t1", {"name": "Other"}, **key), 422)
    assert "another request" in reused["detail"] and _names()[1]["t1"] == "Third"


def test_the_openapi_document_offers_the_idempotency_key_on_every_write(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path, method in [
        ("/api/v1/creators/{creator_id}", "patch"),
        ("/api/v1/creators/{creator_id}", "put"),
        ("/api/v1/creators/{creator_id}/twins/{twin_id}", "patch"),
    ]:
        names = [p["name"] for p in paths[path][method]["parameters"]]
        assert "Idempotency-Key" in names, (path, method)


# -- PUT: create or update ---------------------------------------------------------------------


def test_put_creates_a_creator_with_its_twins_and_again_changes_nothing(product):
    body = {"display_name": "Sync", "twins": [{"twin_id": "a", "name": "A"}, {"twin_id": "b"}]}

    created = product.put("/creators/s.1", body)
    again = product.put("/creators/s.1", body)

    assert created.status_code == 201 and again.status_code == 200
    assert again.json() == created.json()
    assert [t["namespace"] for t in created.json()["twins"]] == ["creator_s.1_twin_a", "creator_s.1_twin_b"]
    assert _entries(creator_id="s.1") == [
        ("api:product", "creator.create", "s.1"),
        ("api:product", "twin.create", "a"),
        ("api:product", "twin.create", "b"),
    ]


def test_put_updates_the_creator_and_ensures_the_listed_twins_leaving_the_others(product, u1):
    response = product.put(
        "/creators/u.1",
        {"display_name": "New", "twins": [{"twin_id": "t1", "name": "One"}, {"twin_id": "t3"}]},
    )

    assert response.status_code == 200
    assert [t["twin_id"] for t in response.json()["twins"]] == ["t1", "t2", "t3"]
    assert _names() == ("New", {"t1": "One", "t2": "", "t3": ""})
    assert _entries() == [
        ("api:product", "creator.update", "u.1"),
        ("api:product", "twin.update", "t1"),
        ("api:product", "twin.create", "t3"),
    ]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/creators/u.1", {"twins": [{"twin_id": "t3"}, {"twin_id": "t3"}]}),
        ("/creators/u.1", {"twins": [{"name": "no id"}]}),  # a PUT sent again must not add twins
        ("/creators/u.1", {"twins": [{"twin_id": "Bad_Id"}]}),
        ("/creators/u.1", {"display_name": "New", "twins": [{"twin_id": "t3", "naming": "uuid"}]}),
        ("/creators/Bad_Id", {"display_name": "New"}),
    ],
)
def test_put_with_bad_input_is_a_422_and_changes_nothing(product, u1, path, body):
    problem(product.put(path, body), 422)
    assert _names() == ("Old", {"t1": "First", "t2": ""}) and _entries() == []
    assert Creator.objects.count() == 1


def test_posting_a_creator_that_exists_is_a_409_pointing_at_put(product, u1):
    body = problem(product.post("/creators", {"creator_id": "u.1", "display_name": "New"}), 409)
    assert "PUT" in body["detail"] and _names()[0] == "Old" and _entries() == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_puts_of_a_new_creator_make_one(product):
    """Both look the creator up as absent; the unique index lets one create it, and the other
    then updates it instead of failing: one creator, one 201, one 200, each twin created once."""
    body = {"display_name": "Race", "twins": [{"twin_id": "t1"}]}

    statuses = concurrently(2, lambda: product.put("/creators/r.1", body).status_code)

    assert sorted(statuses) == [200, 201]
    assert Twin.objects.filter(creator__creator_id="r.1").count() == 1
    assert _entries(creator_id="r.1") == [
        ("api:product", "creator.create", "r.1"),
        ("api:product", "twin.create", "t1"),
    ]
