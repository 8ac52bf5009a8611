"""Discovery and plans: what the index holds, and what a migration onto a creator would do.

Everything here reads (the index through the vector layer, the registry through the ORM) and
writes nothing: a dry run is exactly `plan_build`. Saving a plan (services.migration_create)
builds it again just before the transaction that writes the rows and refuses when it has
conflicts; a run planned meanwhile on the same namespaces is stopped by the partial unique
constraints on active items (one active run per source, per target), not by this module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.text import slugify

from migrations_app import checksums
from migrations_app.models import MigrationItem, NamespaceMigration
from twinadmin.lineage.selectors import lineage_holders
from twinadmin.registry import codec
from twinadmin.registry.codec import NamespaceKind
from twinadmin.registry.models import Creator, Twin
from twinadmin.vectors import DEFAULT_NAMESPACE, VectorIndex

Policy = NamespaceMigration.DefaultPolicy
Naming = NamespaceMigration.Naming
MIGRATABLE = (NamespaceKind.LEGACY_UUID, NamespaceKind.DEFAULT)
# Namespace used to derive the default namespace's twin id under the uuid policy: the same plan
# previews the same id (a dry run and the real run agree).
_DEFAULT_TWIN_UUID_NAMESPACE = uuid.UUID("6f1a2b6e-4d0c-4f5e-9a51-7d0b8a3c2e11")


class PlanError(ValueError):
    """Bad input for a plan: a clear message, nothing written."""


@dataclass
class DiscoveredNamespace:
    name: str
    count: int
    kind: str
    creator_id: str = ""
    twin_id: str = ""
    mapped_twin: str = ""  # the registry twin this namespace is (or was migrated into)

    @property
    def migratable(self) -> bool:
        return self.kind in MIGRATABLE


def discover(index: VectorIndex) -> list[DiscoveredNamespace]:
    """All non-empty namespaces with counts, classified by the codec and joined to the
    registry: a legacy namespace shows the twin it was mapped onto, a twin namespace whether the
    registry knows it."""
    rows = []
    for info in index.iter_namespaces():
        parsed = codec.parse_namespace(info.name)
        rows.append(
            DiscoveredNamespace(
                name=info.name,
                count=info.vector_count,
                kind=parsed.kind.value,
                creator_id=parsed.creator_id or "",
                twin_id=parsed.twin_id or "",
            )
        )
    legacy = {r.name for r in rows if r.kind == NamespaceKind.LEGACY_UUID}
    by_legacy = {
        t.legacy_namespace: t
        for t in Twin.objects.select_related("creator").filter(legacy_namespace__in=legacy)
    }
    twin_keys = {(r.creator_id, r.twin_id) for r in rows if r.kind == NamespaceKind.TWIN}
    known = set(
        Twin.objects.filter(creator__creator_id__in={c for c, _ in twin_keys}).values_list(
            "creator__creator_id", "twin_id"
        )
    )
    # `__default__` (and any legacy namespace) copied by a migration that finished shows where
    # its copy went, as recorded by lineage; a legacy namespace's twin says so too.
    copied = _copied_by_finished_runs({r.name for r in rows if r.migratable})
    for row in rows:
        if row.name in by_legacy:
            row.mapped_twin = by_legacy[row.name].namespace
        elif (row.creator_id, row.twin_id) in known:
            row.mapped_twin = row.name
        elif row.name in copied:
            row.mapped_twin = copied[row.name]
    return rows


def _copied_by_finished_runs(names: set[str]) -> dict[str, str]:
    """Source namespace -> the target its copy went to, for runs that cut over."""
    if not names:
        return {}
    succeeded = set(
        NamespaceMigration.objects.filter(status=NamespaceMigration.Status.SUCCEEDED).values_list(
            "pk", flat=True
        )
    )
    found: dict[str, str] = {}
    for name, holders in lineage_holders(names).items():
        for holder in holders:
            if holder.run_id in succeeded and holder.target_namespace:
                found.setdefault(name, holder.target_namespace)
    return found


@dataclass
class PlanRow:
    source: str
    source_count: int
    action: str  # MigrationItem.Action
    target: str = ""
    target_kind: str = ""
    twin_id: str = ""
    twin_name: str = ""
    twin_naming: str = ""
    target_count: int = 0
    conflicts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "target": self.target or None,
            "action": self.action,
            "source_count": self.source_count,
            "target_count": self.target_count,
            "conflicts": list(self.conflicts),
        }


@dataclass
class Plan:
    creator_id: str
    creator_exists: bool
    naming: str
    default_policy: str
    delete_source: bool
    dimension: int = 0
    metric: str = ""
    rows: list[PlanRow] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # namespaces deliberately left as they are
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not any(row.conflicts for row in self.rows)

    @property
    def problems(self) -> list[str]:
        return self.errors + [f"{row.source}: {c}" for row in self.rows for c in row.conflicts]

    @property
    def twin_count(self) -> int:
        return sum(1 for r in self.rows if r.target_kind == MigrationItem.TargetKind.TWIN)

    @property
    def vector_count(self) -> int:
        return sum(r.source_count for r in self.rows)


def _twin_name(source: str) -> str:
    return "default" if source == DEFAULT_NAMESPACE else f"legacy {source[:8].lower()}"


class _TwinIds:
    """Predicts the ids twin_create would hand out under a policy, counting the ones this plan
    already took, so the preview names the real targets."""

    def __init__(self, creator: Creator | None, naming: str) -> None:
        self.naming = naming
        self.taken = (
            set(Twin.objects.filter(creator=creator).values_list("twin_id", flat=True)) if creator else set()
        )
        self.sequence = creator.twin_sequence if creator else 0

    def next(self, *, creator_id: str, source: str, name: str) -> tuple[str, str]:
        """(twin_id, registry naming value)."""
        if self.naming == Naming.SEQUENTIAL:
            while True:
                self.sequence += 1
                candidate = f"{self.sequence:03d}"
                if candidate not in self.taken:
                    break
            result = (candidate, Twin.Naming.SEQUENTIAL)
        elif self.naming == Naming.SEMANTIC:
            base = slugify(name).replace("_", "-").strip("-.")[: codec.MAX_ID_LENGTH].strip("-.")
            candidate, n = base, 1
            while candidate in self.taken:
                n += 1
                suffix = f"-{n}"
                candidate = base[: codec.MAX_ID_LENGTH - len(suffix)].rstrip("-.") + suffix
            result = (candidate, Twin.Naming.SEMANTIC)
        elif source == DEFAULT_NAMESPACE:
            twin_uuid = uuid.uuid5(_DEFAULT_TWIN_UUID_NAMESPACE, creator_id)
            result = (str(twin_uuid), Twin.Naming.UUID)
        else:
            # The legacy UUID itself, lowercased: creator_{id}_twin_{uuid}.
            result = (source.lower(), Twin.Naming.LEGACY)
        self.taken.add(result[0])
        return result


def target_conflict(index: VectorIndex, *, source: str, target: str) -> str:
    """Why `target` cannot receive `source`, or "" when it can: it must be empty or hold only
    vectors identical to the source's (an earlier partial copy of this very source)."""
    foreign = 0
    example = ""
    for ids in index.iter_id_pages(target):
        theirs = index.fetch(target, ids)
        ours = index.fetch(source, ids)
        for vector_id, vector in theirs.items():
            mine = ours.get(vector_id)
            if mine is None or checksums.vector_digest(mine) != checksums.vector_digest(vector):
                foreign += 1
                example = example or vector_id
        if foreign:
            break  # one page of evidence is enough to refuse
    if foreign:
        return f"target {target} already holds vectors not from this source (e.g. id {example!r})"
    return ""


