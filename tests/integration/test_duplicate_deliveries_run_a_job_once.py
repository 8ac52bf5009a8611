"""The same job id delivered twice (a redelivery, or two workers racing) does the work once: the
conditional PENDING -> RUNNING claim lets exactly one delivery through."""

from __future__ import annotations

import numpy as np
import pytest

from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_create
from twinadmin.jobs.tasks import run_job
from twinadmin.registry.models import IndexSnapshot
from twinadmin.vectors.types import Vector

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_two_deliveries_of_one_job_refresh_the_index_once(celery_worker, worker_index):
    rng = np.random.default_rng(7)
    worker_index.upsert("creator_b.2", [Vector(id=f"v{i}", values=rng.uniform(0.1, 1, 8)) for i in range(6)])
    job = job_create(kind="refresh_index", enqueue=False)

    # Two deliveries at once: with two pool processes they race for the claim.
    deliveries = [run_job.delay(job.pk), run_job.delay(job.pk)]

    outcomes = [celery_worker.wait_for_task(d.id) for d in deliveries]
    assert outcomes == ["succeeded", "succeeded"], celery_worker.log_tail()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    # Each run of the handler stores one snapshot: one row means the work happened once.
    assert IndexSnapshot.objects.count() == 1
    assert IndexSnapshot.objects.get().total_vector_count == 6
