"""The seed's legacy index, recreated deterministically: namespaces named by bare lowercase UUIDs
plus `__default__`, uneven sizes, and metadata shaped like a real RAG index (a text chunk, its
source document, chunk_index, created_at). The same arguments always give the same vectors."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from .base import VectorIndex
from .types import DEFAULT_NAMESPACE, Vector

_VOCABULARY = (
    "creator audience episode brand launch script recipe workout travel budget studio camera "
    "lighting editing caption thumbnail sponsor podcast guest interview question answer "
    "story lesson course module feedback community newsletter schedule upload channel "
    "analytics growth engagement comment reply collaboration merch pricing contract invoice "
    "tax equipment microphone setup routine morning evening productivity focus habit goal "
    "review strategy content calendar idea draft outline research source quote fact update "
    "release"
)
_WORDS = tuple(_VOCABULARY.split())
_SOURCES = ("uploads/{slug}.pdf", "uploads/{slug}.docx", "notion/{slug}", "youtube/{slug}", "web/{slug}.html")
_EPOCH = datetime(2023, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LegacySeed:
    namespaces: dict[str, list[Vector]]

    @property
    def total(self) -> int:
        return sum(len(vectors) for vectors in self.namespaces.values())


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` split into `parts` uneven positive sizes."""
    sizes = [1] * parts
    weights = [rng.lognormvariate(0, 1.0) for _ in range(parts)]
    scale = sum(weights)
    extra = total - parts
    shares = [int(extra * w / scale) for w in weights]
    for i in range(extra - sum(shares)):  # hand out the rounding remainder
        shares[i % parts] += 1
    return [s + e for s, e in zip(sizes, shares, strict=True)]


def _documents(namespace_size: int, rng: random.Random) -> list[int]:
    """Chunks per source document, summing to `namespace_size`."""
    chunks: list[int] = []
    while sum(chunks) < namespace_size:
        chunks.append(min(rng.randint(1, 24), namespace_size - sum(chunks)))
    return chunks


def generate_legacy_seed(
    *,
    namespaces: int = 30,
    vectors: int = 805,
    default_vectors: int = 376,
    dimension: int = 1536,
    seed: int = 0,
) -> LegacySeed:
    if namespaces < 1:
        raise ValueError("there must be at least one namespace (the default one)")
    named = namespaces - 1
    rest = vectors - default_vectors
    if default_vectors < 0 or rest < named or (named == 0 and rest != 0):
        raise ValueError(
            f"{vectors} vectors cannot fill {named} named namespaces plus {default_vectors} in __default__"
        )
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    names = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(named)]
    sizes = _split(rest, named, rng) if named else []
    plan = [(DEFAULT_NAMESPACE, default_vectors), *zip(names, sizes, strict=True)]
    out: dict[str, list[Vector]] = {}
    for namespace, size in plan:
        if size == 0:
            continue
        records: list[Vector] = []
        for chunk_count in _documents(size, rng):
            doc_id = f"doc-{rng.getrandbits(40):010x}"
            slug = "-".join(rng.sample(_WORDS, 3))
            source = rng.choice(_SOURCES).format(slug=slug)
            created = _EPOCH + timedelta(seconds=rng.randrange(0, 540 * 86400))
            # Chunks of one document sit near a common direction, as real embeddings do.
            centre = np_rng.standard_normal(dimension)
            for chunk_index in range(chunk_count):
                values = centre + 0.6 * np_rng.standard_normal(dimension)
                values /= np.linalg.norm(values)
                text = " ".join(rng.choices(_WORDS, k=rng.randint(40, 120))).capitalize() + "."
                records.append(
                    Vector(
                        id=f"{doc_id}#chunk-{chunk_index:03d}",
                        values=values.astype(np.float32),
                        metadata={
                            "text": text,
                            "source": source,
                            "doc_id": doc_id,
                            "chunk_index": chunk_index,
                            "created_at": (created + timedelta(seconds=chunk_index)).strftime(
                                "%Y-%m-%dT%H:%M:%SZ"
                            ),
                        },
                    )
                )
        out[namespace] = records
    return LegacySeed(out)


def legacy_index_seed(*, index: VectorIndex, seed_data: LegacySeed) -> dict[str, int]:
    """Write the seed through the vector layer. Upserts are idempotent, so a re-run after a
    crash simply completes it."""
    written: dict[str, int] = {}
    for namespace, records in seed_data.namespaces.items():
        written[namespace] = index.upsert(namespace, records)
    return written
