"""Query-latency reports: N probe queries per namespace, percentiles per namespace and overall,
and recall@k against exact search where the backend is approximate.

Probes are vectors drawn (seeded, so a re-run asks the same questions) from each namespace's own
vectors, queried one at a time so a figure is the latency one caller sees, including the vector
layer's retries. The local store searches exactly, so its recall is recorded as exact rather than
measured; on Pinecone the exact top-k is computed by brute force over the namespace's fetched
vectors when it holds at most LATENCY_EXACT_RECALL_MAX vectors, and skipped (and said so) above that.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_create, job_progress
from twinadmin.lib.text import bidi_controls_refuse
from twinadmin.registry import codec
from twinadmin.search.errors import SearchBackendError, SearchInputError
from twinadmin.search.models import LatencyNamespace, LatencyReport, Recall
from twinadmin.search.selectors import search_creator_get, search_targets
from twinadmin.search.services import lower_is_better, parse_top_k
from twinadmin.vectors import InvalidRequest, VectorError, VectorIndex, get_index, limits

KIND = "query_latency"
MAX_QUERIES = 10_000  # per namespace
FETCH_CHUNK = 1_000


# -- parameters -----------------------------------------------------------------------------------


def latency_params_clean(
    *,
    creator_id: str | None = None,
    namespaces: Sequence[str] | None = None,
    queries: Any = 50,
    top_k: Any = 10,
    seed: Any = 0,
    label: str = "",
) -> dict[str, Any]:
    """Validate a report's parameters (form, command and job all come through here) and return
    them as the job's JSON params. A creator's namespaces, or explicit ones, or (neither) every
    namespace in the index."""
    creator_id = (creator_id or "").strip() or None
    names = [n.strip() for n in namespaces or [] if n and n.strip()]
    if creator_id and names:
        raise SearchInputError("Choose a creator or explicit namespaces, not both.")
    if creator_id:
        search_creator_get(creator_id=creator_id)
    for name in names:
        try:
            limits.normalize_namespace(name)
        except InvalidRequest as exc:
            raise SearchInputError(f"Bad namespace {name[:80]!r}: {exc}.") from None
    if isinstance(queries, bool) or not isinstance(queries, int) or not 1 <= queries <= MAX_QUERIES:
        raise SearchInputError(f"queries must be a whole number from 1 to {MAX_QUERIES:,}, got {queries!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise SearchInputError(f"seed must be a non-negative whole number, got {seed!r}.")
    try:
        label = bidi_controls_refuse((label or "").strip()[:200], what="A label")
    except ValidationError as exc:
        raise SearchInputError(exc.messages[0]) from None
    return {
        "creator_id": creator_id or "",
        "namespaces": list(dict.fromkeys(names)),
        "queries": queries,
        "top_k": parse_top_k(top_k),
        "seed": seed,
        "label": label,
    }


def latency_report_create(*, params: dict[str, Any], user: Any = None, enqueue: bool = True) -> LatencyReport:
    """A pending report and the job that will fill it (queued for a worker once committed)."""
    clean = latency_params_clean(**params)
    _refuse_unknown_namespaces(clean["namespaces"])
    with transaction.atomic():
        job = job_create(kind=KIND, params=clean, user=user, enqueue=enqueue)
        return _report_for(job, clean, user)


def _refuse_unknown_namespaces(names: Sequence[str]) -> None:
    """Explicit namespaces must be in the index, read live: a mistyped one would otherwise give
    a report of nothing, which reads like a measurement. Checked when a report is asked for,
    not when its job runs (a namespace emptied meanwhile is measured as empty)."""
    if not names:
        return
    index = get_index()
    try:
        missing = [n for n in names if not index.namespace_count_settled(limits.normalize_namespace(n))]
    except VectorError as exc:
        raise SearchBackendError(f"Could not read the index to check the namespaces: {exc}") from exc
    if missing:
        shown = ", ".join(repr(n[:80]) for n in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise SearchInputError(f"Not in the index (no vectors): {shown}{more}.")


def _report_for(job: Job | None, params: dict[str, Any], user: Any = None) -> LatencyReport:
    return LatencyReport.objects.create(
        job=job,
        label=params["label"],
        creator_id=params["creator_id"],
        requested_namespaces=params["namespaces"],
        queries_per_namespace=params["queries"],
        top_k=params["top_k"],
        seed=params["seed"],
        created_by=user if user is not None and user.pk else None,
    )


# -- statistics -----------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted samples: always one of the samples, so p50 <= p95 <=
    p99 <= max holds by construction."""
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def summarize(samples: Sequence[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}
    ordered = sorted(samples)
    return {
        "p50_ms": percentile(ordered, 50),
        "p95_ms": percentile(ordered, 95),
        "p99_ms": percentile(ordered, 99),
        "max_ms": float(ordered[-1]),
        "mean_ms": float(sum(ordered) / len(ordered)),
    }


def exact_scores(matrix: np.ndarray, query: np.ndarray, metric: str) -> np.ndarray:
    """Brute-force scores as Pinecone defines them (euclidean: squared distance). Written apart
    from the local store on purpose: a reference must not share code with what it checks."""
    matrix = matrix.astype(np.float64, copy=False)
    query = query.astype(np.float64, copy=False)
    if metric == "euclidean":
        diff = matrix - query
        return np.einsum("ij,ij->i", diff, diff)
    dots = matrix @ query
    if metric == "dotproduct":
        return dots
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)
    return dots / np.where(norms == 0, 1.0, norms)


