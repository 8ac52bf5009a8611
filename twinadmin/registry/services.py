"""Writes to the registry. Every entry point validates ids through the codec first."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify

from twinadmin.audit.services import audit_record
from twinadmin.lib.text import bidi_controls_refuse
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, IndexNamespace, IndexSnapshot, Twin

if TYPE_CHECKING:
    pass


class RegistryError(ValueError):
    """Bad input for the registry: a clear message, nothing written."""


def _display_text(value: str, what: str) -> str:
    """A name people will read, stripped; refused when it holds bidirectional controls."""
    try:
        return bidi_controls_refuse(value.strip(), what=what)
    except ValidationError as exc:
        raise RegistryError(exc.messages[0]) from None


def creator_create(*, creator_id: str, display_name: str = "", actor: Any = None) -> Creator:
    try:
        codec.validate_creator_id(creator_id)
    except codec.InvalidId as exc:
        raise RegistryError(str(exc)) from None
    display_name = _display_text(display_name, "A display name")
    try:
        with transaction.atomic():
            creator = Creator.objects.create(creator_id=creator_id, display_name=display_name)
            _audit_creator_created(creator, actor)
            return creator
    except IntegrityError:
        raise RegistryError(f"Creator {creator_id!r} already exists.") from None


def _audit_creator_created(creator: Creator, actor: Any) -> None:
    # In the creating transaction: the entry exists exactly when the creator does.
    audit_record(
        actor=actor,
        action="creator.create",
        target_type="creator",
        target_id=creator.creator_id,
        creator_id=creator.creator_id,
        outcome="success",
        details={"display_name": creator.display_name},
    )


def creator_get(*, creator_id: str) -> Creator:
    try:
        return Creator.objects.get(creator_id=creator_id)
    except Creator.DoesNotExist:
        raise RegistryError(f"Unknown creator {creator_id!r}.") from None


def _semantic_twin_id(name: str) -> str:
    slug = slugify(name).replace("_", "-").strip("-.")[: codec.MAX_ID_LENGTH].strip("-.")
    if not codec.is_valid_id(slug):
        raise RegistryError(
            f"Cannot derive a twin id from the name {name!r}; give a name with letters or digits."
        )
    return slug


def _with_suffix(base: str, n: int) -> str:
    suffix = f"-{n}"
    return base[: codec.MAX_ID_LENGTH - len(suffix)].rstrip("-.") + suffix


def twin_create(
    *,
    creator: Creator,
    name: str = "",
    naming: str = Twin.Naming.UUID,
    twin_id: str | None = None,
    legacy_namespace: str = "",
    actor: Any = None,
) -> Twin:
    """Add a twin under a naming policy (and its audit entry, in the same transaction).

    - uuid: a fresh UUID4.
    - semantic: slug of the name; `-2`, `-3`, … appended while taken (unique per creator).
    - sequential: 001, 002, … from a per-creator counter bumped under a row lock, so concurrent
      creations never hand out the same number (the unique constraint backs it up).
    - an explicit `twin_id` (e.g. a legacy UUID) is validated and used as given.
    """
    if naming not in Twin.Naming.values:
        raise RegistryError(f"Unknown naming policy {naming!r}.")
    name = _display_text(name, "A twin name")
    if twin_id is not None:
        try:
            codec.validate_twin_id(twin_id)
        except codec.InvalidId as exc:
            raise RegistryError(str(exc)) from None
    with transaction.atomic():
        locked = Creator.objects.select_for_update().get(pk=creator.pk)
        if locked.status != Creator.Status.ACTIVE:
            raise RegistryError(f"Creator {locked.creator_id!r} is {locked.status}; twins cannot be added.")
        if twin_id is None:
            twin_id = _next_twin_id(locked, naming=naming, name=name)
        if Twin.objects.filter(creator=locked, twin_id=twin_id).exists():
            raise RegistryError(f"Creator {locked.creator_id!r} already has a twin {twin_id!r}.")
        try:
            with transaction.atomic():
                twin = Twin.objects.create(
                    creator=locked,
                    twin_id=twin_id,
                    name=name,
                    naming=naming,
                    legacy_namespace=legacy_namespace,
                )
        except IntegrityError:
            raise RegistryError(
                f"Twin {twin_id!r} or legacy namespace {legacy_namespace!r} is already registered."
            ) from None
        audit_record(
            actor=actor,
            action="twin.create",
            target_type="twin",
            target_id=twin.twin_id,
            creator_id=locked.creator_id,
            outcome="success",
            details={"name": twin.name, "naming": naming, "legacy_namespace": legacy_namespace},
        )
        return twin


def _next_twin_id(creator: Creator, *, naming: str, name: str) -> str:
    if naming == Twin.Naming.SEQUENTIAL:
        taken = set(Twin.objects.filter(creator=creator).values_list("twin_id", flat=True))
        seq = creator.twin_sequence
        while True:
            seq += 1
            candidate = f"{seq:03d}"
            if candidate not in taken:
                break
        Creator.objects.filter(pk=creator.pk).update(twin_sequence=seq)
        return candidate
    if naming == Twin.Naming.SEMANTIC:
        base = _semantic_twin_id(name)
        taken = set(
            Twin.objects.filter(creator=creator, twin_id__startswith=base[:50]).values_list(
                "twin_id", flat=True
            )
        )
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = _with_suffix(base, n)
        return candidate
    return str(uuid.uuid4())


def creator_update(*, creator_id: str, display_name: str, actor: Any = None) -> Creator:
    """Change a creator's display name (audited in the same transaction). Refused once an
    erasure is approved or done: nothing about an erased creator is written again. The same
    name (after stripping) changes nothing and writes no entry, so a sync may send it again."""
    display_name = _display_text(display_name, "A display name")
    with transaction.atomic():
        creator = _creator_locked_active(creator_id, "it cannot be changed")
        _text_change_audited(creator, "display_name", display_name, "creator.update", creator_id, actor)
        return creator


def twin_update(*, creator_id: str, twin_id: str, name: str, actor: Any = None) -> Twin:
    """Change a twin's name (audited in the same transaction). The twin id, and so its
    namespace, stays: the index has no rename. Refused for a twin being deleted or deleted and
    for a creator whose erasure is approved or done; the same name changes nothing and writes no
    entry."""
    name = _display_text(name, "A twin name")
    with transaction.atomic():
        # Creator, then twin: the order twin_create takes them in.
        creator = _creator_locked_active(creator_id, "its twins cannot be changed")
        valid = codec.is_valid_id(twin_id)
        twin = valid and Twin.objects.select_for_update().filter(creator=creator, twin_id=twin_id).first()
        if not twin:
            raise RegistryError(f"Creator {creator_id!r} has no twin {twin_id!r}.")
        if twin.status != Twin.Status.ACTIVE:
            raise RegistryError(f"Twin {twin_id!r} of {creator_id!r} is {twin.status}; it cannot be changed.")
        _text_change_audited(twin, "name", name, "twin.update", creator_id, actor)
        return twin


def _creator_locked_active(creator_id: str, refused: str) -> Creator:
    """For creator_update and twin_update, in their transaction. The row lock orders the change
    with an approval (a conditional UPDATE of the same row): the status read here is the one the
    change commits against. An id the codec refuses is no creator's (and is never sent to the
    database: PostgreSQL refuses NUL in text)."""
    valid = codec.is_valid_id(creator_id)
    creator = valid and Creator.objects.select_for_update().filter(creator_id=creator_id).first()
    if not creator:
        raise RegistryError(f"Unknown creator {creator_id!r}.")
    if creator.status != Creator.Status.ACTIVE:
        raise RegistryError(f"Creator {creator_id!r} is {creator.status}; {refused}.")
    return creator


def _text_change_audited(
    row: Creator | Twin, field: str, value: str, action: str, creator_id: str, actor: Any
) -> None:
    """Set a text field of a locked row and audit it with the value before; the same value
    writes nothing at all."""
    before = getattr(row, field)
    if value == before:
        return
    setattr(row, field, value)
    row.save(update_fields=[field, "updated_at"])
    audit_record(
        actor=actor,
        action=action,
        target_type="creator" if isinstance(row, Creator) else "twin",
        target_id=creator_id if isinstance(row, Creator) else row.twin_id,
        creator_id=creator_id,
        outcome="success",
        details={field: value, "before": {field: before}},
    )


def orphan_register_as_twin(*, namespace: str, name: str = "", actor: Any = None) -> Twin:
    """Adopt a twin namespace the registry does not know and the index holds: the parse gives
    creator and twin ids (the creator is registered too when absent). Nothing in the index
    changes; a namespace the index does not hold (read live) is refused, with nothing written."""
    parsed = codec.parse_namespace(namespace)
    if parsed.kind is not codec.NamespaceKind.TWIN:
        raise RegistryError(
            f"{namespace!r} is not a twin namespace ({parsed.kind.value}); only twins can be adopted."
        )
    name = _display_text(name, "A twin name")
    # Read before the transaction: the audit entries below lock the chain's head until it ends,
    # and no index round trip (retries included) may hold every other audit writer back.
    count = _live_vector_count(namespace)
    with transaction.atomic():
        creator, created = Creator.objects.get_or_create(creator_id=parsed.creator_id)
        if created:
            _audit_creator_created(creator, actor)
        twin = twin_create(
            creator=creator, twin_id=parsed.twin_id, naming=Twin.Naming.ADOPTED, name=name, actor=actor
        )
        # Refused after twin_create's checks (an erased creator, a twin already registered say
        # more than "not in the index"); raising here rolls the creator and twin back, entries too.
        if not count:
            raise RegistryError(
                f"The index holds no vectors in {namespace!r}: there is nothing to register. "
                "Refresh the index if the drift report is out of date."
            )
        Twin.objects.filter(pk=twin.pk).update(vector_count=count, count_observed_at=timezone.now())
        audit_record(
            actor=actor,
            action="twin.register_orphan",
            target_type="namespace",
            target_id=namespace,
            creator_id=creator.creator_id,
            outcome="success",
            details={"twin_id": twin.twin_id, "vector_count": count},
        )
    return twin


def _live_vector_count(namespace: str) -> int:
    from twinadmin.vectors import VectorError, get_index

    try:
        return get_index().namespace_count_settled(namespace)
    except VectorError as exc:
        raise RegistryError(f"Could not read {namespace!r} from the index: {exc}") from None


def _observed_row(name: str, count: int, now: Any) -> IndexNamespace:
    """A snapshot row: the namespace as observed, with its parse (kind and owner) stored."""
    parsed = codec.parse_namespace(name)
    return IndexNamespace(
        name=name,
        kind=parsed.kind.value,
        creator_id=parsed.creator_id or "",
        twin_id=parsed.twin_id or "",
        vector_count=count,
        observed_at=now,
    )


def index_snapshot_store(
    *, dimension: int, metric: str, namespaces: dict[str, int], update_twin_counts: bool = True
) -> IndexSnapshot:
    """Replace the stored view of the index with what was just observed and, unless told not to,
    update the observed counts of registry twins (absent namespace = 0). The drift report stores
    without updating, so that it can show which registry counts had gone stale."""
    now = timezone.now()
    rows = [_observed_row(name, count, now) for name, count in namespaces.items()]
    with transaction.atomic():
        # Upsert what is present (stamped `now`), then drop rows this refresh did not see: no
        # NOT IN over 25,000 names.
        IndexNamespace.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["kind", "creator_id", "twin_id", "vector_count", "observed_at"],
        )
        IndexNamespace.objects.filter(observed_at__lt=now).delete()
        if update_twin_counts:
            twins = list(Twin.objects.select_related("creator").exclude(status=Twin.Status.DELETED))
            for twin in twins:
                twin.vector_count = namespaces.get(twin.namespace, 0)
                twin.count_observed_at = now
            Twin.objects.bulk_update(twins, ["vector_count", "count_observed_at"], batch_size=1000)
        return IndexSnapshot.objects.create(
            observed_at=now,
            dimension=dimension,
            metric=metric,
            total_vector_count=sum(namespaces.values()),
            namespace_count=len(namespaces),
        )


def index_refresh(*, update_twin_counts: bool = True) -> dict[str, Any]:
    """Read the index's stats through the vector layer and store them."""
    from twinadmin.vectors import get_index

    stats = get_index().describe_index_stats()
    snapshot = index_snapshot_store(
        dimension=stats.dimension,
        metric=stats.metric,
        namespaces=stats.namespaces,
        update_twin_counts=update_twin_counts,
    )
    return {"namespaces": snapshot.namespace_count, "total_vector_count": snapshot.total_vector_count}


