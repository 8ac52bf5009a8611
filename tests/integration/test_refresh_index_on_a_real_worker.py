"""An operator's "Refresh from index" runs on a real Celery worker and stores what the index
holds."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from twinadmin.jobs.models import Job
from twinadmin.registry.models import IndexNamespace, IndexSnapshot
from twinadmin.vectors.types import Vector

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LEGACY = "8c1f0a52-6f3e-4c55-9d2a-3f0b8f1e2a77"
UPSERTED = {
    "creator_sainath.no.1": 3,
    "creator_sainath.no.1_twin_001": 5,
    LEGACY: 4,
    "": 2,  # the default namespace: "" in calls, __default__ in stats
}


def _vectors(prefix: str, count: int, dimension: int) -> list[Vector]:
    rng = np.random.default_rng(len(prefix) * 1000 + count)
    return [Vector(id=f"{prefix}-{i}", values=rng.uniform(0.1, 1.0, dimension)) for i in range(count)]


def test_refresh_from_index_runs_on_the_worker_and_stores_the_counts(
    client, operator_user, celery_worker, worker_index
):
    dimension = celery_worker.vector_dimension
    for namespace, count in UPSERTED.items():
        worker_index.upsert(namespace, _vectors(namespace or "default", count, dimension))
    client.force_login(operator_user)

    response = client.post(reverse("registry-refresh-index"))

    job = Job.objects.get(kind="refresh_index")
    assert response.status_code == 302
    assert response["Location"] == job.get_absolute_url()
    job = celery_worker.wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.created_by == operator_user
    assert job.started_at is not None and job.finished_at is not None

    expected = {name or "__default__": count for name, count in UPSERTED.items()}
    assert dict(IndexNamespace.objects.values_list("name", "vector_count")) == expected
    assert dict(IndexNamespace.objects.values_list("name", "kind")) == {
        "creator_sainath.no.1": "creator-wide",
        "creator_sainath.no.1_twin_001": "twin",
        LEGACY: "legacy-uuid",
        "__default__": "default",
    }
    snapshot = IndexSnapshot.objects.get()
    assert snapshot.namespace_count == 4
    assert snapshot.total_vector_count == 14
    assert (snapshot.dimension, snapshot.metric) == (celery_worker.vector_dimension, "cosine")
    assert job.result == {"namespaces": 4, "total_vector_count": 14}


def test_the_job_page_takes_the_watcher_to_the_refreshed_overview(
    client, operator_user, celery_worker, worker_index
):
    worker_index.upsert("creator_a.1", _vectors("a", 2, celery_worker.vector_dimension))
    client.force_login(operator_user)

    response = client.post(reverse("registry-refresh-index"), headers={"HX-Request": "true"})

    job = Job.objects.get(kind="refresh_index")
    assert response["HX-Redirect"] == job.get_absolute_url()
    assert celery_worker.wait_for_job(job.pk).status == Job.Status.SUCCEEDED
    poll = client.get(job.get_absolute_url(), headers={"HX-Request": "true"})
    # htmx: the last poll navigates to what the job produced (which ends the polling)
    assert poll["HX-Redirect"] == reverse("registry-overview")
    page = client.get(job.get_absolute_url())  # opened later, the job page stays and says so
    assert page.status_code == 200 and b'data-status="succeeded"' in page.content