def recall_at_k(
    returned: Sequence[str], matrix: np.ndarray, ids: Sequence[str], query: np.ndarray, metric: str, k: int
) -> float:
    """Share of the exact top-k that the index returned. A returned id whose exact score ties
    the k-th best counts too: with ties any of the tied ids is a correct answer."""
    n = len(ids)
    want = min(k, n)
    if want == 0:
        return 1.0
    scores = exact_scores(matrix, query, metric)
    keys = scores if lower_is_better(metric) else -scores
    kth = np.partition(keys, want - 1)[want - 1]
    tolerance = 1e-5 * max(1.0, abs(float(kth)))
    position = {vector_id: i for i, vector_id in enumerate(ids)}
    good = sum(1 for r in returned[:want] if r in position and keys[position[r]] <= kth + tolerance)
    return min(1.0, good / want)


# -- measuring ------------------------------------------------------------------------------------


@dataclass
class NamespaceMeasure:
    namespace: str
    vector_count: int
    samples: list[float] = field(default_factory=list)
    recall: str = Recall.EMPTY
    recall_at_k: float | None = None
    note: str = ""


def _backend(index: VectorIndex) -> str:
    """The report's label: the two backends differ, for a latency report, in how they search."""
    return "local" if index.is_exact else "pinecone"


def _list_ids(index: VectorIndex, namespace: str, cap: int) -> tuple[list[str], bool]:
    """Up to `cap` ids in id order, and whether that is all of them."""
    ids: list[str] = []
    for page in index.iter_id_pages(namespace):
        ids.extend(page)
        if len(ids) > cap:
            return ids[:cap], False
    return ids, True


