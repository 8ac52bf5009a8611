"""Value types of the vector layer. Plain frozen dataclasses, independent of any backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_NAMESPACE = "__default__"


def as_float32(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """A read-only 1-D float32 copy of `values`. Pinecone stores float32, so this is the one
    place precision is decided; everything downstream compares float32 exactly."""
    array = np.array(values, dtype=np.float32, copy=True)
    if array.ndim != 1:
        raise ValueError(f"vector values must be one-dimensional, got shape {array.shape}")
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Vector:
    """One record. `values` is always normalised to a read-only float32 numpy array, whatever
    sequence was passed in, so a fetched vector compares bit-exactly with what was upserted."""

    id: str
    values: np.ndarray
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if (
            not isinstance(self.values, np.ndarray)
            or self.values.dtype != np.float32
            or (self.values.flags.writeable)
        ):
            object.__setattr__(self, "values", as_float32(self.values))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vector):
            return NotImplemented
        return (
            self.id == other.id
            and self.metadata == other.metadata
            and self.values.shape == other.values.shape
            and bool(np.array_equal(self.values.view(np.uint32), other.values.view(np.uint32)))
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vector(id={self.id!r}, dim={self.values.shape[0]}, metadata={self.metadata!r})"


@dataclass(frozen=True)
class Match:
    """A query hit. `values` is None unless include_values; `metadata` is None unless
    include_metadata (or when the vector has none)."""

    id: str
    score: float
    values: np.ndarray | None = field(default=None, compare=False)
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class NamespaceInfo:
    name: str
    vector_count: int


@dataclass(frozen=True)
class IndexStats:
    """`namespaces` maps each non-empty namespace (default one as `__default__`) to its count.
    Counts are eventually consistent on Pinecone: they may lag recent writes and deletes."""

    dimension: int
    metric: str
    total_vector_count: int
    namespaces: dict[str, int]


@dataclass(frozen=True)
class IdPage:
    ids: list[str]
    next_token: str | None


@dataclass(frozen=True)
class NamespacePage:
    namespaces: list[NamespaceInfo]
    next_token: str | None
