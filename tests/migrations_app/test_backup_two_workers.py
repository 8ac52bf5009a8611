"""Two worker hosts that share no disk: one runs the migration (its backups go to the bucket), is
stopped, and the other rolls the run back from those backups. Nothing is written to either
host's backup directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_create, migration_enqueue, migration_rollback
from tests.migrations_app.helpers import assert_same_vectors, legacy_sources, read_all
from tests.support.s3 import use_s3
from tests.support.seed import CREATOR
from tests.support.vectors import DIM
from tests.support.workers import shared_vector_backend, stop_worker, wait_until
from twinadmin.registry.models import Twin
from twinadmin.vectors import get_index
from twinadmin.vectors.seed import generate_legacy_seed, legacy_index_seed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = NamespaceMigration.Status


def _ended(run: NamespaceMigration, status: str, worker) -> NamespaceMigration:
    def done() -> NamespaceMigration | None:
        run.refresh_from_db()
        return run if run.status in (status, Status.FAILED) else None

    wait_until(done, timeout=120, interval=0.3, what=lambda: f"run {run.pk} {status}:\n{worker.log_tail()}")
    assert run.status == status, run.error
    return run


def test_a_run_backed_up_on_one_host_rolls_back_on_another(
    start_worker, tmp_path: Path, settings, monkeypatch, moto_server
):
    s3 = use_s3(settings, monkeypatch, moto_server)
    host_a, host_b = tmp_path / "host-a-backups", tmp_path / "host-b-backups"
    with shared_vector_backend("local", tmp_path=tmp_path, settings=settings, dimension=DIM) as backend_env:
        seed = generate_legacy_seed(dimension=DIM)
        legacy_index_seed(index=get_index(), seed_data=seed)
        first = start_worker(env={**backend_env, **s3.env, "MIGRATION_BACKUP_DIR": str(host_a)})
        moved = legacy_sources(get_index())[:3]  # a few namespaces: the hosts are what is tested
        run = migration_create(
            actor="cli:test", creator_id=CREATOR, namespaces=moved, create_creator=True, delete_source=True
        )
        migration_enqueue(run=run)
        run = _ended(run, Status.SUCCEEDED, first)
        assert set(moved).isdisjoint(get_index().describe_index_stats().namespaces)
        stop_worker(first.process)  # the host that wrote the backups is gone

        second = start_worker(env={**backend_env, **s3.env, "MIGRATION_BACKUP_DIR": str(host_b)})
        run = migration_rollback(run=run, actor="cli:test")
        run = _ended(run, Status.ROLLED_BACK, second)

        index = get_index()
        assert set(index.describe_index_stats().namespaces) == set(seed.namespaces)
        for namespace, vectors in seed.namespaces.items():
            assert_same_vectors(read_all(index, namespace), vectors)
        assert not Twin.objects.exists()
        assert not host_a.exists() and not host_b.exists()  # the bucket holds them, no host's disk
        assert sum(k.endswith("/VDF_META.json") for k in s3.object_keys()) == 3
