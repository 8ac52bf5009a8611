"""Job kinds owned by the registry."""

from django.urls import reverse

from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.models import Job
from twinadmin.registry.drift import drift_report_run
from twinadmin.registry.services import index_refresh


@job_handler(
    "refresh_index", retryable=True, produces=lambda job: ("the index overview", reverse("registry-overview"))
)
def refresh_index_job(job: Job) -> dict:
    return index_refresh()


@job_handler(
    "drift_report",
    retryable=True,
    produces=lambda job: ("the drift report", reverse("registry-drift-report")),
)
def drift_report_job(job: Job) -> dict:
    report = drift_report_run(refresh=job.params.get("refresh", True))
    # The job row keeps the summary; the page recomputes the lists from the stored snapshot.
    return {"clean": report.is_clean, "erasure_breach": report.has_erasure_breach, **report.counts}
