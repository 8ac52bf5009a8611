"""Who may do what, endpoint by endpoint: anonymous -> login (pages) or 403 (POST); auditors
read only; operators file and delete but never approve; approvers approve, never their own
request; every state change is POST-only and needs the CSRF token."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.support.erasure import make_creator
from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS
from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.erasure.services import erasure_request_file, twin_deletion_request

pytestmark = pytest.mark.django_db

ROLES = {"operator": (OPERATORS,), "approver": (APPROVERS,), "auditor": (AUDITORS,), "nobody": ()}


@pytest.fixture
def users(make_user):
    return {name: make_user(f"u-{name}", *groups) for name, groups in ROLES.items()}


@pytest.fixture
def world(index, users):
    """A creator with a twin, a pending erasure request filed by the operator, a deletion."""
    make_creator("a.1", ["t1"])
    make_creator("b.2")
    erasure = erasure_request_file(
        creator_id="a.1", reason="DSAR", ticket_reference="T-1", confirm="a.1", actor=users["operator"]
    )
    deletion = twin_deletion_request(
        creator_id="a.1", twin_id="t1", reason="r", confirm="t1", actor=users["operator"], enqueue=False
    )
    return {"erasure": erasure, "deletion": deletion}


def _client(user=None, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


READ_PAGES = [
    ("erasure-list-requests", lambda w: []),
    ("erasure-request-detail", lambda w: [w["erasure"].pk]),
    ("erasure-request-receipt", lambda w: [w["erasure"].pk]),
    ("erasure-download-receipt", lambda w: [w["erasure"].pk]),
    ("erasure-twin-deletion-detail", lambda w: [w["deletion"].pk]),
]


@pytest.mark.parametrize(("name", "args"), READ_PAGES)
@pytest.mark.parametrize(
    ("who", "status"), [(None, 302), ("nobody", 403), ("auditor", 200), ("operator", 200), ("approver", 200)]
)
def test_read_pages(world, users, name, args, who, status):
    response = _client(users.get(who)).get(reverse(name, args=args(world)))
    assert response.status_code == status
    if who is None:
        assert response["Location"].startswith(reverse("accounts-login"))


FORM_PAGES = [
    ("erasure-create-request", ["a.1"]),
    ("erasure-delete-twin", ["a.1", "t1"]),
]


@pytest.mark.parametrize(("name", "args"), FORM_PAGES)
@pytest.mark.parametrize(
    ("who", "status"), [(None, 302), ("nobody", 403), ("auditor", 403), ("approver", 403), ("operator", 200)]
)
def test_form_pages_are_for_operators(world, users, name, args, who, status):
    assert _client(users.get(who)).get(reverse(name, args=args)).status_code == status


def _post_targets(world):
    pk = world["erasure"].pk
    return {
        "file": (reverse("erasure-create-request", args=["b.2"]), {"reason": "r", "confirm": "b.2"}),
        "delete-twin": (reverse("erasure-delete-twin", args=["a.1", "t1"]), {"reason": "r", "confirm": "t1"}),
        "approve": (reverse("erasure-approve-request", args=[pk]), {"confirm": "a.1"}),
        "reject": (reverse("erasure-reject-request", args=[pk]), {"note": "no"}),
        "retry": (reverse("erasure-retry-request", args=[pk]), {}),
    }


# Expected status per (endpoint, role): 403 refused outright; anything else went through.
MATRIX = {
    "file": {None: 403, "nobody": 403, "auditor": 403, "approver": 403},
    "delete-twin": {None: 403, "nobody": 403, "auditor": 403, "approver": 403},
    "approve": {None: 403, "nobody": 403, "auditor": 403, "operator": 403},
    "reject": {None: 403, "nobody": 403, "auditor": 403, "operator": 403},
    "retry": {None: 403, "nobody": 403, "auditor": 403, "approver": 403},
}


@pytest.mark.parametrize("endpoint", sorted(MATRIX))
@pytest.mark.parametrize("who", [None, "nobody", "auditor", "operator", "approver"])
def test_state_changes_by_role(world, users, endpoint, who, django_capture_on_commit_callbacks):
    url, data = _post_targets(world)[endpoint]
    with django_capture_on_commit_callbacks():
        response = _client(users.get(who)).post(url, data)
    expected = MATRIX[endpoint].get(who)
    if expected == 403:
        assert response.status_code == 403
    else:
        assert response.status_code == 302, response.content[:300]


def test_an_operator_files_a_request_and_lands_on_it(world, users):
    world["erasure"].delete()
    response = _client(users["operator"]).post(
        reverse("erasure-create-request", args=["a.1"]),
        {"reason": "r", "ticket_reference": "T", "confirm": "a.1"},
    )
    erasure = ErasureRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == erasure.get_absolute_url()
    assert erasure.requested_by == users["operator"] and erasure.status == "pending"


def test_a_wrong_confirmation_is_shown_on_the_form(world, users):
    response = _client(users["operator"]).post(
        reverse("erasure-delete-twin", args=["a.1", "t1"]), {"reason": "r", "confirm": "t2"}
    )
    assert response.status_code == 400
    assert b"type the twin id" in response.content


def test_approvers_cannot_approve_or_reject_their_own_request(world, make_user):
    both = make_user("both", OPERATORS, APPROVERS)
    world["erasure"].delete()
    own = erasure_request_file(creator_id="a.1", reason="r", confirm="a.1", actor=both)
    client = _client(both)

    page = client.get(own.get_absolute_url())
    assert b"another approver must decide it" in page.content and b"Approve and erase" not in page.content
    assert client.post(reverse("erasure-approve-request", args=[own.pk])).status_code == 403
    assert client.post(reverse("erasure-reject-request", args=[own.pk])).status_code == 403
    own.refresh_from_db()
    assert own.status == "pending"


def test_a_superuser_cannot_approve_their_own_request_either(world, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="pw")
    world["erasure"].delete()
    own = erasure_request_file(creator_id="a.1", reason="r", confirm="a.1", actor=root)
    assert _client(root).post(reverse("erasure-approve-request", args=[own.pk])).status_code == 403


def _shown_digest(content: bytes) -> str:
    found = re.search(rb'name="scope_digest" value="([0-9a-f]{64})"', content)
    assert found, "the approval form carries the digest of the scope it shows"
    return found.group(1).decode()


def test_an_approver_sees_the_buttons_and_approving_queues_the_job(
    world, users, django_capture_on_commit_callbacks
):
    client = _client(users["approver"])
    page = client.get(world["erasure"].get_absolute_url()).content
    assert b"Approve and erase" in page
    data = {"confirm": "a.1", "scope_digest": _shown_digest(page)}
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("erasure-approve-request", args=[world["erasure"].pk]), data)
    assert response.status_code == 302
    world["erasure"].refresh_from_db()
    assert world["erasure"].status == "approved" and world["erasure"].approved_by == users["approver"]
    assert world["erasure"].approved_scope_digest == data["scope_digest"]
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("endpoint", "who"),
    [
        ("file", "operator"),
        ("delete-twin", "operator"),
        ("approve", "approver"),
        ("reject", "approver"),
        ("retry", "operator"),
    ],
)
def test_state_changes_need_the_csrf_token(world, users, endpoint, who):
    url, data = _post_targets(world)[endpoint]
    response = _client(users[who], csrf=True).post(url, data)
    assert response.status_code == 403
    assert b"CSRF" in response.content
    world["erasure"].refresh_from_db()
    assert world["erasure"].status == "pending"
    assert TwinDeletion.objects.count() == 1


@pytest.mark.parametrize("endpoint", ["file", "delete-twin", "approve", "reject", "retry"])
def test_state_changes_are_post_only(world, users, endpoint):
    url, _ = _post_targets(world)[endpoint]
    who = "approver" if endpoint in ("approve", "reject") else "operator"
    for method in ("put", "delete", "patch"):
        assert getattr(_client(users[who]), method)(url).status_code == 405
    if endpoint in ("approve", "reject", "retry"):
        assert _client(users[who]).get(url).status_code == 405
