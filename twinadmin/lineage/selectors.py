"""Reads of lineage: what a creator's copies came from, which ids, and who else holds a source."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q

from twinadmin.lineage.models import Lineage, LineageVector
from twinadmin.vectors.base import VectorIndex
from twinadmin.vectors.errors import NotFound

ID_CHUNK = 1000  # Pinecone deletes at most 1000 ids per request


@dataclass
class LineageSource:
    """One namespace outside the creator's layout that holds (or held) copies of their vectors."""

    namespace: str
    copied_ids: int  # distinct ids recorded over every copy from this namespace
    targets: list[str] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    erased: bool = False  # every copy from here was verified erased


def lineage_sources(*, creator_id: str) -> list[LineageSource]:
    """Every source namespace of the creator's copies, erased ones included (erasure is
    idempotent: a retried request checks them again)."""
    rows = list(
        Lineage.objects.filter(creator_id=creator_id).values(
            "source_namespace", "target_namespace", "run_id", "erased_at"
        )
    )
    by_source: dict[str, LineageSource] = {}
    for row in rows:
        source = by_source.setdefault(
            row["source_namespace"],
            LineageSource(namespace=row["source_namespace"], copied_ids=0, erased=True),
        )
        if row["target_namespace"] and row["target_namespace"] not in source.targets:
            source.targets.append(row["target_namespace"])
        if row["run_id"] and row["run_id"] not in source.runs:
            source.runs.append(row["run_id"])
        source.erased = source.erased and row["erased_at"] is not None
    if not by_source:
        return []
    counts = (
        LineageVector.objects.filter(lineage__creator_id=creator_id)
        .values("lineage__source_namespace")
        .annotate(n=Count("vector_id", distinct=True))
    )
    for source_namespace, n in counts.values_list("lineage__source_namespace", "n"):
        by_source[source_namespace].copied_ids = n
    return [by_source[name] for name in sorted(by_source)]


def lineage_id_chunks(*, creator_id: str, source_namespace: str, size: int = ID_CHUNK) -> Iterator[list[str]]:
    """The distinct ids copied from `source_namespace` for the creator, in chunks, in id order."""
    ids = (
        LineageVector.objects.filter(
            lineage__creator_id=creator_id, lineage__source_namespace=source_namespace
        )
        .order_by("vector_id")
        .values_list("vector_id", flat=True)
        .distinct()
    )
    chunk: list[str] = []
    for vector_id in ids.iterator(chunk_size=5000):
        chunk.append(vector_id)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class Holder:
    creator_id: str
    run_id: int | None
    target_namespace: str


def lineage_holders(names: Iterable[str]) -> dict[str, list[Holder]]:
    """Namespace -> the creators whose (not erased) copies came from it, newest run first."""
    held: dict[str, list[Holder]] = {}
    rows = (
        Lineage.objects.filter(
            source_namespace__in=set(names), erased_at__isnull=True, kind=Lineage.Kind.MIGRATION
        )
        .values("source_namespace", "creator_id", "run_id", "target_namespace")
        .annotate(last=Max("id"))
        .order_by("-last")
    )
    for row in rows:
        held.setdefault(row["source_namespace"], []).append(
            Holder(
                creator_id=row["creator_id"], run_id=row["run_id"], target_namespace=row["target_namespace"]
            )
        )
    return held


def lineage_for_targets(*, creator_id: str, targets: Iterable[str] | None = None) -> list[Lineage]:
    """The creator's copies (for the creator and twin pages), optionally only into `targets`."""
    query = Lineage.objects.filter(creator_id=creator_id)
    if targets is not None:
        query = query.filter(Q(target_namespace__in=set(targets)))
    return list(query.select_related("run").order_by("source_namespace", "-created_at"))


@dataclass(frozen=True)
class LineageRow:
    """One copy as the creator and twin pages show it."""

    lineage: Lineage
    source_count: int | None  # the source's count in the stored index snapshot; None = absent

    @property
    def source_state(self) -> str:
        if self.lineage.erased_at is not None:
            return "erased"
        return "in the index" if self.source_count is not None else "deleted"


def lineage_page_rows(*, creator_id: str, target: str | None = None) -> list[LineageRow]:
    """The creator's copies (or those into one target) with the source's presence as the
    stored snapshot has it: two queries, whatever the number of copies."""
    from twinadmin.registry.models import IndexNamespace

    copies = lineage_for_targets(creator_id=creator_id, targets=None if target is None else [target])
    present = dict(
        IndexNamespace.objects.filter(name__in={c.source_namespace for c in copies}).values_list(
            "name", "vector_count"
        )
    )
    return [LineageRow(lineage=c, source_count=present.get(c.source_namespace)) for c in copies]


def lineage_copied_ids(*, creator_id: str, source_namespace: str) -> set[str]:
    """Every id copied from `source_namespace` to the creator, as a set."""
    return {
        i
        for chunk in lineage_id_chunks(creator_id=creator_id, source_namespace=source_namespace)
        for i in chunk
    }


def listed_ids(index: VectorIndex, namespace: str) -> list[str]:
    """The namespace's ids by listing (ids only, no values); none when it does not exist."""
    try:
        return [i for page in index.iter_id_pages(namespace) for i in page]
    except NotFound:
        return []


def lineage_split(index: VectorIndex, namespace: str, copied: set[str]) -> tuple[list[str], int]:
    """What `namespace` lists now (read live, ids only): the ids among `copied` (the creator's
    copies), in listing order, and how many other vectors it holds."""
    listed = listed_ids(index, namespace)
    present = [i for i in listed if i in copied]
    return present, len(listed) - len(present)


def lineage_copies_present(index: VectorIndex, *, creator_id: str, source_namespace: str) -> int:
    """How many of the creator's copied ids `source_namespace` still lists (read live)."""
    copied = lineage_copied_ids(creator_id=creator_id, source_namespace=source_namespace)
    return len(lineage_split(index, source_namespace, copied)[0])


def lineage_unerased_of(creator_ids) -> list[tuple[str, str]]:
    """(creator, source) pairs of these creators whose copies were not verified erased."""
    return list(
        Lineage.objects.filter(creator_id__in=creator_ids, erased_at__isnull=True)
        .order_by("creator_id", "source_namespace")
        .values_list("creator_id", "source_namespace")
        .distinct()
    )
