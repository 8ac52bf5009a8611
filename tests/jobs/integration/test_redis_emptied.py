"""Redis keeps nothing on disk. Emptied while a migration runs and an erasure and a twin
deletion wait in its queue (killed -9 and started again empty on the same port; or flushed under
a worker that stays connected), it has lost their messages; a twin deletion filed while it is
down never reached it at all. With nobody pressing anything, every job ends, verified, each run
once (one start, one finish in the audit log; no job taken over or failed): the worker resumes
what is pending when it reconnects, and its beat sweep sends again what it cannot know about."""

from __future__ import annotations

import json

import pytest
import redis

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_create, migration_enqueue
from tests.jobs.integration.conftest import RedisServer, worker_env
from tests.migrations_app.helpers import read_all
from tests.support.erasure import make_creator
from tests.support.seed import CREATOR
from tests.support.users import user_in_groups
from tests.support.vectors import DIM, counts_of, fill
from tests.support.workers import wait_until
from twinadmin.accounts.roles import APPROVERS, OPERATORS
from twinadmin.audit.models import AuditEntry
from twinadmin.celery import app as celery_app
from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file, twin_deletion_request
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_create
from twinadmin.jobs.tasks import run_job, run_resumable_job
from twinadmin.registry import codec
from twinadmin.vectors.seed import generate_legacy_seed, legacy_index_seed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _queued(broker: RedisServer) -> set[int]:
    """The jobs whose messages wait in the broker's queue."""
    raw = redis.Redis(port=broker.port).lrange(celery_app.conf.task_default_queue, 0, -1)
    headers = [json.loads(message)["headers"] for message in raw]
    tasks = {run_resumable_job.name, run_job.name}
    return {int(h["argsrepr"].strip("(,)")) for h in headers if h["task"] in tasks}


@pytest.mark.parametrize("emptied", ["restarted", "flushed"])
def test_every_job_ends_once_after_redis_loses_its_queue(
    emptied, private_redis, start_worker, server, tmp_path, settings
):
    """`restarted`: killed -9 and started again empty; the worker reconnects. `flushed`: emptied
    under a worker that stays connected (as a failover to an empty replica looks to it), so
    nothing but the sweep can tell that messages were lost."""
    seed = generate_legacy_seed(dimension=DIM, namespaces=2, vectors=300, default_vectors=100, seed=3)
    legacy_index_seed(index=server.store, seed_data=seed)
    make_creator("k.1", ["t1", "t2", "t3"])
    make_creator("k.10", ["t1"])
    make_creator("d.1", ["t1", "t2"])
    fill(
        server.store,
        {f"creator_k.1_twin_t{i}": 2 for i in (1, 2, 3)}
        | {"creator_k.10_twin_t1": 4, "creator_d.1_twin_t1": 3, "creator_d.1_twin_t2": 2},
    )
    operator = user_in_groups("faults-op", OPERATORS, password="pw")
    approver = user_in_groups("faults-appr", APPROVERS, password="pw")
    worker = start_worker(
        env=worker_env(server, settings, lease="3"),
        beat=True,
    )

    # The migration runs (slowly) on the only worker process; the other two wait in Redis.
    server.set_faults(latency_ms=25)
    run = migration_create(actor="cli:test", creator_id=CREATOR, create_creator=True)
    migration_enqueue(run=run)
    wait_until(
        lambda: Job.objects.filter(pk=run.job_id, status=Job.Status.RUNNING).exists(),
        timeout=30,
        what=lambda: f"the migration to start:\n{worker.log_tail()}",
    )
    erasure = erasure_request_file(creator_id="k.1", reason="DSAR", confirm="k.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm="k.1")
    first = twin_deletion_request(
        creator_id="d.1", twin_id="t1", reason="asked", confirm="t1", actor=operator
    )
    # A plain job (no lease, no checkpoints) waits behind them: an index refresh.
    refresh = job_create(kind="refresh_index", user=operator)
    waiting = {ErasureRequest.objects.get(pk=erasure.pk).job_id, first.job_id, refresh.pk}
    # (polled: the worker's poll of the queue may hold a message out of the list for a moment)
    wait_until(lambda: _queued(private_redis) == waiting, timeout=10, what=lambda: f"{waiting} queued")

    if emptied == "restarted":
        private_redis.kill()
        # Filed while the broker is down: saved, and no error for the person who filed it (a
        # drift report, a plain job, as well).
        second = twin_deletion_request(
            creator_id="d.1", twin_id="t2", reason="asked", confirm="t2", actor=operator
        )
        report = job_create(kind="drift_report", params={"refresh": True}, user=operator)
        private_redis.start()
    else:
        second = twin_deletion_request(
            creator_id="d.1", twin_id="t2", reason="asked", confirm="t2", actor=operator
        )
        report = job_create(kind="drift_report", params={"refresh": True}, user=operator)
        redis.Redis(port=private_redis.port).flushall()
    assert _queued(private_redis) == set()  # empty: every queued message is gone
    server.set_faults(latency_ms=0)

    erasure_job = ErasureRequest.objects.get(pk=erasure.pk).job_id
    lost = {erasure_job, first.job_id, second.job_id, refresh.pk, report.pk}

    def everything_ended() -> bool:
        worker.check_alive()
        return not Job.objects.filter(status__in=[Job.Status.PENDING, Job.Status.RUNNING]).exists()

    def unfinished() -> str:
        left = list(Job.objects.exclude(status__in=Job.FINISHED).values_list("pk", "kind", "status"))
        return f"every job to end, still {left}:\n{worker.log_tail()}"

    wait_until(everything_ended, timeout=50, interval=0.2, what=unfinished)

    run.refresh_from_db()
    assert run.status == NamespaceMigration.Status.SUCCEEDED, run.error
    assert all(run.items.values_list("verified", flat=True))
    assert len(read_all(server.store, codec.creator_namespace(CREATOR))) == 100
    erasure.refresh_from_db()
    assert erasure.status == "completed", erasure.last_error
    for deletion in (first, second):
        deletion.refresh_from_db()
        assert deletion.status == TwinDeletion.Status.VERIFIED, deletion.error
    counts = counts_of(server.store)
    assert not any(name.startswith(("creator_k.1_", "creator_d.1_")) for name in counts)
    assert counts["creator_k.10_twin_t1"] == 4

    # Each ran once: every job succeeded (none failed, none taken over by another), one start
    # and one finish each, and the lost ones were sent again by the sweep, nobody else.
    assert set(Job.objects.values_list("status", flat=True)) == {Job.Status.SUCCEEDED}
    for twin in ("t1", "t2"):
        for action in ("twin.delete.start", "twin.delete.finish"):
            assert AuditEntry.objects.filter(action=action, creator_id="d.1", target_id=twin).count() == 1
    assert AuditEntry.objects.filter(action="creator.erase.finish", creator_id="k.1").count() == 1
    resent = {int(pk) for line in worker.log().splitlines() if "re-sent [" in line for pk in _ids(line)}
    assert lost <= resent, worker.log_tail()


def _ids(line: str) -> list[str]:
    listed = line.rsplit("re-sent [", 1)[1].split("]", 1)[0]
    return [part.strip() for part in listed.split(",") if part.strip()]