def _fetch_matrix(index: VectorIndex, namespace: str, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The vectors of `ids` that are still there (a concurrent delete may have taken some)."""
    kept: list[str] = []
    rows: list[np.ndarray] = []
    for start in range(0, len(ids), FETCH_CHUNK):
        found = index.fetch(namespace, ids[start : start + FETCH_CHUNK])
        for vector_id, vector in found.items():
            kept.append(vector_id)
            rows.append(vector.values)
    matrix = np.vstack(rows) if rows else np.empty((0, index.dimension), dtype=np.float32)
    return kept, matrix


def measure_namespace(
    index: VectorIndex,
    namespace: str,
    *,
    vector_count: int,
    queries: int,
    top_k: int,
    seed: int,
    on_query: Callable[[], None] | None = None,
) -> NamespaceMeasure:
    exact_backend = index.is_exact
    # Above this many vectors recall is not measured on approximate backends (it needs them all).
    exact_recall_max = settings.LATENCY_EXACT_RECALL_MAX
    ids, complete = _list_ids(index, namespace, max(settings.LATENCY_PROBE_POOL_MAX, exact_recall_max))
    measure = NamespaceMeasure(namespace, len(ids) if complete else vector_count)
    if not ids:
        measure.note = "empty: nothing to probe"
        return measure
    brute_force = not exact_backend and complete and len(ids) <= exact_recall_max
    rng = random.Random(f"{seed}:{namespace}")  # str seeds are stable across processes
    probe_ids = rng.sample(ids, queries) if queries <= len(ids) else [rng.choice(ids) for _ in range(queries)]
    if brute_force:
        all_ids, matrix = _fetch_matrix(index, namespace, ids)
        row_of = {vector_id: i for i, vector_id in enumerate(all_ids)}
        probes = [(i, matrix[row_of[i]]) for i in probe_ids if i in row_of]
    else:
        probe_rows, probe_matrix = _fetch_matrix(index, namespace, list(dict.fromkeys(probe_ids)))
        row_of = {vector_id: i for i, vector_id in enumerate(probe_rows)}
        probes = [(i, probe_matrix[row_of[i]]) for i in probe_ids if i in row_of]
    recalls: list[float] = []
    for _probe_id, values in probes:
        began = time.perf_counter()
        matches = index.query(namespace, vector=values, top_k=top_k, include_metadata=True)
        measure.samples.append((time.perf_counter() - began) * 1000)
        if brute_force:
            recalls.append(recall_at_k([m.id for m in matches], matrix, all_ids, values, index.metric, top_k))
        if on_query is not None:
            on_query()
    if not measure.samples:
        measure.note = "its vectors disappeared while probing"
    elif exact_backend:
        measure.recall = Recall.EXACT
        measure.note = "" if complete else f"probes drawn from its first {len(ids):,} ids"
    elif brute_force:
        measure.recall = Recall.MEASURED
        measure.recall_at_k = sum(recalls) / len(recalls)
    else:
        measure.recall = Recall.SKIPPED
        measure.note = (
            f"{max(vector_count, len(ids)):,}+ vectors (> {exact_recall_max:,}): exact top-k not "
            f"computed; probes drawn from its first {len(ids):,} ids"
        )
    return measure


def _targets(report: LatencyReport, stats_namespaces: dict[str, int]) -> list[tuple[str, str]]:
    """(namespace, twin id or "") in report order."""
    if report.creator_id:
        return [(t.namespace, t.twin_id or "") for t in search_targets(creator_id=report.creator_id)]
    names = report.requested_namespaces or sorted(stats_namespaces)
    return [(limits.normalize_namespace(n), codec.parse_namespace(n).twin_id or "") for n in names]


def _overall_recall(measures: Sequence[NamespaceMeasure]) -> tuple[str, float | None]:
    probed = [m for m in measures if m.samples]
    kinds = {m.recall for m in probed}
    if not probed:
        return Recall.EMPTY, None
    if kinds == {Recall.EXACT}:
        return Recall.EXACT, None
    measured = [m for m in probed if m.recall == Recall.MEASURED]
    if not measured:
        return Recall.SKIPPED, None
    weighted = sum((m.recall_at_k or 0.0) * len(m.samples) for m in measured)
    value = weighted / sum(len(m.samples) for m in measured)
    return (Recall.MEASURED if kinds == {Recall.MEASURED} else Recall.PARTIAL), value


def latency_report_run(
    *, job: Job | None = None, report: LatencyReport | None = None, index: VectorIndex | None = None
) -> LatencyReport:
    """Measure and store one report (the job handler; commands and the bench call it too). A
    re-run of the same job starts the measurements over: they are observations, not data."""
    if report is None:
        if job is None:
            raise ValueError("latency_report_run needs a job or a report")
        report = LatencyReport.objects.filter(job=job).first() or _report_for(
            job, latency_params_clean(**job.params), job.created_by
        )
    index = index or get_index()
    started = time.perf_counter()
    report.rows.all().delete()
    try:
        measures, rows, planned = _measure_targets(report, index, job)
    except VectorError as exc:
        raise SearchBackendError(f"The index failed during the latency run: {exc}") from exc
    pooled = [s for m in measures for s in m.samples]
    _report_save(report, index, rows=rows, measures=measures, pooled=pooled, started=started)
    if job is not None:
        job_progress(job, done=len(pooled), total=planned, message=f"{len(pooled)} queries")
    return report


def _measure_targets(
    report: LatencyReport, index: VectorIndex, job: Job | None
) -> tuple[list[NamespaceMeasure], list[LatencyNamespace], int]:
    """Probe every target namespace in order, reporting progress on the job every 100 queries:
    the measures, their unsaved rows, and the queries planned."""
    stats = index.describe_index_stats()
    targets = _targets(report, stats.namespaces)
    planned = sum(report.queries_per_namespace for ns, _ in targets if stats.namespaces.get(ns, 0))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if job is not None and done % 100 == 0:
            job_progress(job, done=done, total=planned)

    measures: list[NamespaceMeasure] = []
    rows: list[LatencyNamespace] = []
    for position, (namespace, twin_id) in enumerate(targets):
        if job is not None:
            job_progress(job, done=done, total=planned, message=f"probing {namespace}")
        measure = measure_namespace(
            index,
            namespace,
            vector_count=stats.namespaces.get(namespace, 0),
            queries=report.queries_per_namespace,
            top_k=report.top_k,
            seed=report.seed,
            on_query=tick,
        )
        measures.append(measure)
        rows.append(
            LatencyNamespace(
                report=report,
                position=position,
                namespace=namespace,
                kind=codec.parse_namespace(namespace).kind.value,
                twin_id=twin_id,
                vector_count=measure.vector_count,
                query_count=len(measure.samples),
                recall=measure.recall,
                recall_at_k=measure.recall_at_k,
                note=measure.note[:300],
                **summarize(measure.samples),
            )
        )
    return measures, rows, planned


def _report_save(
    report: LatencyReport,
    index: VectorIndex,
    *,
    rows: list[LatencyNamespace],
    measures: list[NamespaceMeasure],
    pooled: list[float],
    started: float,
) -> None:
    """The rows and the overall figures, in one transaction."""
    recall, recall_value = _overall_recall(measures)
    with transaction.atomic():
        LatencyNamespace.objects.bulk_create(rows, batch_size=500)
        for key, value in summarize(pooled).items():
            setattr(report, key, value)
        report.backend = _backend(index)
        report.metric = index.metric
        report.dimension = index.dimension
        report.query_count = len(pooled)
        report.recall = recall
        report.recall_at_k = recall_value
        report.duration_seconds = time.perf_counter() - started
        report.finished_at = timezone.now()
        report.save()


def report_summary(report: LatencyReport) -> dict[str, Any]:
    """The report as JSON (the command's --json and the job's result)."""
    figures = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")
    return {
        "report_id": report.pk,
        "job_id": report.job_id,
        "label": report.label,
        "scope": report.scope,
        "backend": report.backend,
        "metric": report.metric,
        "queries_per_namespace": report.queries_per_namespace,
        "top_k": report.top_k,
        "seed": report.seed,
        "query_count": report.query_count,
        **{f: _round(getattr(report, f)) for f in figures},
        "recall": report.recall,
        "recall_at_k": report.recall_at_k,
        "duration_seconds": _round(report.duration_seconds),
        "namespaces": [
            {
                "namespace": row.namespace,
                "kind": row.kind,
                "twin_id": row.twin_id or None,
                "vector_count": row.vector_count,
                "query_count": row.query_count,
                **{f: _round(getattr(row, f)) for f in figures},
                "recall": row.recall,
                "recall_at_k": row.recall_at_k,
                "note": row.note,
            }
            for row in report.rows.all()
        ],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
