from celery import shared_task

from twinadmin.drills.services import erasure_drill_run


@shared_task(name="drills.scheduled_erasure_drill")
def scheduled_erasure_drill() -> str:
    """Celery beat runs this daily: a drill (a Job row on the jobs page) executed right here."""
    return erasure_drill_run(actor="celery:erasure_drill").status
