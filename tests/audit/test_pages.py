"""Auditor pages: who may see them, what each filter shows, HTMX fragments, the chain block,
and a constant number of queries per page."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support.audit import JOB_A, JOB_B
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.selectors import PAGE_SIZE
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_execute

pytestmark = pytest.mark.django_db

LIST = reverse("audit-list-entries")
PAGES = [
    ("GET", reverse("audit-list-entries")),
    ("GET", reverse("audit-entry-detail", args=[1])),
    ("GET", reverse("audit-export-entries") + "?format=csv"),
    ("GET", reverse("audit-verify-chain")),
    ("POST", reverse("audit-verify-chain")),
]


def shown(response) -> list[int]:
    return [e.seq for e in response.context["page"].entries]


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_is_sent_to_login_or_refused(client, log, method, url):
    if method == "GET":
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts-login"))
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 403
    else:
        assert client.post(url).status_code == 403


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_a_user_without_a_role_is_refused(client, nobody, log, method, url):
    client.force_login(nobody)
    assert getattr(client, method.lower())(url).status_code == 403


@pytest.mark.parametrize("role", ["auditor", "operator", "approver"])
def test_every_role_may_read(client, log, role, request):
    client.force_login(request.getfixturevalue(role))
    response = client.get(LIST)
    assert response.status_code == 200
    assert shown(response) == sorted(log.values(), reverse=True)
    assert reverse("audit-list-entries") in response.content.decode()  # the nav link


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "twin.delete.start"}, ["delete_start"]),
        ({"action": "creator.erase.*"}, ["erase_start", "erase_failed"]),
        ({"action": "creator.erase"}, []),
        ({"actor": "op"}, ["delete_start", "delete_done"]),
        ({"actor": "cli:erase_creator"}, ["erase_start", "erase_failed"]),
        ({"actor": "system"}, ["refresh"]),
        ({"creator": "a.1"}, ["delete_start", "delete_done"]),  # not a.10
        ({"creator": "a.10"}, ["erase_start", "approve", "erase_failed"]),
        ({"target_type": "creator"}, ["erase_start", "erase_failed"]),
        ({"target_type": "twin", "target_id": "t1"}, ["delete_start", "delete_done"]),
        ({"target_id": "r-1"}, ["approve"]),
        ({"outcome": "failure"}, ["erase_failed"]),
        ({"outcome": "intent"}, ["delete_start", "erase_start"]),
        ({"correlation": str(JOB_B)}, ["erase_start", "erase_failed"]),
        ({"date_from": "2026-02-01"}, ["erase_start", "refresh", "approve", "erase_failed"]),
        ({"date_to": "2026-02-01"}, ["delete_start", "delete_done", "erase_start"]),
        ({"date_from": "2026-02-02", "date_to": "2026-03-01"}, ["refresh", "approve"]),
        ({"creator": "a.10", "outcome": "intent", "date_to": "2026-02-28"}, ["erase_start"]),
    ],
)
def test_each_filter_narrows_to_exactly_its_entries(auditor_client, log, params, expected):
    response = auditor_client.get(LIST, params)
    assert response.status_code == 200
    assert shown(response) == sorted((log[name] for name in expected), reverse=True)
    assert response.context["page"].matching == len(expected)


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "yesterday"},
        {"date_from": "2026-03-01", "date_to": "2026-02-01"},
        {"correlation": "nope"},
    ],
)
def test_bad_filters_are_an_error_not_a_wider_list(auditor_client, log, params):
    response = auditor_client.get(LIST, params)
    assert response.status_code == 400
    assert response.context["page"] is None and 'id="filter-errors"' in response.content.decode()
    fragment = auditor_client.get(LIST, params, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and 'id="filter-errors"' in fragment.content.decode()


def test_htmx_filtering_returns_only_the_rows_fragment(auditor_client, log):
    response = auditor_client.get(LIST, {"outcome": "failure"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'id="rows"' in body and 'id="chain"' not in body
    assert shown(response) == [log["erase_failed"]]
    assert "format=csv&outcome=failure" in body  # export links follow the filters


def test_pages_walk_the_whole_log_newest_first(auditor_client, many_entries):
    many_entries(PAGE_SIZE * 4)
    seen, params = [], {"actor": "user1"}
    while True:
        page = auditor_client.get(LIST, params, HTTP_HX_REQUEST="true").context["page"]
        seen += [e.seq for e in page.entries]
        if page.older is None:
            break
        params = {"actor": "user1", "before": page.older}
    expected = list(AuditEntry.objects.filter(actor="user1").order_by("-seq").values_list("seq", flat=True))
    assert seen == expected and len(expected) > PAGE_SIZE
    back = auditor_client.get(LIST, {"actor": "user1", "after": expected[PAGE_SIZE]}).context["page"]
    assert [e.seq for e in back.entries] == expected[:PAGE_SIZE] and back.newer is None


def test_matching_count_is_capped(auditor_client, many_entries, settings):
    settings.AUDIT_COUNT_CAP = 10
    many_entries(25)
    response = auditor_client.get(LIST)
    assert response.context["page"].capped and "more than 10 matching" in response.content.decode()


def test_list_page_costs_the_same_queries_at_any_size(
    auditor_client, many_entries, django_assert_max_num_queries
):
    def count(params, **headers):
        with CaptureQueriesContext(connection) as queries:
            assert auditor_client.get(LIST, params, **headers).status_code == 200
        return len(queries)

    many_entries(10)
    small = [count({}), count({"creator": "c1"}), count({"before": 5}, HTTP_HX_REQUEST="true")]
    many_entries(3 * PAGE_SIZE)
    large = [count({}), count({"creator": "c1"}), count({"before": 120}, HTTP_HX_REQUEST="true")]
    assert small == large
    # Session, user, roles, whether the user has an authenticator (the two-factor check), page,
    # newer/older, count, head; the action list; intents' outcomes.
    with django_assert_max_num_queries(11):
        auditor_client.get(LIST, {"action": "twin.delete.*", "date_from": "2020-01-01", "before": 100})


def test_chain_block_shows_the_head_and_the_verify_button_checks_it(auditor_client, log, tamper):
    head = AuditEntry.objects.get(seq=len(log)).entry_hash
    body = auditor_client.get(LIST).content.decode()
    assert head in body and reverse("audit-verify-chain") in body
    verify = reverse("audit-verify-chain")
    response = auditor_client.post(verify, HTTP_HX_REQUEST="true")
    job = Job.objects.get(kind="audit_verify")
    assert response.status_code == 200 and response["HX-Redirect"] == job.get_absolute_url()
    assert job_execute(job_id=job.pk).result["ok"] is True
    body = auditor_client.get(verify, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body
    assert 'data-ok="true"' in body and f"{len(log)} entries re-hashed" in body
    tamper("UPDATE {table} SET actor = 'mallory' WHERE seq = 3")
    response = auditor_client.post(verify)
    job = Job.objects.filter(kind="audit_verify").first()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    job_execute(job_id=job.pk)
    body = auditor_client.get(verify).content.decode()
    assert 'data-ok="false"' in body and "#3</a>" in body and "content changed" in body
    assert "<html" in body  # without HTMX, a whole page


def test_entry_detail_shows_every_field_and_checks_its_links(auditor_client, log, tamper):
    entry = AuditEntry.objects.get(seq=log["erase_failed"])
    body = auditor_client.get(reverse("audit-entry-detail", args=[entry.seq])).content.decode()
    for value in (entry.actor, entry.action, entry.target_id, entry.creator_id, str(entry.correlation_id)):
        assert value in body
    assert entry.entry_hash in body and entry.prev_hash in body
    assert "&quot;counts&quot;: {\n    &quot;after&quot;: 0," in body  # pretty-printed details
    assert "re-computes" in body and f"links to #{entry.seq - 1}" in body
    tamper("UPDATE {table} SET outcome = 'success' WHERE seq = %s", [entry.seq])
    assert (
        "content changed"
        in auditor_client.get(reverse("audit-entry-detail", args=[entry.seq])).content.decode()
    )
    assert auditor_client.get(reverse("audit-entry-detail", args=[999])).status_code == 404


def test_the_action_filter_offers_every_action_in_the_log_and_each_family(auditor_client, log):
    body = auditor_client.get(LIST).content.decode()
    offered = re.findall(
        r'<option value="([^"]+)">', body.split('id="audit-actions"')[1].split("</datalist>")[0]
    )
    actions = sorted(set(AuditEntry.objects.values_list("action", flat=True)))
    assert [a for a in offered if not a.endswith("*")] == actions
    assert {"creator.*", "creator.erase.*", "twin.delete.*"} <= set(offered)


def test_a_prefix_ending_in_a_dot_is_a_prefix(auditor_client, log):
    response = auditor_client.get(LIST, {"action": "creator.erase."})
    assert shown(response) == [log["erase_failed"], log["erase_start"]]


def test_an_intent_row_shows_the_outcome_that_closed_it_and_every_row_links_its_story(auditor_client, log):
    body = auditor_client.get(LIST).content.decode()
    row = body.split(f'href="{reverse("audit-entry-detail", args=[log["delete_start"]])}"')[1].split("</tr>")[
        0
    ]
    assert f'href="{reverse("audit-entry-detail", args=[log["delete_done"]])}"' in row
    assert 'class="badge outcome-success succeeded">success' in row
    assert f'href="{reverse("audit-show-story", args=[str(JOB_A)])}"' in row
    erase_row = body.split(f'href="{reverse("audit-entry-detail", args=[log["erase_start"]])}"')[1]
    closed_by = f'href="{reverse("audit-entry-detail", args=[log["erase_failed"]])}"'
    assert (
        closed_by in erase_row.split("</tr>")[0] and "outcome-failure failed" in erase_row.split("</tr>")[0]
    )
    approve_row = body.split(f'href="{reverse("audit-entry-detail", args=[log["approve"]])}"')[1]
    assert "→" not in approve_row.split("</tr>")[0]  # not an intent: nothing to close


def test_the_entry_page_links_its_story(auditor_client, log):
    body = auditor_client.get(reverse("audit-entry-detail", args=[log["erase_start"]])).content.decode()
    assert f'href="{reverse("audit-show-story", args=[str(JOB_B)])}"' in body
