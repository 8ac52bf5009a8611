"""Search and latency pages: roles, the HTMX results partial, no-JS POST, bad input, report
page polling and the comparison of two reports."""

import json

import pytest
from django.urls import reverse

from tests.support.search import CREATOR
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_execute
from twinadmin.search.latency import latency_report_create
from twinadmin.search.models import LatencyReport

pytestmark = pytest.mark.django_db

SEARCH = reverse("search-search-twins", args=[CREATOR])
GET_PAGES = [
    reverse("search-home"),
    SEARCH,
    reverse("search-list-reports"),
    reverse("search-compare-reports"),
]


def _form(**overrides):
    data = {"twins": ["t1", "t2"], "include_shared": "on", "vector_id": "", "vector": json.dumps([0.3] * 8)}
    data.update({"top_k": "5", "filter": ""})
    data.update(overrides)
    return data


def _report(**params):
    report = latency_report_create(params={"queries": 3, **params}, enqueue=False)
    job_execute(job_id=report.job_id)
    report.refresh_from_db()
    return report


@pytest.mark.parametrize("url", GET_PAGES)
def test_anonymous_is_sent_to_login(client, layout, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts-login"))


@pytest.mark.parametrize("url", GET_PAGES)
def test_anonymous_htmx_gets_403(client, layout, url):
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 403


def test_anonymous_post_gets_403_and_queries_nothing(client, layout):
    assert client.post(SEARCH, _form()).status_code == 403
    assert client.post(reverse("search-run-report"), {"queries": "2"}).status_code == 403
    assert not Job.objects.exists()


def test_a_signed_in_user_without_a_role_gets_403(client, nobody, layout):
    client.force_login(nobody)
    assert client.get(SEARCH).status_code == 403
    assert client.post(SEARCH, _form()).status_code == 403


@pytest.mark.parametrize("role", ["operator", "approver", "auditor"])
def test_every_role_may_search(client, layout, role, request):
    client.force_login(request.getfixturevalue(role))
    page = client.get(SEARCH)
    assert page.status_code == 200
    body = page.content.decode()
    assert f'hx-post="{SEARCH}"' in body and f'action="{SEARCH}"' in body  # works without JS too
    assert 'value="t1"' in body and 'value="t2"' in body and 'value="gone"' not in body
    response = client.post(SEARCH, _form())
    assert response.status_code == 200
    assert len(response.context["result"].hits) == 5


def test_htmx_post_returns_only_the_results_fragment(auditor_client, layout):
    response = auditor_client.post(SEARCH, _form(filter='{"parity": "odd"}'), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<div id="results">')
    # The same search through the service: the fragment shows exactly its hits, attributed.
    from twinadmin.search.services import multi_twin_search

    hits = multi_twin_search(
        creator_id=CREATOR, twin_ids=["t1", "t2"], vector=[0.3] * 8, top_k=5, filter={"parity": "odd"}
    ).hits
    assert body.count("<tr data-namespace=") == 5
    assert "parity=odd" in body and "parity=even" not in body
    for hit in hits:
        assert f'<tr data-namespace="{hit.namespace}">' in body
        assert f'<td class="mono">{hit.id}</td>' in body
        if hit.twin_id:
            assert reverse("registry-twin-detail", args=[CREATOR, hit.twin_id]) in body
    assert 'id="namespace-timings"' in body


def test_plain_post_renders_the_whole_page_with_results(auditor_client, layout):
    response = auditor_client.post(
        SEARCH, _form(vector="", vector_id="doc-003", twins=["t1"], include_shared="")
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert response.context["result"].hits[0].id == "doc-003"
    assert "creator_acme_twin_t1" in body


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vector": "[1, 2]"}, "does not match the dimension"),
        ({"vector": "[1, 2"}, "not valid JSON"),
        ({"filter": '{"i": {"$bad": 1}}'}, "unknown operator"),
        ({"vector": "", "vector_id": ""}, "exactly one of them"),
        ({"vector_id": "doc-001"}, "exactly one of them"),
        ({"vector": "", "vector_id": "nope"}, "was not found"),
        ({"twins": ["t9"]}, "t9 is not one of the available choices"),
        ({"twins": [], "include_shared": ""}, "Choose at least one twin"),
        ({"top_k": "0"}, "greater than or equal to 1"),
        ({"top_k": "10001"}, "less than or equal to 10000"),
    ],
)
def test_bad_input_shows_a_clear_error(auditor_client, layout, overrides, message):
    plain = auditor_client.post(SEARCH, _form(**overrides))
    assert plain.status_code == 400
    assert message in plain.content.decode()
    assert plain.context["result"] is None
    fragment = auditor_client.post(SEARCH, _form(**overrides), HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200  # htmx swaps only 2xx: the fragment carries the error
    assert 'id="search-errors"' in fragment.content.decode() and message in fragment.content.decode()


def test_unknown_creator_is_404(auditor_client, layout):
    assert auditor_client.get(reverse("search-search-twins", args=["nobody"])).status_code == 404


def test_home_opens_a_creator_or_says_it_is_unknown(auditor_client, layout):
    response = auditor_client.get(reverse("search-home"), {"creator": CREATOR})
    assert response.status_code == 302 and response["Location"] == SEARCH
    response = auditor_client.get(reverse("search-home"), {"creator": "ghost"})
    assert response.status_code == 400 and "Unknown creator" in response.content.decode()


def test_creator_page_links_to_search(auditor_client, layout):
    body = auditor_client.get(reverse("registry-creator-detail", args=[CREATOR])).content.decode()
    assert f'href="{SEARCH}"' in body


def test_only_operators_start_latency_reports(client, auditor, operator, layout):
    client.force_login(auditor)
    assert (
        client.post(reverse("search-run-report"), {"queries": "2", "top_k": "3", "seed": "0"}).status_code
        == 403
    )
    assert "New report" not in client.get(reverse("search-list-reports")).content.decode()
    client.force_login(operator)
    data = {"creator_id": CREATOR, "queries": "2", "top_k": "3", "seed": "0", "label": "before"}
    with pytest.MonkeyPatch.context() as mp:
        from twinadmin.jobs import tasks

        queued = []
        mp.setattr(tasks.run_job, "delay", lambda job_id: queued.append(job_id))
        response = client.post(reverse("search-run-report"), data)
    report = LatencyReport.objects.get()
    assert response.status_code == 302 and response["Location"] == report.get_absolute_url()
    assert report.label == "before" and report.job.kind == "query_latency"
    assert report.job.created_by == operator


def test_latency_form_errors_are_shown(operator_client, layout):
    response = operator_client.post(
        reverse("search-run-report"), {"creator_id": "ghost", "queries": "2", "top_k": "3", "seed": "0"}
    )
    assert response.status_code == 400 and "Unknown creator" in response.content.decode()
    assert not Job.objects.exists()


def test_report_page_polls_until_the_job_ends_then_shows_the_chart(auditor_client, layout):
    pending = latency_report_create(params={"creator_id": CREATOR, "queries": 3}, enqueue=False)
    poll = auditor_client.get(pending.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and 'hx-trigger="every 1s"' in poll.content.decode()

    job_execute(job_id=pending.job_id)
    last = auditor_client.get(pending.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert last.status_code == 286  # htmx: swap this last fragment in and stop polling
    body = last.content.decode()
    assert "every 1s" not in body and "<svg" in body and "creator_acme_twin_t1" in body

    page = auditor_client.get(pending.get_absolute_url())
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert 'id="overall"' in page.content.decode()


def test_a_failed_job_shows_its_error(auditor_client, layout):
    report = latency_report_create(params={"creator_id": CREATOR, "queries": 3}, enqueue=False)
    from twinadmin.registry.models import Creator

    Creator.objects.filter(creator_id=CREATOR).update(status=Creator.Status.ERASED)
    job = job_execute(job_id=report.job_id)
    assert job.status == Job.Status.FAILED
    body = auditor_client.get(report.get_absolute_url()).content.decode()
    assert "is erased" in body


def test_chart_labels_are_escaped(auditor_client, layout):
    layout.index.upsert("<script>alert(1)</script>", layout.vectors["creator_acme"][:2])
    report = _report(namespaces=["<script>alert(1)</script>"])
    body = auditor_client.get(report.get_absolute_url()).content.decode()
    assert "<script>alert" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_comparison_shows_overall_and_per_namespace_deltas(auditor_client, layout):
    a = _report(creator_id=CREATOR, label="before")
    b = _report(creator_id=CREATOR, label="after")
    c = _report(namespaces=["creator_acme.1"])

    response = auditor_client.get(reverse("search-compare-reports"), {"a": a.pk, "b": b.pk})
    assert response.status_code == 200
    comparison = response.context["comparison"]
    assert [d.figure for d in comparison.overall] == ["p50_ms", "p95_ms", "p99_ms", "max_ms"]
    p95 = comparison.overall[1]
    assert p95.change == pytest.approx(b.p95_ms - a.p95_ms)
    assert [p.a.namespace for p in comparison.pairs] == [r.namespace for r in a.rows.all()]
    assert {p.matched_by for p in comparison.pairs} == {"name"}
    body = response.content.decode()
    assert 'id="overall-deltas"' in body and 'id="pair-deltas"' in body and "<svg" in body

    unrelated = auditor_client.get(reverse("search-compare-reports"), {"a": a.pk, "b": c.pk}).context[
        "comparison"
    ]
    assert unrelated.pairs == [] and len(unrelated.only_a) == 4 and len(unrelated.only_b) == 1


def test_comparison_pairs_a_legacy_namespace_with_the_twin_it_became(auditor_client, layout):
    from twinadmin.registry.models import Twin

    legacy = "0b9f7ac2-1111-4c3a-9e0e-3c1f2a4b5d6e"
    layout.index.upsert(legacy, layout.vectors["creator_acme_twin_t1"])
    Twin.objects.filter(creator__creator_id=CREATOR, twin_id="t1").update(legacy_namespace=legacy)
    before = _report(namespaces=[legacy])
    after = _report(namespaces=["creator_acme_twin_t1"])

    comparison = auditor_client.get(
        reverse("search-compare-reports"), {"a": before.pk, "b": after.pk}
    ).context["comparison"]

    assert [(p.a.namespace, p.b.namespace, p.matched_by) for p in comparison.pairs] == [
        (legacy, "creator_acme_twin_t1", "legacy namespace")
    ]
    assert comparison.only_a == [] and comparison.only_b == []


def test_comparison_refuses_missing_or_unfinished_reports(auditor_client, layout):
    done = _report(creator_id=CREATOR)
    pending = latency_report_create(params={"queries": 2}, enqueue=False)
    response = auditor_client.get(reverse("search-compare-reports"), {"a": done.pk, "b": 999_999})
    assert response.status_code == 400 and "No such report" in response.content.decode()
    response = auditor_client.get(reverse("search-compare-reports"), {"a": done.pk, "b": pending.pk})
    assert response.status_code == 400 and "has no figures" in response.content.decode()
    prefilled = auditor_client.get(reverse("search-compare-reports"), {"b": done.pk})
    assert prefilled.status_code == 200 and prefilled.context["comparison"] is None
