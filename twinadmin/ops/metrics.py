"""What `/metrics` says beyond django-prometheus's request metrics.

The work happens in Celery workers, possibly on other hosts, and the web side runs as several
gunicorn processes: a counter kept in any one process's memory would tell only that process's
share. So what the workers did is read from the database at scrape time (`DatabaseCollector`),
with a few bounded queries, and is the same whichever web process answers:

- `twinadmin_jobs{kind,status}`: every job row, by kind and status (one GROUP BY; a status with
  no job of a known kind reads 0, so an alert on `status="failed"` has a series to watch);
- `twinadmin_erasure_job_duration_seconds{kind,status}` and
  `twinadmin_migration_job_duration_seconds{status}`: histograms of how long the jobs that ran
  erasures (creator erasures, twin deletions) and namespace migrations took, built from the
  finished jobs created in the last `METRICS_WINDOW_DAYS` days, at most the latest
  `METRICS_WINDOW_ROWS` of each. A job is one runner's stretch of the work: a run resumed after a
  failure, or continued after its worker died, counts once per job. Being a window, these can go
  down: read them with `histogram_quantile` over the buckets as they are, not through `rate()`;
- `twinadmin_failed_jobs_index_errors{kind,error}`: jobs created in the window that failed with
  an error of the vector layer (the class the job's error starts with: `TransientError`,
  `RateLimited`, ...), wherever they ran. The adapter's own per-request counter,
  `twinadmin_index_request_errors_total` (twinadmin.vectors.pinecone_adapter), counts every failed
  request including the ones retried successfully, but only of the processes this scrape reads
  (the web processes of this host, through the multiprocess directory under gunicorn): index
  errors of workers on other hosts show here only when they failed a job;
- `twinadmin_metrics_database_up`: 0 when these queries failed (the scrape still answers).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200)
WINDOW_DAYS = 7
WINDOW_ROWS = 1000


def vector_error_names() -> list[str]:
    """Every error class of the vector layer, by name (a job's error starts with one)."""
    from twinadmin.vectors import VectorError

    names: list[str] = []
    todo: list[type[BaseException]] = [VectorError]
    while todo:
        cls = todo.pop()
        names.append(cls.__name__)
        todo.extend(cls.__subclasses__())
    return sorted(set(names))


def _window() -> tuple[dt.datetime, str, int]:
    """Since when, said in words, and at most how many rows per histogram."""
    days = float(getattr(settings, "METRICS_WINDOW_DAYS", WINDOW_DAYS))
    rows = int(getattr(settings, "METRICS_WINDOW_ROWS", WINDOW_ROWS))
    return timezone.now() - dt.timedelta(days=days), f"{days:g} days", rows


def _histogram(
    name: str, documentation: str, labels: Sequence[str], rows: Iterable[tuple[tuple[str, ...], float]]
) -> HistogramMetricFamily:
    """A histogram family from (label values, seconds) pairs."""
    observed: dict[tuple[str, ...], list[float]] = {}
    for label_values, seconds in rows:
        observed.setdefault(label_values, []).append(seconds)
    family = HistogramMetricFamily(name, documentation, labels=list(labels))
    for label_values, values in sorted(observed.items()):
        buckets: list[tuple[str, float]] = [
            (str(float(bound)), float(sum(1 for v in values if v <= bound))) for bound in DURATION_BUCKETS
        ]
        buckets.append(("+Inf", float(len(values))))
        family.add_metric(list(label_values), buckets, sum(values))
    return family


class DatabaseCollector:
    """Reads the job rows at scrape time (see the module's docstring)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "twinadmin_metrics_database_up", "1 when the job metrics could be read from the database"
        )
        try:
            families = list(self._families())
        except DatabaseError as exc:
            log.warning("metrics: cannot read the job rows: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        from migrations_app.services import JOB_KIND as MIGRATION_KIND
        from twinadmin.erasure.services import KIND_DELETE_TWIN, KIND_ERASE_CREATOR
        from twinadmin.jobs.handlers import known_kinds
        from twinadmin.jobs.models import Job

        counts = {
            (kind, status): n
            for kind, status, n in Job.objects.order_by()
            .values_list("kind", "status")
            .annotate(n=Count("pk"))
            .values_list("kind", "status", "n")
        }
        jobs = GaugeMetricFamily("twinadmin_jobs", "Jobs by kind and status", labels=["kind", "status"])
        for kind in sorted(set(known_kinds()) | {kind for kind, _ in counts}):
            for status in Job.Status.values:
                jobs.add_metric([kind, status], counts.get((kind, status), 0))
        yield jobs

        since, window, limit = _window()

        def durations(kinds: Sequence[str]) -> list[tuple[str, str, float]]:
            rows = (
                Job.objects.filter(
                    kind__in=kinds,
                    status__in=Job.FINISHED,
                    created_at__gte=since,
                    started_at__isnull=False,
                    finished_at__isnull=False,
                )
                .order_by("-created_at")
                .values_list("kind", "status", "started_at", "finished_at")[:limit]
            )
            return [
                (k, s, max(0.0, (end - start).total_seconds())) for k, s, start, end in rows if start and end
            ]

        yield _histogram(
            "twinadmin_erasure_job_duration_seconds",
            f"How long finished creator-erasure and twin-deletion jobs ran (created in the last "
            f"{window}, at most the latest {limit})",
            ["kind", "status"],
            (((k, s), seconds) for k, s, seconds in durations([KIND_ERASE_CREATOR, KIND_DELETE_TWIN])),
        )
        yield _histogram(
            "twinadmin_migration_job_duration_seconds",
            f"How long finished namespace-migration jobs ran (created in the last {window}, "
            f"at most the latest {limit})",
            ["status"],
            (((s,), seconds) for _, s, seconds in durations([MIGRATION_KIND])),
        )

        names = vector_error_names()
        by_kind = (
            Job.objects.filter(status=Job.Status.FAILED, created_at__gte=since)
            .order_by()
            .values("kind")
            .annotate(**{f"n_{name}": Count("pk", filter=Q(error__startswith=f"{name}:")) for name in names})
        )
        failed = GaugeMetricFamily(
            "twinadmin_failed_jobs_index_errors",
            f"Jobs created in the last {window} that failed with a vector index error",
            labels=["kind", "error"],
        )
        rows: list[dict[str, Any]] = [dict(row) for row in by_kind]
        for row in sorted(rows, key=lambda r: r["kind"]):
            for name in names:
                if row[f"n_{name}"]:
                    failed.add_metric([row["kind"], name], row[f"n_{name}"])
        yield failed


class _ProcessMetrics:
    """This process's registry (django-prometheus, the adapter's counter, process metrics)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def multiprocess_dir() -> str:
    """prometheus_client's multiprocess directory, when the processes share one (gunicorn)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def render_latest() -> bytes:
    """The text exposition: in multiprocess mode every process's metrics merged from the
    directory (this process's in-memory registry holds nothing then), else this process's; the
    database's metrics in both."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(DatabaseCollector())
    return generate_latest(registry)
