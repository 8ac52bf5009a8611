"""Bad input gets a clear error at the boundary and changes nothing: no rows, no backups, no
audit entries, the index untouched."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from migrations_app.models import NamespaceBackup, NamespaceMigration
from migrations_app.planning import PlanError
from migrations_app.services import migration_create
from tests.support.seed import CREATOR
from twinadmin.audit.models import AuditEntry
from twinadmin.jobs.models import Job
from twinadmin.registry import codec
from twinadmin.registry.models import Creator
from twinadmin.vectors import Vector, get_index
from twinadmin.vectors.seed import generate_legacy_seed, legacy_index_seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def unchanged(seeded, settings):
    """Snapshot everything a refused plan must leave alone, and check it afterwards."""
    before = (
        get_index().describe_index_stats(),
        Creator.objects.count(),
        AuditEntry.objects.count(),
    )
    yield
    assert get_index().describe_index_stats() == before[0]
    assert Creator.objects.count() == before[1]
    assert AuditEntry.objects.count() == before[2]
    assert NamespaceMigration.objects.count() == 0
    assert Job.objects.count() == 0 and NamespaceBackup.objects.count() == 0
    assert not settings.MIGRATION_BACKUP_DIR.exists()


def test_unknown_namespace(creator, unchanged):
    with pytest.raises(PlanError, match="Unknown namespace 'no-such-namespace'"):
        migration_create(actor="cli:test", creator_id=CREATOR, namespaces=["no-such-namespace"])


def test_non_legacy_namespace(creator, unchanged):
    get_index().upsert("creator_other", [Vector("x", np.ones(8, np.float32))])
    try:
        with pytest.raises(PlanError, match="'creator_other' is creator-wide; only legacy"):
            migration_create(actor="cli:test", creator_id=CREATOR, namespaces=["creator_other"])
    finally:
        get_index().delete_namespace("creator_other")


@pytest.mark.parametrize("bad", ["Sainath", "a_b", "x.", "x" * 65])
def test_invalid_creator_id(unchanged, bad):
    with pytest.raises(CommandError, match="Invalid creator id"):
        call_command("map_to_test_creator", bad)


def test_target_already_occupied(seeded, creator, settings):
    source = sorted(n for n in seeded.describe_index_stats().namespaces if n != "__default__")[0]
    target = codec.twin_namespace(CREATOR, source)
    seeded.upsert(target, [Vector("foreign", np.ones(8, np.float32))])
    stats = seeded.describe_index_stats()

    with pytest.raises(CommandError, match="already holds vectors not from this source"):
        call_command("map_to_test_creator", CREATOR)

    assert seeded.describe_index_stats() == stats
    assert NamespaceMigration.objects.count() == 0 and not settings.MIGRATION_BACKUP_DIR.exists()


def test_the_index_dimension_is_used_not_vector_dimension(pinecone_local, creator, settings):
    # The index holds 16-dimensional vectors; VECTOR_DIMENSION says 8. With VECTOR_BACKEND=pinecone
    # the dimension comes from the index itself, so this is no mismatch (it once was refused).
    server = pinecone_local(dimension=16)
    legacy_index_seed(
        index=server.store,
        seed_data=generate_legacy_seed(dimension=16, vectors=40, namespaces=3, default_vectors=10),
    )

    run = migration_create(actor="cli:test", creator_id=CREATOR)

    assert settings.VECTOR_DIMENSION == 8
    assert run.items.count() == 3


@pytest.mark.parametrize("status", [Creator.Status.ERASED, Creator.Status.ERASURE_PENDING])
def test_erased_or_erasing_creator(creator, unchanged, status):
    Creator.objects.filter(pk=creator.pk).update(status=status)
    with pytest.raises(PlanError, match=f"is {status}; nothing can be migrated onto it"):
        migration_create(actor="cli:test", creator_id=CREATOR)


def test_unknown_policies(creator, unchanged):
    with pytest.raises(PlanError, match="Unknown naming policy"):
        migration_create(actor="cli:test", creator_id=CREATOR, naming="random")
    with pytest.raises(PlanError, match="Unknown default-namespace policy"):
        migration_create(actor="cli:test", creator_id=CREATOR, default_policy="merge")
