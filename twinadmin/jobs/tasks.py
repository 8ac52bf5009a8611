from celery import shared_task

from twinadmin.jobs.services import job_execute


@shared_task(name="jobs.run_job", acks_late=False)
def run_job(job_id: int) -> str:
    """Run a saved Job. acks_late stays off here: generic kinds are not all idempotent; kinds that
    are (migrations, erasure) get their own acks_late tasks with checkpoints."""
    return job_execute(job_id=job_id).status
