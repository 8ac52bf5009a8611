"""What an erasure of a creator covers, read live: the impact preview that the requester and the
approver see, and what the approval records.

Scope = every namespace the parse attributes to the creator (creator-wide, registry twins,
orphans), every lineage source still holding their copies (legacy namespaces copied from, and the
ids copied out of `__default__`), every backup of their data, and every migration of theirs that
is not over or that left copies (running, failed, cancelled, rolled back). The digest covers what
an approver decides on (names, kinds and counts), not when it was read: approving a page whose
scope has changed since is refused, so an approval always names what was seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils import timezone

from migrations_app.models import NamespaceMigration
from migrations_app.services import backups_for_creator
from twinadmin.audit.chain import canonical_json
from twinadmin.erasure.models import ErasureNamespace
from twinadmin.erasure.namespaces import owned_namespaces
from twinadmin.lineage.selectors import lineage_sources
from twinadmin.registry import codec
from twinadmin.registry.models import Twin
from twinadmin.vectors import get_index
from twinadmin.vectors.types import DEFAULT_NAMESPACE

Kind = ErasureNamespace.Kind


@dataclass
class ScopeEntry:
    name: str
    kind: str
    count: int  # live (eventually consistent) count of the namespace
    twin_id: str = ""
    copied_ids: int | None = None  # lineage rows: ids recorded as copied to the creator
    targets: list[str] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def others(self) -> int:
        """Lineage rows: vectors there that are not the creator's copies (they stay)."""
        return max(0, self.count - (self.copied_ids or 0))

    @property
    def erasable(self) -> int:
        """Vectors of the creator here: all of an own namespace, at most the copied ids of a
        lineage source."""
        if self.copied_ids is None:
            return self.count
        return min(self.count, self.copied_ids)


@dataclass
class Scope:
    creator_id: str
    namespaces: list[ScopeEntry]
    lineage: list[ScopeEntry]
    backups: list[dict[str, Any]]
    migrations: list[dict[str, Any]]
    read_at: str

    @property
    def total_vectors(self) -> int:
        return sum(e.erasable for e in self.namespaces + self.lineage)

    @property
    def own_vectors(self) -> int:
        """In the creator's own namespaces."""
        return sum(e.erasable for e in self.namespaces)

    @property
    def copied_vectors(self) -> int:
        """Copies of theirs in lineage sources (the same vectors a second time, mostly)."""
        return sum(e.erasable for e in self.lineage)

    def as_dict(self) -> dict[str, Any]:
        return {
            "creator_id": self.creator_id,
            "namespaces": [asdict(e) for e in self.namespaces],
            "lineage": [asdict(e) for e in self.lineage],
            "backups": self.backups,
            "migrations": self.migrations,
            "total_vectors": self.total_vectors,
            "own_vectors": self.own_vectors,
            "copied_vectors": self.copied_vectors,
        }

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.as_dict()).encode("utf-8")).hexdigest()

    def record(self) -> dict[str, Any]:
        """What the request keeps of it: the scope, when it was read, and its digest."""
        return {**self.as_dict(), "read_at": self.read_at, "digest": self.digest}


def kind_of(name: str, registry_twins: set[str]) -> str:
    parsed = codec.parse_namespace(name)
    if parsed.kind is codec.NamespaceKind.CREATOR_WIDE:
        return Kind.CREATOR_WIDE
    if parsed.twin_id in registry_twins:
        return Kind.TWIN
    return Kind.ORPHAN


def lineage_kind(name: str) -> str:
    return Kind.DEFAULT_IDS if name == DEFAULT_NAMESPACE else Kind.LEGACY_SOURCE


def erasure_scope_read(*, creator_id: str) -> Scope:
    """Read the scope now: the index through the vector layer, the rest from the database."""
    index = get_index()
    twins = set(Twin.objects.filter(creator__creator_id=creator_id).values_list("twin_id", flat=True))
    found = owned_namespaces(index, creator_id)
    names = {codec.creator_namespace(creator_id), *(codec.twin_namespace(creator_id, t) for t in twins)}
    namespaces = [
        ScopeEntry(
            name=name,
            kind=kind_of(name, twins),
            count=found.get(name, 0),
            twin_id=codec.parse_namespace(name).twin_id or "",
        )
        for name in sorted(names | found.keys())
    ]
    lineage = [
        ScopeEntry(
            name=source.namespace,
            kind=lineage_kind(source.namespace),
            count=index.namespace_count(source.namespace),
            copied_ids=source.copied_ids,
            targets=source.targets,
            runs=source.runs,
        )
        for source in lineage_sources(creator_id=creator_id)
    ]
    backups = [
        {
            "backup": str(b.pk),
            "source_namespace": b.source_namespace,
            "status": b.status,
            "vectors": b.vector_count,
            "size_bytes": b.size_bytes,
        }
        for b in backups_for_creator(creator_id=creator_id).order_by("pk")
    ]
    migrations = [
        {"run": pk, "status": status}
        # A run that cut over is in the namespaces above; the others may still write (running),
        # or left copies behind (failed, cancelled, rolled back).
        for pk, status in NamespaceMigration.objects.filter(creator_id=creator_id)
        .exclude(status=NamespaceMigration.Status.SUCCEEDED)
        .order_by("pk")
        .values_list("pk", "status")
    ]
    return Scope(
        creator_id=creator_id,
        namespaces=namespaces,
        lineage=lineage,
        backups=backups,
        migrations=migrations,
        read_at=timezone.now().isoformat(),
    )


def approved_names(erasure: Any) -> set[str] | None:
    """Namespaces (own and lineage) the approver saw; None when nothing was recorded."""
    scope = erasure.approved_scope or {}
    if not scope:
        return None
    return {e["name"] for e in scope.get("namespaces", []) + scope.get("lineage", [])}