def _active_holders(names: Iterable[str]) -> dict[str, int]:
    """Namespace -> id of the active run that holds it (as source or target)."""
    names = set(names)
    held: dict[str, int] = {}
    active = MigrationItem.objects.filter(active=True)
    for source, run_id in active.filter(source_namespace__in=names).values_list("source_namespace", "run_id"):
        held[source] = run_id
    for target, run_id in active.filter(target_namespace__in=names).values_list("target_namespace", "run_id"):
        held[target] = run_id
    return held


def plan_build(
    *,
    index: VectorIndex,
    creator_id: str,
    namespaces: list[str] | None = None,
    default_policy: str = Policy.CREATOR,
    naming: str = Naming.UUID,
    delete_source: bool = False,
    create_creator: bool = False,
) -> Plan:
    """The preview of a migration. Raises PlanError for input that makes no plan at all
    (invalid creator id, unknown policy); everything else is reported on the plan."""
    _check_input(creator_id=creator_id, default_policy=default_policy, naming=naming)
    creator = Creator.objects.filter(creator_id=creator_id).first()
    plan = Plan(
        creator_id=creator_id,
        creator_exists=creator is not None,
        naming=naming,
        default_policy=default_policy,
        delete_source=delete_source,
    )
    _check_creator(plan, creator, create_creator=create_creator)
    _record_index_shape(plan, index)
    selected = _selected_sources(plan, index, namespaces)
    ids = _TwinIds(creator, naming)
    for source in selected:
        if source.kind == NamespaceKind.DEFAULT and default_policy == Policy.KEEP:
            plan.kept.append(source.name)
            continue
        plan.rows.append(_plan_row(plan, source, ids))

    _check_conflicts(plan, index, creator)
    if not plan.rows and not plan.errors:
        plan.errors.append("Nothing to migrate: no legacy namespaces selected.")
    return plan


