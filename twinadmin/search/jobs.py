"""Job kinds owned by search."""

from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.models import Job
from twinadmin.search.latency import KIND, latency_report_run, report_summary
from twinadmin.search.models import LatencyReport


def _report_page(job: Job) -> tuple[str, str] | None:
    report = LatencyReport.objects.filter(job=job).first()
    return ("the latency report", report.get_absolute_url()) if report is not None else None


@job_handler(KIND, retryable=True, produces=_report_page)
def query_latency_job(job: Job) -> dict:
    report = latency_report_run(job=job)
    summary = report_summary(report)
    # The job row keeps the overall figures; per-namespace rows live on the report.
    summary.pop("namespaces")
    return summary
