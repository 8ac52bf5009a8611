"""A backup whose creator's data key was destroyed is never restored: the rollback is refused,
saying why, before anything in the index changes; a new backup of that creator is refused too."""

from __future__ import annotations

import pytest

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_create, migration_execute, migration_rollback
from migrations_app.services.backup_records import data_key_destroy
from tests.support.seed import CREATOR
from twinadmin.registry.models import Twin
from twinadmin.vectors import get_index

pytestmark = pytest.mark.django_db
Status = NamespaceMigration.Status


def test_a_rollback_needing_a_backup_whose_key_was_destroyed_is_refused_before_anything_changes(seeded):
    run = migration_create(actor="cli:test", creator_id=CREATOR, create_creator=True, delete_source=True)
    run = migration_execute(run_id=run.pk)
    assert run.status == Status.SUCCEEDED, run.error
    data_key_destroy(creator_id=CREATOR, actor="cli:test", reason="crypto-shredded by hand")
    stats = get_index().describe_index_stats()

    run = migration_execute(run_id=migration_rollback(run=run, actor="cli:test", enqueue=False).pk)

    assert run.status == Status.FAILED
    assert "does not verify" in run.error and "was destroyed" in run.error and "never" in run.error
    assert get_index().describe_index_stats() == stats
    assert Twin.objects.count() == 29


def test_no_new_backup_is_written_for_a_creator_whose_key_was_destroyed(seeded, creator):
    data_key_destroy(creator_id=CREATOR, actor="cli:test", reason="erased")

    run = migration_execute(run_id=migration_create(actor="cli:test", creator_id=CREATOR).pk)

    assert run.status == Status.FAILED and "was destroyed" in run.error
    assert not get_index().describe_index_stats().namespaces.get(f"creator_{CREATOR}")
