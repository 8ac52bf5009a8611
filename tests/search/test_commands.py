"""search_twins and query_benchmark: --json output a script can rely on, and clear errors."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from tests.support.search import CREATOR, SEARCHED
from twinadmin.search.models import LatencyReport

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_search_twins_json_matches_brute_force_with_attribution(layout):
    query = np.random.default_rng(3).standard_normal(8).astype(np.float32)

    data = json.loads(
        _run("search_twins", CREATOR, "--vector", json.dumps(query.tolist()), "--top-k", "6", "--json")
    )

    expected = layout.expected(SEARCHED, query, top_k=6)
    assert [(h["namespace"], h["id"]) for h in data["hits"]] == [(ns, i) for ns, i, _ in expected]
    assert [h["rank"] for h in data["hits"]] == list(range(1, 7))
    assert all(h["metadata"]["ns"] == h["namespace"] for h in data["hits"])
    assert [n["namespace"] for n in data["namespaces"]] == SEARCHED
    assert data["workers"] == 1 and data["total_ms"] >= data["query_ms"] >= 0  # local store: one stream


def test_search_twins_options(layout):
    args = ("search_twins", CREATOR, "--id", "doc-002", "--twins", "t2", "--no-shared", "--top-k", "3")
    data = json.loads(_run(*args, "--filter", '{"parity": "even"}', "--sequential", "--json"))

    assert data["query_id"] == "doc-002" and data["query_found_in"] == ["creator_acme_twin_t2"]
    assert data["concurrent"] is False
    ones = json.dumps([1.0] * 8)
    wide = json.loads(
        _run("search_twins", CREATOR, "--vector", ones, "--twins", "t1,t2", "--workers", "3", "--json")
    )
    assert (wide["concurrent"], wide["workers"]) == (True, 3)
    assert {h["namespace"] for h in data["hits"]} == {"creator_acme_twin_t2"}
    assert {h["metadata"]["parity"] for h in data["hits"]} == {"even"}
    text = _run(*args)
    assert "3 hits from 1 namespaces of acme" in text and "doc-002" in text and "per namespace:" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody", "--vector", "[1]"), "Unknown creator"),
        ((CREATOR, "--vector", "[1, 2]"), "does not match the dimension"),
        ((CREATOR, "--id", "missing"), "was not found"),
        ((CREATOR, "--twins", "zz", "--vector", "[1,1,1,1,1,1,1,1]"), "'zz' is not a twin"),
        ((CREATOR, "--vector", "[1,1,1,1,1,1,1,1]", "--filter", "{"), "filter is not valid JSON"),
    ],
)
def test_search_twins_refuses_bad_input(layout, args, message):
    with pytest.raises(CommandError, match=message):
        _run("search_twins", *args)


def test_query_benchmark_json(layout):
    data = json.loads(
        _run("query_benchmark", "--creator", CREATOR, "--queries", "8", "--top-k", "3", "--json")
    )

    report = LatencyReport.objects.get()
    assert data["report_id"] == report.pk and data["query_count"] == 24
    assert data["recall"] == "exact" and data["backend"] == "local"
    assert data["p50_ms"] <= data["p95_ms"] <= data["p99_ms"] <= data["max_ms"]
    assert [(n["namespace"], n["query_count"]) for n in data["namespaces"]] == [
        ("creator_acme", 8),
        ("creator_acme_twin_t1", 8),
        ("creator_acme_twin_t2", 8),
        ("creator_acme_twin_t3", 0),
    ]
    for row in data["namespaces"][:3]:
        assert row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]


def test_query_benchmark_text_and_namespaces(layout):
    text = _run("query_benchmark", "--namespaces", "creator_acme.1", "creator_acme", "--queries", "2")
    assert "report 1 (2 namespace(s), local, cosine): 4 queries" in text.replace(
        f"report {LatencyReport.objects.get().pk}", "report 1"
    )
    assert "overall" in text and "creator_acme.1" in text


def test_query_benchmark_refuses_bad_input(layout):
    with pytest.raises(CommandError, match="Unknown creator"):
        _run("query_benchmark", "--creator", "nobody")
    with pytest.raises(CommandError, match="queries must be"):
        _run("query_benchmark", "--queries", "0")
    assert not LatencyReport.objects.exists()
