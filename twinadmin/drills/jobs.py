"""Job kind owned by the drills app: resumable (twinadmin.jobs.leases), each step idempotent
and recorded on the DrillRun as it ends, so a drill whose worker died is continued by a new
job from the steps that held."""

from django.urls import reverse

from twinadmin.drills.models import DrillRun
from twinadmin.drills.services import KIND_ERASURE_DRILL, erasure_drill_execute
from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.models import Job


def _drill_continues(old: Job, new: Job) -> None:
    DrillRun.objects.filter(job=old).update(job=new)


job_handler(
    KIND_ERASURE_DRILL,
    resumable=True,
    on_continue=_drill_continues,
    produces=lambda job: ("the drills list", reverse("drills-list-runs")),
)(erasure_drill_execute)
