"""Job kinds owned by the registry."""

from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.models import Job
from twinadmin.registry.services import index_refresh


@job_handler("refresh_index")
def refresh_index_job(job: Job) -> dict:
    return index_refresh()
