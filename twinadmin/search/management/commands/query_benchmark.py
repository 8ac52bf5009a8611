import json

from django.core.management.base import BaseCommand, CommandError

from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_execute
from twinadmin.search.errors import SearchError
from twinadmin.search.latency import latency_report_create, report_summary


class Command(BaseCommand):
    help = (
        "Query-latency report: N probe queries per namespace (a creator's, explicit ones, or every "
        "namespace in the index), p50/p95/p99/max per namespace and overall, recall@k where the "
        "backend is approximate. Runs in this process through the same job as the page and stores "
        "the report."
    )

    def add_arguments(self, parser):
        parser.add_argument("--creator", help="the creator's creator-wide namespace and active twins")
        parser.add_argument("--namespaces", nargs="+", metavar="NS", help="explicit namespaces")
        parser.add_argument("--queries", type=int, default=50, help="queries per namespace (default 50)")
        parser.add_argument("--top-k", type=int, default=10)
        parser.add_argument("--seed", type=int, default=0, help="seed of the probe draw")
        parser.add_argument("--label", default="", help='e.g. "before migration"')
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        params = {
            "creator_id": options["creator"],
            "namespaces": options["namespaces"],
            "queries": options["queries"],
            "top_k": options["top_k"],
            "seed": options["seed"],
            "label": options["label"],
        }
        try:
            report = latency_report_create(params=params, enqueue=False)
        except SearchError as exc:
            raise CommandError(str(exc)) from None
        assert report.job_id is not None  # created with its job
        job = job_execute(job_id=report.job_id)
        if job.status != Job.Status.SUCCEEDED:
            first_line = job.error.splitlines()[0] if job.error else ""
            raise CommandError(f"latency job {job.pk} {job.status}: {first_line}")
        report.refresh_from_db()
        summary = report_summary(report)
        if options["json"]:
            self.stdout.write(json.dumps(summary, sort_keys=True))
            return
        self.stdout.write(
            f"report {report.pk} ({report.scope}, {report.backend}, {report.metric}): "
            f"{report.query_count} queries, top_k {report.top_k}, {report.duration_seconds:.1f} s"
        )
        self.stdout.write(f"  {'namespace':<52} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  recall")
        for row in [*summary["namespaces"], {**summary, "namespace": "overall"}]:
            line = f"  {row['namespace']:<52} {row['query_count']:>5} {_figures(row)}  {_recall(row)}"
            self.stdout.write(line)
        self.stdout.write("  (milliseconds)")


def _figures(row: dict) -> str:
    figures = ("p50_ms", "p95_ms", "p99_ms", "max_ms")
    return " ".join(f"{row[f]:>8.2f}" if row[f] is not None else f"{'-':>8}" for f in figures)


def _recall(row: dict) -> str:
    if row["recall_at_k"] is not None:
        return f"{row['recall_at_k']:.4f} ({row['recall']})"
    return row["recall"] or "-"
