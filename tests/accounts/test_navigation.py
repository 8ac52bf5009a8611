"""The navigation says where you are (one entry marked current, also on a section's inner pages)
and tells an approver how many erasure requests wait for them, at the cost of one query, and
nobody else pays for it."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support.erasure import make_creator
from tests.support.users import user_in_groups
from twinadmin.accounts.roles import APPROVERS, OPERATORS
from twinadmin.erasure.services import erasure_request_file, erasure_request_reject

pytestmark = pytest.mark.django_db

CURRENT = re.compile(r'<a href="[^"]*" class="active" aria-current="page">([^<]+)')
BADGE = re.compile(r'id="nav-pending-approvals"[^>]*>(\d+)<')


def _current(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    return [label.strip() for label in CURRENT.findall(response.content.decode())]


@pytest.mark.parametrize(
    ("url_name", "args", "entry"),
    [
        ("registry-list-namespaces", [], "Namespaces"),
        ("registry-list-creators", [], "Creators"),
        ("registry-creator-detail", ["a.1"], "Creators"),  # an inner page marks its section
        ("registry-drift-report", [], "Drift"),
        ("search-home", [], "Search"),
        ("search-list-reports", [], "Latency"),  # the search app, but the Latency entry
        ("jobs-list-jobs", [], "Jobs"),
        ("migrations-list-runs", [], "Migrations"),
        ("migrations-create-run", [], "Migrations"),
        ("drills-list-runs", [], "Drills"),
        ("audit-list-entries", [], "Audit"),
        ("erasure-list-requests", [], "Erasure"),
    ],
)
def test_the_navigation_marks_the_section_of_the_current_page(operator_client, url_name, args, entry):
    make_creator("a.1")

    assert _current(operator_client, reverse(url_name, args=args)) == [entry]


def test_a_namespace_s_vectors_belong_to_the_namespaces_section(operator_client):
    import numpy as np

    from twinadmin.vectors import Vector, get_index

    get_index().upsert("creator_a.1", [Vector("v-1", np.ones(get_index().dimension, np.float32))])
    browse = reverse("registry-list-vectors") + "?namespace=creator_a.1"

    assert _current(operator_client, browse) == ["Namespaces"]
    assert _current(operator_client, reverse("registry-vector-detail") + "?namespace=creator_a.1&id=v-1") == [
        "Namespaces"
    ]


@pytest.fixture
def requests_waiting(db):
    """Three requests awaiting approval (one filed by the approver herself, who is also an
    operator) and one already rejected."""
    filer = user_in_groups("op", OPERATORS)
    approver = user_in_groups("opappr", OPERATORS, APPROVERS)
    other = user_in_groups("appr2", APPROVERS)
    for cid in ("a.1", "a.2", "a.3", "a.4"):
        make_creator(cid)
    for cid in ("a.1", "a.2"):
        erasure_request_file(creator_id=cid, reason="ticket", confirm=cid, actor=filer)
    erasure_request_file(creator_id="a.3", reason="ticket", confirm="a.3", actor=approver)
    rejected = erasure_request_file(creator_id="a.4", reason="ticket", confirm="a.4", actor=filer)
    erasure_request_reject(erasure=rejected, actor=other, note="not the creator")
    return {"filer": filer, "approver": approver, "other": other}


def test_an_approver_sees_how_many_requests_await_their_decision(client, requests_waiting):
    client.force_login(requests_waiting["approver"])
    html = client.get(reverse("jobs-list-jobs")).content.decode()
    # Two: not the one she filed (four eyes: not hers to decide), not the rejected one.
    assert BADGE.findall(html) == ["2"]
    assert "2 erasure requests awaiting your approval" in html

    client.force_login(requests_waiting["other"])
    assert BADGE.findall(client.get(reverse("erasure-list-requests")).content.decode()) == ["3"]


def test_the_count_is_one_query_for_an_approver_and_none_for_others(client, requests_waiting):
    def erasure_queries(user) -> list[str]:
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("jobs-list-jobs"))
        return [q["sql"] for q in queries.captured_queries if "erasure_erasurerequest" in q["sql"]]

    assert len(erasure_queries(requests_waiting["approver"])) == 1
    assert erasure_queries(requests_waiting["filer"]) == []


def test_the_count_shows_only_while_something_waits(client):
    approver = user_in_groups("appr", APPROVERS)
    client.force_login(approver)
    assert 'id="nav-pending-approvals"' not in client.get(reverse("jobs-list-jobs")).content.decode()

    make_creator("a.1")
    filer = user_in_groups("op", OPERATORS)
    erasure_request_file(creator_id="a.1", reason="ticket", confirm="a.1", actor=filer)
    assert BADGE.findall(client.get(reverse("jobs-list-jobs")).content.decode()) == ["1"]

    client.force_login(filer)  # an operator decides nothing: no count
    assert 'id="nav-pending-approvals"' not in client.get(reverse("jobs-list-jobs")).content.decode()
