"""The registry owns its state: Creator and Twin statuses change only through its services, and
the transitions it refuses are refused whoever asks (an erased creator never becomes active
again; a deleted twin is never deleted twice)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import (
    RegistryError,
    creator_create,
    creator_mark_erased,
    creator_mark_erasure_pending,
    creator_remove_unused,
    twin_adopt_migrated,
    twin_create,
    twin_mark_deleted,
    twin_mark_deleting,
    twin_restore,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def creator() -> Creator:
    creator = creator_create(creator_id="c.1")
    twin_create(creator=creator, twin_id="t1")
    return creator


def _status(model, **lookup) -> str:
    return model.objects.get(**lookup).status


def test_an_erased_creator_never_becomes_pending_or_active_again(creator):
    creator_mark_erasure_pending(creator_id="c.1")
    assert _status(Creator, creator_id="c.1") == "erasure-pending"
    creator_mark_erased(creator_id="c.1", observed_at=timezone.now())
    assert _status(Creator, creator_id="c.1") == "erased"
    assert _status(Twin, twin_id="t1") == "deleted"

    creator_mark_erasure_pending(creator_id="c.1")  # an erasure filed again for left-over data
    assert _status(Creator, creator_id="c.1") == "erased"
    creator.refresh_from_db()
    with pytest.raises(RegistryError, match="erased"):
        twin_adopt_migrated(
            creator=creator, twin_id="t2", naming="uuid", name="", legacy_namespace="x", vector_count=1
        )
    with pytest.raises(RegistryError, match="never restored"):
        twin_restore(creator_id="c.1", twin_id="t1", before={"existed": False})
    assert Twin.objects.filter(creator=creator).count() == 1


def test_a_deleted_twin_is_never_deleted_again(creator):
    twin_mark_deleting(creator_id="c.1", twin_id="t1")
    assert _status(Twin, twin_id="t1") == "deleting"
    twin_mark_deleting(creator_id="c.1", twin_id="t1")  # a resumed deletion: still deleting
    twin_mark_deleted(creator_id="c.1", twin_id="t1", observed_at=timezone.now())
    assert _status(Twin, twin_id="t1") == "deleted"

    with pytest.raises(RegistryError, match="already deleted"):
        twin_mark_deleting(creator_id="c.1", twin_id="t1")
    with pytest.raises(RegistryError, match="has no twin"):
        twin_mark_deleting(creator_id="c.1", twin_id="nope")
    assert _status(Twin, twin_id="t1") == "deleted"


def test_a_migration_adopts_a_twin_and_its_rollback_puts_the_registry_back(creator):
    twin, before = twin_adopt_migrated(
        creator=creator, twin_id="new", naming="legacy", name="n", legacy_namespace="abc", vector_count=7
    )
    assert before == {"existed": False}
    assert (twin.status, Twin.objects.get(pk=twin.pk).vector_count) == ("active", 7)
    _, before_existing = twin_adopt_migrated(
        creator=creator, twin_id="t1", naming="uuid", name="", legacy_namespace="def", vector_count=3
    )
    assert before_existing["existed"] is True and before_existing["legacy_namespace"] == ""

    assert twin_restore(creator_id="c.1", twin_id="new", before=before) == "removed"
    assert twin_restore(creator_id="c.1", twin_id="t1", before=before_existing) == "restored"
    restored = Twin.objects.get(twin_id="t1")
    assert (restored.legacy_namespace, restored.vector_count) == ("", None)
    assert twin_restore(creator_id="c.1", twin_id="gone", before=before) == "absent"


def test_a_creator_with_twins_is_not_removed_by_a_rollback(creator):
    assert creator_remove_unused(creator_id="c.1") is False
    creator_create(creator_id="empty.1")
    assert creator_remove_unused(creator_id="empty.1") is True
    assert not Creator.objects.filter(creator_id="empty.1").exists()
