"""With pinecone_local answering 30% of requests with 429 or 503, a migration through the real
SDK still ends verified, with every vector exact."""

from __future__ import annotations

import pytest

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_create, migration_execute
from tests.migrations_app.helpers import assert_same_vectors, read_all, twin_namespace
from tests.support.seed import CREATOR
from tests.support.vectors import adapter_for
from twinadmin.registry import codec
from twinadmin.vectors import DEFAULT_NAMESPACE
from twinadmin.vectors.seed import legacy_index_seed
from twinadmin.vectors.server import FaultConfig

pytestmark = pytest.mark.django_db


def test_thirty_percent_429_and_503_still_end_verified(pinecone_local, seed_data, creator):
    server = pinecone_local()
    legacy_index_seed(index=server.store, seed_data=seed_data)
    server.set_faults(**vars(FaultConfig(fail_429=0.15, fail_503=0.15, retry_after=0, seed=11)))
    # The adapter's retries, with short waits: what is tested is that every failure is retried.
    index = adapter_for(server)

    run = migration_create(actor="cli:test", creator_id=CREATOR, delete_source=True, index=index)
    run = migration_execute(run_id=run.pk, index=index)

    assert run.status == NamespaceMigration.Status.SUCCEEDED, run.error
    assert all(run.items.values_list("verified", flat=True)) and run.items.count() == 30
    assert server.request_count(status=429) > 20 and server.request_count(status=503) > 20
    store = server.store
    assert_same_vectors(
        read_all(store, codec.creator_namespace(CREATOR)), seed_data.namespaces[DEFAULT_NAMESPACE]
    )
    for namespace, vectors in seed_data.namespaces.items():
        if namespace != DEFAULT_NAMESPACE:
            assert_same_vectors(read_all(store, twin_namespace(CREATOR, namespace)), vectors)
        assert read_all(store, namespace) == {}  # deleted, and only after verification