# Names per `IN (...)` list: SQLite caps the variables of one statement.
_IN_CHUNK = 500


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = _IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def index_snapshot_apply(*, observed: dict[str, int]) -> None:
    """Tell the stored snapshot what a job that changed the index has just verified: namespace
    name -> vector count, 0 meaning the namespace is gone.

    Only the named namespaces change: their rows are updated, created or (at 0) deleted, and the
    registry twins they belong to (deleted twins too) take the count. The latest IndexSnapshot's
    totals are recomputed from the rows so that they keep adding up, but its `observed_at` stays:
    the other namespaces were not read again. A constant number of queries whatever the size of
    the snapshot (one per 500 names observed).
    """
    if not observed:
        return
    now = timezone.now()
    # The index reports the default namespace as `__default__`; so does the stored snapshot.
    counts = {name or codec.DEFAULT_NAMESPACE: max(int(count), 0) for name, count in observed.items()}
    gone = [name for name, count in counts.items() if count == 0]
    present = [_observed_row(name, count, now) for name, count in counts.items() if count]
    owners = {
        (parsed.creator_id or "", parsed.twin_id or ""): counts[name]
        for name in counts
        for parsed in [codec.parse_namespace(name)]
        if parsed.kind is codec.NamespaceKind.TWIN
    }
    with transaction.atomic():
        # Lock the summary first: concurrent applies take turns, so each one's totals below are
        # summed after the previous one committed its rows.
        snapshot_pk = (
            IndexSnapshot.objects.select_for_update()
            .order_by("-observed_at")
            .values_list("pk", flat=True)
            .first()
        )
        IndexNamespace.objects.bulk_create(
            present,
            batch_size=_IN_CHUNK,
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["kind", "creator_id", "twin_id", "vector_count", "observed_at"],
        )
        for names in _chunks(gone):
            IndexNamespace.objects.filter(name__in=names).delete()
        if owners:
            _twin_counts_apply(owners, now=now)
        if snapshot_pk is not None:
            totals = IndexNamespace.objects.aggregate(
                namespaces=Count("id"), vectors=Coalesce(Sum("vector_count"), 0)
            )
            IndexSnapshot.objects.filter(pk=snapshot_pk).update(
                namespace_count=totals["namespaces"], total_vector_count=totals["vectors"]
            )


