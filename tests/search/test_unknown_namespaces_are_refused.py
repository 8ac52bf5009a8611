"""A latency report over namespaces the index does not hold is refused, naming them, instead of
a report of nothing that reads like a measurement; from the command and from the page alike.
A label with bidirectional controls is refused too."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from twinadmin.jobs.models import Job
from twinadmin.search.errors import SearchInputError
from twinadmin.search.latency import latency_report_create
from twinadmin.search.models import LatencyReport

pytestmark = pytest.mark.django_db

RUN = reverse("search-run-report")


def _nothing_written() -> bool:
    return not LatencyReport.objects.exists() and not Job.objects.exists()


def test_query_benchmark_refuses_an_unknown_namespace(layout):
    with pytest.raises(CommandError, match=r"Not in the index \(no vectors\): 'nope'\."):
        call_command("query_benchmark", "--namespaces", "nope", "--queries", "2")
    assert _nothing_written()


def test_only_the_unknown_ones_are_named(layout):
    with pytest.raises(CommandError) as refused:
        call_command("query_benchmark", "--namespaces", "creator_acme", "nope", "creator_acme_twin_t3")
    assert str(refused.value) == "Not in the index (no vectors): 'nope', 'creator_acme_twin_t3'."
    assert _nothing_written()


def test_the_page_refuses_them_with_the_form(operator_client, layout):
    data = {"namespaces": "creator_acme\nnope", "queries": "2", "top_k": "3", "seed": "0"}
    response = operator_client.post(RUN, data)
    assert response.status_code == 400 and "Not in the index (no vectors): &#x27;nope&#x27;" in (
        response.content.decode()
    )
    assert _nothing_written()


def test_known_namespaces_still_make_a_report(layout):
    report = latency_report_create(params={"namespaces": ["creator_acme"]}, enqueue=False)
    assert report.requested_namespaces == ["creator_acme"]


def test_a_label_with_a_bidi_control_is_refused(operator_client, layout):
    with pytest.raises(SearchInputError, match="A label may not contain bidirectional control"):
        latency_report_create(params={"creator_id": "acme", "label": "before\u202e"}, enqueue=False)
    data = {"creator_id": "acme", "label": "x\u2067", "queries": "2", "top_k": "3", "seed": "0"}
    response = operator_client.post(RUN, data)
    assert response.status_code == 400 and "bidirectional control" in response.content.decode()
    assert _nothing_written()
