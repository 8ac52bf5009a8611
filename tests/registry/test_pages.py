"""Registry pages: roles, HTMX partials, bad input, and a constant number of queries per page."""

import pytest
from django.urls import reverse

from twinadmin.jobs.models import Job
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import creator_create, index_snapshot_store, twin_create

pytestmark = pytest.mark.django_db

PAGES = [
    ("registry-overview", {}),
    ("registry-list-namespaces", {}),
    ("registry-list-creators", {}),
    ("jobs-list-jobs", {}),
]


@pytest.fixture
def populated():
    """A registry and snapshot with every namespace class, sized so N+1 queries would show."""
    namespaces = {"__default__": 376, "0b9f7ac2-1111-4c3a-9e0e-3c1f2a4b5d6e": 10, "mystery": 2}
    for i in range(30):
        creator = creator_create(creator_id=f"c{i}")
        namespaces[creator.namespace] = i
        for j in range(2):
            twin = twin_create(creator=creator, twin_id=f"t{j}")
            namespaces[twin.namespace] = j + 1
    namespaces["creator_ghost_twin_x"] = 4
    index_snapshot_store(dimension=8, metric="cosine", namespaces=namespaces)
    return namespaces


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_anonymous_is_sent_to_login(client, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts-login"))


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_anonymous_htmx_gets_403(client, name, kwargs):
    assert client.get(reverse(name, kwargs=kwargs), HTTP_HX_REQUEST="true").status_code == 403


def test_signed_in_user_without_a_role_gets_403(client, nobody):
    client.force_login(nobody)
    assert client.get(reverse("registry-overview")).status_code == 403


def test_overview_counts_namespaces_by_class(auditor_client, populated):
    response = auditor_client.get(reverse("registry-overview"))
    body = response.content.decode()
    assert response.status_code == 200
    overview = response.context["overview"]
    counts = {row["kind"]: row["namespaces"] for row in overview.kind_counts}
    assert counts == {"creator-wide": 30, "twin": 61, "legacy-uuid": 1, "default": 1, "unknown": 1}
    assert overview.snapshot.total_vector_count == sum(populated.values())
    assert f'id="total-namespaces">{len(populated)}<' in body


def test_namespace_list_links_known_and_flags_unknown(auditor_client, populated):
    response = auditor_client.get(reverse("registry-list-namespaces"), {"q": "ghost"})
    body = response.content.decode()
    assert "creator_ghost_twin_x" in body and "creator ghost not in registry" in body
    response = auditor_client.get(reverse("registry-list-namespaces"), {"kind": "unknown"})
    assert [r.ns.name for r in response.context["rows"]] == ["mystery"]
    response = auditor_client.get(reverse("registry-list-namespaces"), {"q": "creator_c1_twin_t0"})
    assert reverse("registry-twin-detail", args=["c1", "t0"]) in response.content.decode()


def test_htmx_search_returns_only_the_rows_fragment(auditor_client, populated):
    response = auditor_client.get(reverse("registry-list-creators"), {"q": "c2"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'id="rows"' in body
    shown = {c.creator_id for c in response.context["page"].object_list}
    assert shown == {"c2", "c20", "c21", "c22", "c23", "c24", "c25", "c26", "c27", "c28", "c29"}


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("registry-overview", {}),
        ("registry-list-namespaces", {}),
        ("registry-list-namespaces", {"kind": "twin", "page": 2}),
        ("registry-list-creators", {}),
        ("registry-list-creators", {"q": "c1"}),
    ],
)
def test_pages_use_a_constant_number_of_queries(
    auditor_client, populated, django_assert_max_num_queries, name, params
):
    # session + user + groups, then the page's own queries: the same whatever the data size.
    with django_assert_max_num_queries(12):
        assert auditor_client.get(reverse(name), params).status_code == 200


def test_creator_and_twin_detail(auditor_client, populated):
    response = auditor_client.get(reverse("registry-creator-detail", args=["c3"]))
    assert response.status_code == 200
    assert 'id="shared-count">3<' in response.content.decode()
    assert [t.twin_id for t in response.context["twins"]] == ["t0", "t1"]
    response = auditor_client.get(reverse("registry-twin-detail", args=["c3", "t1"]))
    assert "creator_c3_twin_t1" in response.content.decode()
    assert auditor_client.get(reverse("registry-twin-detail", args=["c3", "nope"])).status_code == 404


def test_operator_creates_a_creator_and_a_sequential_twin(operator_client):
    response = operator_client.post(
        reverse("registry-create-creator"), {"creator_id": "new.one", "display_name": "N"}
    )
    assert response.status_code == 302
    response = operator_client.post(
        reverse("registry-create-twin", args=["new.one"]), {"naming": "sequential"}
    )
    assert response.status_code == 302
    assert Twin.objects.get().namespace == "creator_new.one_twin_001"


@pytest.mark.parametrize("bad", ["Has_Underscore", "", "-x", "a" * 65])
def test_malformed_creator_id_is_a_form_error_and_writes_nothing(operator_client, bad):
    response = operator_client.post(reverse("registry-create-creator"), {"creator_id": bad})
    assert response.status_code == 400
    assert Creator.objects.count() == 0


def test_duplicate_creator_is_a_form_error(operator_client):
    creator_create(creator_id="dup")
    response = operator_client.post(reverse("registry-create-creator"), {"creator_id": "dup"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_auditor_cannot_create_a_creator(auditor_client):
    assert auditor_client.post(reverse("registry-create-creator"), {"creator_id": "x"}).status_code == 403
    assert Creator.objects.count() == 0


@pytest.mark.parametrize("role", ["operator", "approver", "auditor"])
def test_every_role_can_start_a_refresh_from_the_index(client, request, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    response = client.post(reverse("registry-refresh-index"))
    job = Job.objects.get()
    assert (job.kind, job.status, job.created_by) == ("refresh_index", Job.Status.PENDING, user)
    assert response["Location"] == job.get_absolute_url()
    assert client.get(response["Location"]).status_code == 200  # and can follow it


@pytest.mark.parametrize("page", ["registry-overview", "registry-drift-report"])
def test_every_role_sees_the_refresh_button(client, operator, approver, auditor, page):
    for user in (operator, approver, auditor):
        client.force_login(user)
        assert "Refresh from index" in client.get(reverse(page)).content.decode()


def test_refresh_needs_a_role(client, nobody):
    assert client.post(reverse("registry-refresh-index")).status_code == 403
    client.force_login(nobody)
    assert client.post(reverse("registry-refresh-index")).status_code == 403
    assert Job.objects.count() == 0


def test_anonymous_post_is_403(client):
    assert client.post(reverse("registry-create-creator"), {"creator_id": "x"}).status_code == 403
    assert Creator.objects.count() == 0


def test_refresh_endpoint_is_post_only_and_creates_a_job(operator_client):
    assert operator_client.get(reverse("registry-refresh-index")).status_code == 405
    response = operator_client.post(reverse("registry-refresh-index"))
    job = Job.objects.get()
    assert job.kind == "refresh_index" and job.status == Job.Status.PENDING
    assert response["Location"] == job.get_absolute_url()


def test_overview_lists_namespaces_with_registry_links_and_staleness(auditor_client, populated, settings):
    response = auditor_client.get(reverse("registry-overview"))
    body = response.content.decode()
    assert reverse("registry-creator-detail", args=["c0"]) in body
    assert 'id="stale"' not in body
    settings.INDEX_SNAPSHOT_MAX_AGE_SECONDS = -1
    assert 'id="stale"' in auditor_client.get(reverse("registry-overview")).content.decode()


def test_creator_and_twin_pages_lead_into_their_namespaces_vectors(auditor_client, populated):
    browse = reverse("registry-list-vectors") + "?namespace="
    creator_page = auditor_client.get(reverse("registry-creator-detail", args=["c3"])).content.decode()
    assert f'id="browse-vectors" href="{browse}creator_c3"' in creator_page
    assert (
        f'href="{browse}creator_c3_twin_t0"' in creator_page
        and f'href="{browse}creator_c3_twin_t1"' in creator_page
    )
    twin_page = auditor_client.get(reverse("registry-twin-detail", args=["c3", "t1"])).content.decode()
    assert f'id="browse-vectors" href="{browse}creator_c3_twin_t1"' in twin_page

    Twin.objects.filter(twin_id="t1", creator__creator_id="c3").update(status=Twin.Status.DELETED)
    twin_page = auditor_client.get(reverse("registry-twin-detail", args=["c3", "t1"])).content.decode()
    assert 'id="browse-vectors"' not in twin_page  # nothing of a deleted twin is offered to browse


def test_overview_cards_count_one_as_one(auditor_client):
    creator = creator_create(creator_id="solo")
    twin_create(creator=creator, twin_id="t1")
    index_snapshot_store(dimension=8, metric="cosine", namespaces={"creator_solo_twin_t1": 1})

    body = auditor_client.get(reverse("registry-overview")).content.decode()

    for label in ("vector", "namespace", "creator in registry", "twin in registry"):
        assert f'<div class="label">{label}</div>' in body, label