def _twin_counts_apply(owners: dict[tuple[str, str], int], *, now: Any) -> None:
    """Set the observed count of the twins (whatever their status) owning these namespaces."""
    pairs = sorted(owners)
    twins = []
    for chunk in _chunks(pairs, _IN_CHUNK // 2):  # two variables per pair
        match = Q()
        for creator_id, twin_id in chunk:
            match |= Q(creator__creator_id=creator_id, twin_id=twin_id)
        for pk, creator_id, twin_id in Twin.objects.filter(match).values_list(
            "pk", "creator__creator_id", "twin_id"
        ):
            twins.append(Twin(pk=pk, vector_count=owners[(creator_id, twin_id)], count_observed_at=now))
    Twin.objects.bulk_update(twins, ["vector_count", "count_observed_at"], batch_size=_IN_CHUNK)


def index_namespaces_reread(*, names: Iterable[str]) -> dict[str, int]:
    """Read these namespaces live from the index, store what was seen (index_snapshot_apply) and
    return it: name -> vector count, 0 for a namespace that is gone. No names, no index call."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    from twinadmin.vectors import get_index

    index = get_index()
    # Counts lag writes and deletes: an empty count with ids still listed counts the ids.
    observed = {name: index.namespace_count_settled(name) for name in wanted}
    index_snapshot_apply(observed=observed)
    return observed


# -- transitions: the only writes of Creator.status and Twin.status --------------------------
#
# Creator: active -> erasure-pending -> erased. An erased creator never becomes active again (an
# erasure filed again for one that still has data keeps it erased). Twin: active -> deleting ->
# deleted; a deleted twin is never deleted again, and only a migration's rollback of what it
# created or changed puts a twin back.

_TWIN_DELETABLE = (Twin.Status.ACTIVE, Twin.Status.DELETING)


def creator_mark_erasure_pending(*, creator_id: str) -> None:
    """An approved erasure: the creator gets no new twins or migrations from now on."""
    Creator.objects.filter(creator_id=creator_id, status=Creator.Status.ACTIVE).update(
        status=Creator.Status.ERASURE_PENDING
    )


def creator_mark_erased(*, creator_id: str, observed_at: Any) -> None:
    """A verified erasure: the creator and all their twins, whatever state they were in."""
    Twin.objects.filter(creator__creator_id=creator_id).update(
        status=Twin.Status.DELETED, vector_count=0, count_observed_at=observed_at
    )
    Creator.objects.filter(creator_id=creator_id).update(status=Creator.Status.ERASED)


def twin_mark_deleting(*, creator_id: str, twin_id: str) -> None:
    """A twin deletion has started. Refused for a twin already deleted."""
    twin = Twin.objects.filter(creator__creator_id=creator_id, twin_id=twin_id).first()
    if twin is None:
        raise RegistryError(f"Creator {creator_id!r} has no twin {twin_id!r}.")
    if twin.status not in _TWIN_DELETABLE:
        raise RegistryError(f"Twin {twin_id!r} of {creator_id!r} is already deleted.")
    Twin.objects.filter(pk=twin.pk, status=Twin.Status.ACTIVE).update(status=Twin.Status.DELETING)


def twin_mark_deleted(*, creator_id: str, twin_id: str, observed_at: Any) -> None:
    """Its namespace was verified gone."""
    Twin.objects.filter(creator__creator_id=creator_id, twin_id=twin_id).update(
        status=Twin.Status.DELETED, vector_count=0, count_observed_at=observed_at
    )


def twin_adopt_migrated(
    *, creator: Creator, twin_id: str, naming: str, name: str, legacy_namespace: str, vector_count: int
) -> tuple[Twin, dict[str, Any]]:
    """A migration's cut-over: the twin its target belongs to, created or updated, active, with
    the legacy namespace it came from and the verified count. Returns the twin and what the
    registry held before (`{"existed": False}` for a new one), so a rollback can put it back.
    Call it inside the transaction that locked the creator."""
    if creator.status != Creator.Status.ACTIVE:
        raise RegistryError(
            f"Creator {creator.creator_id!r} is {creator.status}; nothing is cut over onto it."
        )
    twin = Twin.objects.filter(creator=creator, twin_id=twin_id).first()
    if twin is None:
        twin = twin_create(
            creator=creator, twin_id=twin_id, naming=naming, name=name, legacy_namespace=legacy_namespace
        )
        before: dict[str, Any] = {"existed": False}
    else:
        before = {
            "existed": True,
            "status": twin.status,
            "legacy_namespace": twin.legacy_namespace,
            "vector_count": twin.vector_count,
        }
    Twin.objects.filter(pk=twin.pk).update(
        status=Twin.Status.ACTIVE,
        legacy_namespace=legacy_namespace,
        vector_count=vector_count,
        count_observed_at=timezone.now(),
    )
    return twin, before


def twin_restore(*, creator_id: str, twin_id: str, before: dict[str, Any]) -> str:
    """A rollback: remove the twin a migration created, or put back what the registry held
    before it changed one. Refused for an erased creator. Returns what was done."""
    twin = (
        Twin.objects.filter(creator__creator_id=creator_id, twin_id=twin_id).select_related("creator").first()
    )
    if twin is None:
        return "absent"
    if twin.creator.status == Creator.Status.ERASED:
        raise RegistryError(f"Creator {creator_id!r} is erased; its twins are never restored.")
    if not before.get("existed"):
        twin.delete()
        return "removed"
    Twin.objects.filter(pk=twin.pk).update(
        status=before["status"],
        legacy_namespace=before["legacy_namespace"],
        vector_count=before["vector_count"],
    )
    return "restored"


def creator_remove_unused(*, creator_id: str) -> bool:
    """A rollback of the run that registered the creator: remove it again while it has no twins.
    Returns whether it was removed."""
    creator = Creator.objects.filter(creator_id=creator_id).first()
    if creator is None or creator.twins.exists():
        return False
    creator.delete()
    return True