def _check_input(*, creator_id: str, default_policy: str, naming: str) -> None:
    try:
        codec.validate_creator_id(creator_id)
    except codec.InvalidId as exc:
        raise PlanError(str(exc)) from None
    if default_policy not in Policy.values:
        raise PlanError(
            f"Unknown default-namespace policy {default_policy!r}: one of {', '.join(Policy.values)}."
        )
    if naming not in Naming.values:
        raise PlanError(f"Unknown naming policy {naming!r}: one of {', '.join(Naming.values)}.")


def _check_creator(plan: Plan, creator: Creator | None, *, create_creator: bool) -> None:
    creator_id = plan.creator_id
    if creator is None and not create_creator:
        plan.errors.append(f"Creator {creator_id!r} does not exist; confirm that it should be created.")
    elif creator is not None and creator.status != Creator.Status.ACTIVE:
        plan.errors.append(f"Creator {creator_id!r} is {creator.status}; nothing can be migrated onto it.")


def _record_index_shape(plan: Plan, index: VectorIndex) -> None:
    """The plan shows the index's dimension and metric. Nothing to check: they come from the
    index itself (with VECTOR_BACKEND=pinecone, from describe_index), never from settings."""
    stats = index.describe_index_stats()
    plan.dimension, plan.metric = stats.dimension, stats.metric


def _selected_sources(
    plan: Plan, index: VectorIndex, namespaces: list[str] | None
) -> list[DiscoveredNamespace]:
    """The migratable namespaces named (each unknown or unmigratable one an error on the plan),
    or every migratable one; `__default__` first, then by name."""
    discovered = {row.name: row for row in discover(index)}
    if namespaces:
        selected = []
        for name in dict.fromkeys(n.strip() for n in namespaces if n.strip()):
            name = DEFAULT_NAMESPACE if name == "" else name
            row = discovered.get(name)
            if row is None:
                count = index.namespace_count_settled(name)  # lists lag writes on Pinecone; ask directly
                if not count:
                    plan.errors.append(f"Unknown namespace {name!r}: the index holds no such namespace.")
                    continue
                parsed = codec.parse_namespace(name)
                row = DiscoveredNamespace(name=name, count=count, kind=parsed.kind.value)
            if not row.migratable:
                plan.errors.append(
                    f"Namespace {name!r} is {row.kind}; only legacy UUID namespaces and "
                    f"{DEFAULT_NAMESPACE} can be migrated."
                )
                continue
            selected.append(row)
    else:
        selected = [row for row in discovered.values() if row.migratable]
    selected.sort(key=lambda r: (r.kind != NamespaceKind.DEFAULT, r.name))
    return selected


