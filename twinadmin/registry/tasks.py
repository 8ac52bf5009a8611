from celery import shared_task

from twinadmin.jobs.services import job_create, job_execute


@shared_task(name="registry.scheduled_drift_report")
def scheduled_drift_report() -> str:
    """Celery beat runs this daily: a Job row (visible on the jobs page) executed right here."""
    job = job_create(kind="drift_report", params={"refresh": True, "scheduled": True}, enqueue=False)
    return job_execute(job_id=job.pk).status
