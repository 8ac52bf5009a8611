"""A real Celery worker for the integration tests.

`celery_worker` starts `celery -A twinadmin worker` once for this package (tests.support.workers
launches it) with a vector store file fixed for the worker's lifetime. `worker_index` points the
test's settings at that same store, empties it, and hands back the index, so test and worker read
and write one file.

Tests here must be `django_db(transaction=True)`: the worker is another process and only sees
committed rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings

from tests.support.users import user_in_groups
from tests.support.vectors import DIM
from tests.support.workers import REAL_BROKER_SCHEMES, CeleryWorker, broker_url, launch_worker, stop_worker
from twinadmin.accounts.roles import OPERATORS
from twinadmin.celery import app as celery_app


@pytest.fixture(scope="package")
def celery_worker(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryWorker]:
    """One real worker for the integration package (scope: package, so it is gone before any
    other test can enqueue a job it would pick up)."""
    broker = broker_url()
    if not broker.startswith(REAL_BROKER_SCHEMES):
        pytest.skip(
            f"integration tests need a real broker (CELERY_BROKER_URL=redis://... or amqp://...), "
            f"not {broker.split('://')[0]}://; scripts/test.sh sets one"
        )
    workdir = tmp_path_factory.mktemp("celery-worker")
    vector_path = workdir / "vectors.sqlite3"
    log_path = workdir / "worker.log"

    # Messages left by earlier runs (or by transactional tests before this package) would be
    # executed against this run's database: start from an empty queue.
    celery_app.control.purge()
    worker = launch_worker(
        env={
            "VECTOR_BACKEND": "local",
            "VECTOR_LOCAL_PATH": str(vector_path),
            "VECTOR_DIMENSION": str(DIM),
            "VECTOR_METRIC": django_settings.VECTOR_METRIC,
        },
        log_path=log_path,
        name="itest",
        concurrency=2,
        vector_path=vector_path,
        vector_dimension=DIM,
    )
    try:
        yield worker
    finally:
        stop_worker(worker.process)


@pytest.fixture
def worker_index(celery_worker: CeleryWorker, settings: Any) -> Any:
    """The worker's vector store, empty, as seen by this test (its settings point at it too)."""
    from twinadmin.vectors import get_index

    settings.VECTOR_BACKEND = "local"
    settings.VECTOR_LOCAL_PATH = celery_worker.vector_path
    settings.VECTOR_DIMENSION = celery_worker.vector_dimension
    index = get_index()
    for namespace in list(index.iter_namespaces()):
        index.delete_namespace(namespace.name)
    assert index.describe_index_stats().namespaces == {}
    return index


@pytest.fixture
def operator_user(transactional_db: None) -> Any:
    """An operator that survives earlier transactional tests' flushes, which also empty the
    groups the data migration created."""
    return user_in_groups("itest-op", OPERATORS, password="itest-pw")
