"""Memory is bounded whatever the namespace size: backup, copy and verify hold a few batches at
a time, so eight times the vectors must not mean more peak memory (Python allocations, traced)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from migrations_app.services import migration_create
from tests.migrations_app.helpers import run_phases
from tests.support.seed import CREATOR
from twinadmin.vectors import Vector, get_index

pytestmark = pytest.mark.django_db
DIM = 256
SOURCES = {
    200: "5a5a5a5a-0000-4c3a-9e0e-3c1f2a4b5d6e",
    1_000: "0b9f7ac2-1111-4c3a-9e0e-3c1f2a4b5d6e",
    8_000: "7d3e1a90-2222-4c3a-9e0e-3c1f2a4b5d6e",
}


def _peak_bytes(size: int) -> int:
    index = get_index()
    rng = np.random.default_rng(size)
    for start in range(0, size, 1000):
        n = min(1000, size - start)
        values = rng.standard_normal((n, DIM)).astype(np.float32)
        batch = [Vector(f"v{start + i:06d}", values[i], {"i": start + i}) for i in range(n)]
        index.upsert(SOURCES[size], batch)
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[SOURCES[size]])
    tracemalloc.start()
    try:
        for phase in ("backup", "copy", "verify"):
            assert run_phases(run, phase)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_namespace(creator, settings):
    settings.VECTOR_DIMENSION = DIM
    settings.MIGRATION_BATCH_SIZE = 100

    _peak_bytes(200)  # one-time allocations (imports, caches) out of the way first
    small, large = _peak_bytes(1_000), _peak_bytes(8_000)

    values_mb = 8_000 * DIM * 4 / 2**20  # the large namespace's raw float32 values: 7.8 MB
    assert (large - small) / 2**20 < 1.0, (small, large)
    # Beside the batches, a fixed cost that does not grow with the namespace (the assertion
    # above): each of the two encrypted streams written (data, digests) holds up to a 64 KiB
    # segment of plaintext and its sealed copy, and the reader a row group's ciphertext and
    # plaintext. Measured 2.3-2.6 MB in all here, against 1.95 MB for a quarter of the values.
    fixed_mb = 1.0
    assert large / 2**20 < values_mb / 4 + fixed_mb, (large, values_mb)