def _plan_row(plan: Plan, source: DiscoveredNamespace, ids: _TwinIds) -> PlanRow:
    """What happens to one source under the plan's policies (a kept `__default__` has no row)."""
    is_default = source.kind == NamespaceKind.DEFAULT
    row = PlanRow(source=source.name, source_count=source.count, action=MigrationItem.Action.COPY)
    if is_default and plan.default_policy == Policy.DELETE:
        row.action = MigrationItem.Action.DELETE
    elif is_default and plan.default_policy == Policy.CREATOR:
        row.target = codec.creator_namespace(plan.creator_id)
        row.target_kind = MigrationItem.TargetKind.CREATOR_WIDE
    else:
        row.twin_name = _twin_name(source.name)
        row.twin_id, row.twin_naming = ids.next(
            creator_id=plan.creator_id, source=source.name, name=row.twin_name
        )
        try:
            row.target = codec.twin_namespace(plan.creator_id, row.twin_id)
        except codec.InvalidId as exc:
            row.conflicts.append(f"no valid twin id for this target: {exc}")
        row.target_kind = MigrationItem.TargetKind.TWIN
    if source.mapped_twin:
        if codec.parse_namespace(source.mapped_twin).kind is NamespaceKind.TWIN:
            row.conflicts.append(f"already mapped to twin {source.mapped_twin}")
        else:
            row.conflicts.append(f"already copied to {source.mapped_twin}")
    return row


def _check_conflicts(plan: Plan, index: VectorIndex, creator: Creator | None) -> None:
    targets: dict[str, str] = {}
    for row in plan.rows:
        if row.target:
            if row.target in targets:
                row.conflicts.append(
                    f"two sources onto one target: {targets[row.target]} also maps to {row.target}"
                )
            targets.setdefault(row.target, row.source)
    if creator is not None:
        registered = set(
            Twin.objects.filter(
                creator=creator, twin_id__in=[r.twin_id for r in plan.rows if r.twin_id]
            ).values_list("twin_id", flat=True)
        )
        for row in plan.rows:
            if row.twin_id in registered:
                row.conflicts.append(f"twin {row.twin_id} is already registered for {plan.creator_id}")
    # One legacy vector belongs to one creator: a source whose copies are recorded for another
    # creator (not erased) is refused, whatever became of that run (a rollback keeps the
    # attribution, so that erasing that creator still finds the source).
    for source, holders in lineage_holders([r.source for r in plan.rows]).items():
        others = [h for h in holders if h.creator_id != plan.creator_id]
        if others:
            row = next(r for r in plan.rows if r.source == source)
            row.conflicts.append(
                f"{source} was copied to creator {others[0].creator_id} (run {others[0].run_id}); "
                "its vectors are attributed to that creator until that creator is erased"
            )
    held = _active_holders([r.source for r in plan.rows] + [r.target for r in plan.rows if r.target])
    for row in plan.rows:
        for name in (row.source, row.target):
            if name and name in held:
                row.conflicts.append(f"run {held[name]} is active on {name}")
    if plan.errors:
        return  # no point reading targets for a plan that cannot run
    for row in plan.rows:
        if not row.target:
            continue
        row.target_count = index.namespace_count_settled(row.target)
        if row.target_count:
            problem = target_conflict(index, source=row.source, target=row.target)
            if problem:
                row.conflicts.append(problem)
