"""A drill whose worker dies midway is continued by another job from the steps that held: it
does not create or delete twice, cleans up once, passes, and says in the audit log that it was
continued. The dying runner is a real process, SIGKILLed once the drill's twin deletion held."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.support.runners import job_killed_when
from twinadmin.audit.models import AuditEntry
from twinadmin.drills.models import DrillRun
from twinadmin.drills.services import erasure_drill_start
from twinadmin.erasure.models import TwinDeletion
from twinadmin.erasure.services import creator_remnants
from twinadmin.jobs.leases import resumable_job_run
from twinadmin.jobs.models import Job, JobLease

pytestmark = pytest.mark.django_db(transaction=True)


def _killed_after(server, drill: DrillRun, step: str) -> None:
    """SIGKILL the drill's runner once `step` is recorded as held (every request to the index is
    slow, so it dies in the next step)."""
    server.set_faults(latency_ms=150)
    job_killed_when(
        server,
        drill.job_id,
        lambda: any(s["name"] == step and s["ok"] for s in DrillRun.objects.get(pk=drill.pk).steps),
        what=f"past {step}",
    )
    server.set_faults(latency_ms=0)


def test_a_drill_whose_worker_died_is_continued_from_the_steps_that_held(index_server):
    drill = erasure_drill_start(actor="cli:test", enqueue=False)
    first_job = drill.job_id
    _killed_after(index_server, drill, "delete_twin")
    assert Job.objects.get(pk=first_job).status == Job.Status.RUNNING  # the dead worker's claim
    # Time passing: the dead runner's leases (the drill's, and a step's it may have held) lapse.
    JobLease.objects.filter(job__status=Job.Status.RUNNING).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    resumable_job_run(job_id=first_job)  # the sweep's delivery, in a live worker

    drill.refresh_from_db()
    assert drill.status == DrillRun.Status.PASSED, drill.error
    assert drill.job_id != first_job
    names = [s["name"] for s in drill.steps]
    assert names == ["create", "delete_twin", "verify_twin", "erase_creator", "verify_creator", "cleanup"]
    assert TwinDeletion.objects.filter(creator_id=drill.creator_id).count() == 1  # not deleted twice
    assert creator_remnants(creator_id=drill.creator_id)["clean"]
    continued = AuditEntry.objects.get(action="drill.continue", creator_id=drill.creator_id)
    assert continued.details["job"] == drill.job_id
    assert AuditEntry.objects.filter(action="drill.start", creator_id=drill.creator_id).count() == 1
    assert Job.objects.get(pk=first_job).status == Job.Status.FAILED  # closed: "continued by"
