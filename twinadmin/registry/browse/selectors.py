"""Reads of the vector browser: which namespace is browsed (and whose it is), a page of its ids,
and one vector made readable. Index failures are translated here into BrowseError, whose
`status` the view answers with (400 bad input, 404 absent, 503 the index failing)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinadmin.registry import codec
from twinadmin.registry.codec import NamespaceKind
from twinadmin.registry.models import Creator, IndexNamespace, Twin
from twinadmin.vectors import IdPage, InvalidRequest, NotFound, Vector, VectorError, VectorIndex, get_index

PAGE_SIZE = 50  # ids per page; Pinecone lists at most 100 at a time
HEAD_VALUES = 8  # dense values (and sparse entries) shown of a vector
LONG_TEXT = 160  # characters beyond which a text field is folded
LONG_LIST = 12  # items beyond which a list field is folded


class BrowseError(Exception):
    status = 400


class BrowseNotFound(BrowseError):
    status = 404


class BrowseUnavailable(BrowseError):
    status = 503


@dataclass(frozen=True)
class BrowsedNamespace:
    """A namespace with what the registry knows of it: owner by parse (never by prefix), the
    twin it is (or, for a legacy namespace, the twin migrated from it), the last observed count."""

    name: str
    kind: NamespaceKind
    creator: Creator | None
    twin: Twin | None
    observed: IndexNamespace | None

    @property
    def must_be_gone(self) -> bool:
        """An erased creator's or a deleted twin's own namespace should hold nothing: whatever the
        index still shows there is a leftover the drift report raises as an alarm."""
        if self.kind not in (NamespaceKind.CREATOR_WIDE, NamespaceKind.TWIN):
            return False
        if self.creator is not None and self.creator.status == Creator.Status.ERASED:
            return True
        return (
            self.kind == NamespaceKind.TWIN
            and self.twin is not None
            and self.twin.status == Twin.Status.DELETED
        )

    @property
    def search_creator(self) -> Creator | None:
        """The creator whose twins "find similar" searches: the owner by parse, or the creator of
        the twin migrated from this legacy namespace. None when there is none, or it is erased
        (search refuses erased creators): the search home then asks which creator."""
        creator = self.creator or (self.twin.creator if self.twin is not None else None)
        if creator is None or creator.status == Creator.Status.ERASED or self.must_be_gone:
            return None
        return creator


def namespace_get(*, name: str) -> BrowsedNamespace:
    """`name` was checked by the form against the index's rules; "" is the default namespace."""
    parsed = codec.parse_namespace(name or codec.DEFAULT_NAMESPACE)
    name = parsed.name or codec.DEFAULT_NAMESPACE
    creator = twin = None
    if parsed.creator_id is not None:
        creator = Creator.objects.filter(creator_id=parsed.creator_id).first()
    if parsed.kind == NamespaceKind.TWIN and creator is not None:
        twin = Twin.objects.select_related("creator").filter(creator=creator, twin_id=parsed.twin_id).first()
    elif parsed.kind == NamespaceKind.LEGACY_UUID:
        twin = Twin.objects.select_related("creator").filter(legacy_namespace=name).first()
    observed = IndexNamespace.objects.filter(name=name).first()
    return BrowsedNamespace(name=name, kind=parsed.kind, creator=creator, twin=twin, observed=observed)


def _translated(exc: VectorError, what: str) -> BrowseError:
    if isinstance(exc, NotFound):
        return BrowseNotFound(f"{what}: not in the index.")
    if isinstance(exc, InvalidRequest):
        return BrowseError(f"{what}: the index refused the request ({exc}).")
    return BrowseUnavailable(f"{what}: the index did not answer ({exc}). Try again in a moment.")


def id_page(
    namespace: BrowsedNamespace, *, prefix: str = "", token: str = "", index: VectorIndex | None = None
) -> IdPage:
    """One page of ids in id order, from the index itself (the listing sees writes at once,
    where counts lag). An empty first page of a namespace the index does not have is a 404."""
    what = f"Namespace {namespace.name!r}"
    try:
        index = index or get_index()
        page = index.list_ids(
            namespace.name, prefix=prefix or None, limit=PAGE_SIZE, pagination_token=token or None
        )
        if not page.ids and not prefix and not token:
            index.describe_namespace(namespace.name)  # NotFound when it does not exist at all
    except VectorError as exc:
        raise _translated(exc, what) from exc
    return page


