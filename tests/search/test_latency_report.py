"""The query-latency job: sane percentiles and counts per namespace and overall, recall
recorded as exact on the local store and measured by brute force through the SDK."""

import pytest

from tests.support.search import CREATOR, RecordingIndex
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_execute
from twinadmin.search.errors import SearchInputError
from twinadmin.search.latency import latency_report_create, latency_report_run, percentile, recall_at_k
from twinadmin.search.models import LatencyReport, Recall

pytestmark = pytest.mark.django_db

FIGURES = ("p50_ms", "p95_ms", "p99_ms", "max_ms")


def _run(params, index=None):
    report = latency_report_create(params=params, enqueue=False)
    job = Job.objects.get(pk=report.job_id)
    if index is None:
        job = job_execute(job_id=job.pk)
        assert job.status == Job.Status.SUCCEEDED, job.error
    else:
        latency_report_run(job=job, index=index)
    report.refresh_from_db()
    return report, job


def _ordered(row):
    values = [getattr(row, f) for f in FIGURES]
    return all(v is not None and v > 0 for v in values) and values == sorted(values)


def test_a_creator_report_has_sane_percentiles_and_counts(layout):
    report, job = _run({"creator_id": CREATOR, "queries": 20, "top_k": 5})

    rows = list(report.rows.all())
    assert [r.namespace for r in rows] == [
        "creator_acme",
        "creator_acme_twin_t1",
        "creator_acme_twin_t2",
        "creator_acme_twin_t3",
    ]
    assert [r.twin_id for r in rows] == ["", "t1", "t2", "t3"]
    assert [r.vector_count for r in rows] == [11, 16, 13, 0]
    assert [r.query_count for r in rows] == [20, 20, 20, 0]
    for row in rows[:3]:
        assert _ordered(row)
        assert row.recall == Recall.EXACT and row.recall_at_k is None
    empty = rows[3]
    assert empty.p50_ms is None and empty.recall == Recall.EMPTY and "empty" in empty.note
    assert report.query_count == 60
    assert _ordered(report)
    assert report.max_ms == max(r.max_ms for r in rows[:3])
    assert report.recall == Recall.EXACT
    assert (report.backend, report.metric, report.dimension) == ("local", "cosine", 8)
    assert report.finished_at is not None and report.succeeded
    assert job.result["query_count"] == 60 and job.result["report_id"] == report.pk
    assert job.progress_done == 60 and job.progress_total == 60


def test_explicit_namespaces_and_the_whole_index(layout):
    explicit, _ = _run({"namespaces": ["creator_acme.1", "creator_acme_twin_gone"], "queries": 3})
    assert [(r.namespace, r.kind, r.query_count) for r in explicit.rows.all()] == [
        ("creator_acme.1", "creator-wide", 3),
        ("creator_acme_twin_gone", "twin", 3),
    ]
    everything, _ = _run({"queries": 2})
    assert everything.rows.count() == 6  # every non-empty namespace in the index
    assert everything.query_count == 12


def test_probes_are_seeded(layout):
    index = RecordingIndex(layout.index)
    _run({"creator_id": CREATOR, "queries": 4, "seed": 7}, index=index)
    first = [c for c in index.calls if c[0] == "query"]
    index.calls.clear()
    _run({"creator_id": CREATOR, "queries": 4, "seed": 7}, index=index)
    assert [c for c in index.calls if c[0] == "query"] == first


def test_through_the_sdk_recall_is_measured_against_brute_force(layout, sdk_index):
    report, _ = _run({"creator_id": CREATOR, "queries": 10, "top_k": 4}, index=sdk_index)

    rows = list(report.rows.all())
    assert report.backend == "pinecone"
    # The local server searches exactly, so the brute-force reference agrees everywhere.
    assert [r.recall for r in rows] == [Recall.MEASURED] * 3 + [Recall.EMPTY]
    assert all(r.recall_at_k == pytest.approx(1.0) for r in rows[:3])
    assert report.recall == Recall.MEASURED and report.recall_at_k == pytest.approx(1.0)
    assert all(_ordered(r) for r in rows[:3])


def test_large_namespaces_skip_recall_and_say_so(layout, sdk_index, settings):
    settings.LATENCY_EXACT_RECALL_MAX = 12  # t1 (16) is "large", shared (11) is not
    settings.LATENCY_PROBE_POOL_MAX = 12

    report, _ = _run({"creator_id": CREATOR, "queries": 5}, index=sdk_index)

    by_ns = {r.namespace: r for r in report.rows.all()}
    assert by_ns["creator_acme"].recall == Recall.MEASURED
    skipped = by_ns["creator_acme_twin_t1"]
    assert skipped.recall == Recall.SKIPPED and skipped.recall_at_k is None
    assert "exact top-k not computed" in skipped.note
    assert skipped.query_count == 5
    assert report.recall == Recall.PARTIAL


def test_rerunning_a_job_replaces_its_rows(layout):
    report, job = _run({"creator_id": CREATOR, "queries": 2})
    latency_report_run(job=job)
    assert report.rows.count() == 4
    assert LatencyReport.objects.count() == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"creator_id": "nobody"}, "Unknown creator"),
        ({"creator_id": CREATOR, "namespaces": ["x"]}, "not both"),
        ({"namespaces": ["é"]}, "Bad namespace"),
        ({"queries": 0}, "queries must be"),
        ({"queries": 10_001}, "queries must be"),
        ({"top_k": 0}, "top_k must be"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_parameters_create_nothing(layout, params, message):
    with pytest.raises(SearchInputError, match=message):
        latency_report_create(params=params, enqueue=False)
    assert not Job.objects.exists() and not LatencyReport.objects.exists()


def test_percentile_is_nearest_rank():
    samples = sorted(float(i) for i in range(1, 101))
    assert [percentile(samples, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([3.0], 99) == 3.0
    assert percentile([1.0, 2.0], 50) == 1.0


def test_recall_counts_ties_as_correct():
    import numpy as np

    matrix = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)  # a and b tie exactly
    ids = ["a", "b", "c"]
    query = np.array([1, 0], dtype=np.float32)
    assert recall_at_k(["b"], matrix, ids, query, "cosine", 1) == 1.0
    assert recall_at_k(["c"], matrix, ids, query, "cosine", 1) == 0.0
    assert recall_at_k(["a", "c"], matrix, ids, query, "euclidean", 2) == 0.5
