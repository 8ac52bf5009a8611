"""PostgreSQL restarts (every connection to the test database cut, new ones refused for a few
seconds) while a migration, an erasure and a twin deletion run on a real worker. Each run
continues by itself once the database is back, from its checkpoints, and ends verified: no
vector lost or left behind, no row half-written. A short outage (within the lease): each job
waits, goes back to pending and is retried as the same job. A long one: the lease lapses, the
sweep continues each run as a new job, and the old job's page says so ("continued by job N").

The restart is simulated on the machine's server (pg_terminate_backend, and ALLOW_CONNECTIONS
off meanwhile) rather than by restarting a private one: the test database lives on the server
the whole run uses, and only that database is touched."""

from __future__ import annotations

import pytest
from django.urls import reverse

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_create, migration_enqueue
from tests.jobs.integration.conftest import worker_env
from tests.migrations_app.helpers import assert_same_vectors, read_all, twin_namespace
from tests.support.erasure import make_creator
from tests.support.seed import CREATOR
from tests.support.users import user_in_groups
from tests.support.vectors import DIM, counts_of, fill
from tests.support.workers import wait_until
from twinadmin.accounts.roles import APPROVERS, OPERATORS
from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file, twin_deletion_request
from twinadmin.jobs.models import Job
from twinadmin.registry import codec
from twinadmin.vectors import DEFAULT_NAMESPACE
from twinadmin.vectors.seed import generate_legacy_seed, legacy_index_seed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
LEASE = 6.0  # a job waits for the database for half of it (jobs.services)


def _ended(job_id: int) -> Job | None:
    """The job that finally carried this one's work, once it has ended."""
    job = Job.objects.get(pk=job_id)
    while (
        job.is_finished
        and job.status == Job.Status.FAILED
        and hasattr(job, "lease")
        and job.lease.continued_by_id
    ):
        job = Job.objects.get(pk=job.lease.continued_by_id)
    return job if job.is_finished else None


@pytest.mark.parametrize("outage", ["short", "long"])
def test_runs_survive_a_postgres_restart(
    outage, postgres_outage, private_redis, start_worker, server, tmp_path, settings, client
):
    seed = generate_legacy_seed(dimension=DIM, namespaces=2, vectors=200, default_vectors=60, seed=4)
    legacy_index_seed(index=server.store, seed_data=seed)
    twins = [f"t{i}" for i in range(12)]
    make_creator("k.1", twins)
    make_creator("k.10", ["t1"])
    make_creator("d.1", ["t1"])
    fill(
        server.store,
        {f"creator_k.1_twin_{t}": 2 for t in twins} | {"creator_k.10_twin_t1": 4, "creator_d.1_twin_t1": 3},
    )
    operator = user_in_groups("pg-op", OPERATORS, password="pw")
    approver = user_in_groups("pg-appr", APPROVERS, password="pw")
    worker = start_worker(
        env=worker_env(server, settings, lease=str(LEASE)),
        beat=True,
        concurrency=3,
    )
    server.set_faults(latency_ms=150)  # slow enough that all three are mid-way at the restart
    run = migration_create(actor="cli:test", creator_id=CREATOR, create_creator=True)
    migration_enqueue(run=run)
    erasure = erasure_request_file(creator_id="k.1", reason="DSAR", confirm="k.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm="k.1")
    deletion = twin_deletion_request(
        creator_id="d.1", twin_id="t1", reason="asked", confirm="t1", actor=operator
    )
    jobs = [run.job_id, ErasureRequest.objects.get(pk=erasure.pk).job_id, deletion.job_id]
    wait_until(
        lambda: Job.objects.filter(pk__in=jobs, status=Job.Status.RUNNING).count() == 3,
        timeout=30,
        interval=0.05,
        what=lambda: f"the three runs to start:\n{worker.log_tail()}",
    )

    postgres_outage(down_seconds=LEASE / 3 if outage == "short" else LEASE + 2)
    server.set_faults(latency_ms=0)

    def unfinished() -> str:
        left = list(Job.objects.exclude(status__in=Job.FINISHED).values_list("pk", "kind", "status"))
        return f"every run to end, still {left}:\n{worker.log_tail(120)}"

    def all_ended() -> bool:
        worker.check_alive()
        return all(_ended(pk) for pk in jobs)

    wait_until(all_ended, timeout=50, interval=0.2, what=unfinished)

    run.refresh_from_db()
    assert run.status == NamespaceMigration.Status.SUCCEEDED, run.error
    assert all(run.items.values_list("verified", flat=True))
    store = server.store
    assert_same_vectors(read_all(store, codec.creator_namespace(CREATOR)), seed.namespaces[DEFAULT_NAMESPACE])
    for namespace, vectors in seed.namespaces.items():
        if namespace != DEFAULT_NAMESPACE:
            assert_same_vectors(read_all(store, twin_namespace(CREATOR, namespace)), vectors)
    erasure.refresh_from_db()
    assert erasure.status == "completed", erasure.last_error
    assert all(erasure.namespaces.values_list("verified", flat=True))
    deletion.refresh_from_db()
    assert deletion.status == TwinDeletion.Status.VERIFIED, deletion.error
    counts = counts_of(store)
    assert not any(name.startswith(("creator_k.1_", "creator_d.1_")) for name in counts)
    assert counts["creator_k.10_twin_t1"] == 4
    assert all(_ended(pk).status == Job.Status.SUCCEEDED for pk in jobs)

    client.force_login(operator)
    if outage == "short":  # retried in place: the same jobs, nothing to take over
        assert Job.objects.get(pk=run.job_id).status == Job.Status.SUCCEEDED
        assert set(Job.objects.filter(pk__in=jobs).values_list("status", flat=True)) == {Job.Status.SUCCEEDED}
        assert worker.log().count("database connection lost (") == 3  # one wait and retry each
    else:
        for pk in jobs:
            old = Job.objects.get(pk=pk)
            successor = old.lease.continued_by_id
            assert old.status == Job.Status.FAILED and successor
            page = client.get(reverse("jobs-job-detail", args=[pk]))
            assert f"continued by job {successor}" in page.content.decode()
    pages = {
        reverse("migrations-run-detail", args=[run.pk]): 'data-status="succeeded"',
        reverse("erasure-request-detail", args=[erasure.pk]): 'data-status="completed"',
        reverse("erasure-twin-deletion-detail", args=[deletion.pk]): 'data-status="verified"',
    }
    for url, outcome in pages.items():  # each run's page tells the end, not the outage
        response = client.get(url)
        assert response.status_code == 200 and outcome in response.content.decode(), url