# -- one vector, made readable --------------------------------------------------------------------


@dataclass(frozen=True)
class MetadataField:
    key: str
    kind: str  # "text", "number", "bool", "list"
    text: str = ""  # the value as shown (text, number, bool)
    items: list[str] = field(default_factory=list)  # a list's strings

    @property
    def is_long(self) -> bool:
        """Long fields are folded (<details>) so the short ones stay on one screen."""
        return len(self.text) > LONG_TEXT or "\n" in self.text or len(self.items) > LONG_LIST

    @property
    def preview(self) -> str:
        if self.kind == "list":
            return ", ".join(self.items[:3]) + "…"
        first_line = self.text.split("\n", 1)[0]
        return first_line[:100] + "…"

    @property
    def size(self) -> str:
        if self.kind == "list":
            return f"{len(self.items)} items"
        return f"{len(self.text):,} characters"


@dataclass(frozen=True)
class DenseSummary:
    dimension: int
    head: list[float]
    norm: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class SparseSummary:
    entries: int
    head: list[tuple[int, float]]  # (index, weight) in stored order
    max_index: int
    norm: float


@dataclass(frozen=True)
class VectorView:
    id: str
    namespace: str
    fields: list[MetadataField]
    dense: DenseSummary | None
    sparse: SparseSummary | None

    @property
    def short_fields(self) -> list[MetadataField]:
        return [f for f in self.fields if not f.is_long]

    @property
    def long_fields(self) -> list[MetadataField]:
        return [f for f in self.fields if f.is_long]


def _number(value: float) -> str:
    # Pinecone keeps every metadata number as a double: 3.0 was most likely written as 3.
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def metadata_fields(metadata: dict[str, Any] | None) -> list[MetadataField]:
    rows = []
    for key in sorted(metadata or {}):
        value = (metadata or {})[key]
        if isinstance(value, bool):
            rows.append(MetadataField(key, "bool", "true" if value else "false"))
        elif isinstance(value, int | float):
            rows.append(MetadataField(key, "number", _number(float(value))))
        elif isinstance(value, list):
            rows.append(MetadataField(key, "list", items=[str(item) for item in value]))
        else:
            rows.append(MetadataField(key, "text", str(value)))
    return rows


def vector_view(vector: Vector, namespace: str) -> VectorView:
    dense = None
    if vector.values.size:
        values = vector.values.astype(np.float64)
        dense = DenseSummary(
            dimension=int(values.shape[0]),
            head=[float(v) for v in vector.values[:HEAD_VALUES]],
            norm=float(np.linalg.norm(values)),
            minimum=float(values.min()),
            maximum=float(values.max()),
        )
    sparse = None
    if vector.sparse_values is not None and len(vector.sparse_values):
        sv = vector.sparse_values
        sparse = SparseSummary(
            entries=len(sv),
            head=[
                (int(i), float(w))
                for i, w in zip(sv.indices[:HEAD_VALUES], sv.values[:HEAD_VALUES], strict=True)
            ],
            max_index=int(sv.indices.max()),
            norm=float(np.linalg.norm(sv.values.astype(np.float64))),
        )
    return VectorView(vector.id, namespace, metadata_fields(vector.metadata), dense, sparse)


def vector_get(
    namespace: BrowsedNamespace, *, vector_id: str, index: VectorIndex | None = None
) -> VectorView:
    try:
        index = index or get_index()
        found = index.fetch(namespace.name, [vector_id]).get(vector_id)
    except VectorError as exc:
        raise _translated(exc, f"Vector {vector_id!r} in {namespace.name!r}") from exc
    if found is None:
        raise BrowseNotFound(f"There is no vector {vector_id!r} in namespace {namespace.name!r}.")
    return vector_view(found, namespace.name)
