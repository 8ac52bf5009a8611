"""Local store figures: query against the numpy floor, and the reads and writes a migration makes.

    .venv/bin/python bench/local_store_bench.py [--vectors 100000] [--dimension 1536]
                                                [--queries 50] [--cache-mb 1024] [--keep DIR]

Builds one namespace of seeded random vectors (metadata {"i", "parity"}) in a temporary store
file, then runs each phase in a fresh process so each one's peak RSS is its own:
- write: `upsert` in batches of 1000 (as a migration's copy step writes), vectors/s and MB/s;
- read: `list_ids` over the whole namespace (pages of 100) and `fetch` in batches of 1000;
- query: a fresh `LocalStore`: the first (cold) query loads the namespace's matrix; filtered
  queries; then warm queries interleaved one for one with the numpy floor (a preloaded
  normalised float32 matrix, one matrix-vector product and a top-10: the figure the store is
  measured against), p50/p95 over --queries queries and the per-query ratio; a query right
  after a one-vector write (reload); the same query with the cache off (the bounded scan every
  query paid before the cache).
Each process reports its peak RSS (VmHWM; the query process before it loads the floor's own
copy). Smaller sizes for a quick run: --vectors 10000.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAMESPACE = "bench"
BATCH = 1000
TOP_K = 10


def rss_mb(field: str = "VmHWM") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def batch_vectors(start: int, count: int, dimension: int) -> list:
    from twinadmin.vectors import Vector

    rng = np.random.default_rng(start)  # seeded per batch: any batch can be rebuilt alone
    values = rng.standard_normal((count, dimension), dtype=np.float32)
    return [
        Vector(f"v-{i:07d}", values[i - start], {"i": i, "parity": "odd" if i % 2 else "even"})
        for i in range(start, start + count)
    ]


def queries(count: int, dimension: int) -> np.ndarray:
    return np.random.default_rng(10**9).standard_normal((count, dimension), dtype=np.float32)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] * 1000,
    }


def phase_write(path: str, vectors: int, dimension: int, cache_mb: float) -> dict:
    from twinadmin.vectors.local import LocalStore

    store = LocalStore(path, dimension=dimension, metric="cosine", cache_mb=cache_mb)
    spent = 0.0
    for start in range(0, vectors, BATCH):
        batch = batch_vectors(start, min(BATCH, vectors - start), dimension)
        began = time.perf_counter()
        store.upsert(NAMESPACE, batch)
        spent += time.perf_counter() - began
    return {"upsert_s": spent, "upsert_vps": vectors / spent, "rss_peak_mb": rss_mb()}


def phase_read(path: str, vectors: int, dimension: int, cache_mb: float) -> dict:
    from twinadmin.vectors.local import LocalStore

    store = LocalStore(path, cache_mb=cache_mb)
    began = time.perf_counter()
    ids: list[str] = []
    token = None
    while True:
        page = store.list_ids(NAMESPACE, limit=100, pagination_token=token)
        ids.extend(page.ids)
        token = page.next_token
        if token is None:
            break
    listed = time.perf_counter() - began
    assert len(ids) == vectors, (len(ids), vectors)
    began = time.perf_counter()
    fetched = 0
    for start in range(0, len(ids), BATCH):
        fetched += len(store.fetch(NAMESPACE, ids[start : start + BATCH]))
    fetch_s = time.perf_counter() - began
    assert fetched == vectors
    return {
        "list_s": listed,
        "list_ids_per_s": vectors / listed,
        "fetch_s": fetch_s,
        "fetch_vps": vectors / fetch_s,
        "fetch_mb_s": vectors * dimension * 4 / 1e6 / fetch_s,
        "rss_peak_mb": rss_mb(),
    }


def floor_matrix(path: str, vectors: int, dimension: int) -> np.ndarray:
    """The namespace as one normalised float32 matrix, read straight from the file."""
    import sqlite3

    conn = sqlite3.connect(path)
    matrix = np.empty((vectors, dimension), dtype=np.float32)
    cursor = conn.execute("SELECT vals FROM vectors WHERE namespace = ?", (NAMESPACE,))
    row = 0
    while rows := cursor.fetchmany(4096):
        block = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.float32).reshape(len(rows), dimension)
        matrix[row : row + len(rows)] = block / np.linalg.norm(block, axis=1, keepdims=True)
        row += len(rows)
    conn.close()
    return matrix


def floor_query(matrix: np.ndarray, query: np.ndarray) -> float:
    """numpy's best on a preloaded matrix: one matrix-vector product and a top-10."""
    began = time.perf_counter()
    scores = matrix @ (query / np.linalg.norm(query))
    best = np.argpartition(-scores, TOP_K - 1)[:TOP_K]
    best[np.argsort(-scores[best])]
    return time.perf_counter() - began


def timed_query(store, query: np.ndarray, **kwargs) -> tuple[float, list]:
    began = time.perf_counter()
    matches = store.query(NAMESPACE, vector=query, top_k=TOP_K, include_metadata=False, **kwargs)
    return time.perf_counter() - began, matches


def phase_store(path: str, vectors: int, dimension: int, count: int, cache_mb: float) -> dict:
    from twinadmin.vectors.local import LocalStore

    store = LocalStore(path, cache_mb=cache_mb)
    probes = queries(count, dimension)
    cold, _ = timed_query(store, probes[0])
    cached = store.matrix_cache.nbytes
    filtered = [timed_query(store, query, filter={"parity": "odd"})[0] for query in probes[:10]]
    rss_store = rss_mb()
    # The floor in the same process, interleaved query by query with the store's warm query, so
    # both see the same machine (this one is shared and its load varies by the minute).
    matrix = floor_matrix(path, vectors, dimension)
    warm, floor = [], []
    for query in probes:
        warm.append(timed_query(store, query)[0])
        floor.append(floor_query(matrix, query))
    del matrix
    store.upsert(NAMESPACE, batch_vectors(0, 1, dimension))  # rewrite one vector: version moves
    after_write, _ = timed_query(store, probes[0])
    uncached_store = LocalStore(path, cache_mb=0)
    uncached = [timed_query(uncached_store, query)[0] for query in probes[:3]]
    # The cached answer is the scan's answer.
    cached_ids = [m.id for m in timed_query(store, probes[1])[1]]
    assert cached_ids == [m.id for m in timed_query(uncached_store, probes[1])[1]]
    return {
        "cold_ms": cold * 1000,
        "cache_mb": cached / 2**20,
        "warm": percentiles(warm),
        "floor": percentiles(floor),
        "ratios": sorted(w / f for w, f in zip(warm, floor, strict=True)),
        "filtered": percentiles(filtered),
        "after_write_ms": after_write * 1000,
        "uncached": percentiles(uncached),
        "rss_store_mb": rss_store,
    }


PHASES = {"write": phase_write, "read": phase_read}


def run_phase(args: argparse.Namespace, phase: str, path: str) -> dict:
    command = [
        sys.executable, __file__, "--phase", phase, "--path", path, "--vectors", str(args.vectors),
        "--dimension", str(args.dimension), "--queries", str(args.queries), "--cache-mb", str(args.cache_mb),
    ]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def child(args: argparse.Namespace) -> None:
    if args.phase == "store":
        result = phase_store(args.path, args.vectors, args.dimension, args.queries, args.cache_mb)
    else:
        result = PHASES[args.phase](args.path, args.vectors, args.dimension, args.cache_mb)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=1536)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--cache-mb", type=float, default=1024.0)
    parser.add_argument("--keep", help="build the store in this directory and keep it")
    parser.add_argument("--phase", choices=["write", "read", "store"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child(args)
        return
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="local-store-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = str(workdir / "bench.sqlite3")
    try:
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        n, d = args.vectors, args.dimension
        print(f"local store, {n} x {d} float32 ({n * d * 4 / 1e6:.0f} MB of values), cosine, top-{TOP_K}")
        write = run_phase(args, "write", path)
        print(
            f"upsert (batches of {BATCH})   {write['upsert_s']:7.2f} s  {write['upsert_vps']:9.0f} vectors/s"
            f"  {n * d * 4 / 1e6 / write['upsert_s']:6.0f} MB/s   peak RSS {write['rss_peak_mb']:5.0f} MB"
        )
        read = run_phase(args, "read", path)
        print(f"list_ids (pages of 100)    {read['list_s']:7.2f} s  {read['list_ids_per_s']:9.0f} ids/s")
        print(
            f"fetch (batches of {BATCH})    {read['fetch_s']:7.2f} s  {read['fetch_vps']:9.0f} vectors/s"
            f"  {read['fetch_mb_s']:6.0f} MB/s   peak RSS {read['rss_peak_mb']:5.0f} MB"
        )
        store = run_phase(args, "store", path)
        warm, floor = store["warm"], store["floor"]
        ratios = store["ratios"]
        print(
            f"numpy floor (preloaded)    p50 {floor['p50_ms']:7.1f} ms  p95 {floor['p95_ms']:7.1f} ms"
            f"   (normalised float32 matrix, matrix @ q + top-{TOP_K})"
        )
        print(
            f"store, warm query          p50 {warm['p50_ms']:7.1f} ms  p95 {warm['p95_ms']:7.1f} ms"
            f"   ratio to floor p50 {warm['p50_ms'] / floor['p50_ms']:.2f}x (aim <= 2.0x);"
            f" per query, interleaved: median {statistics.median(ratios):.2f}x, worst {ratios[-1]:.2f}x"
        )
        print(
            f"store, cold first query    {store['cold_ms']:7.0f} ms (loads {store['cache_mb']:.0f} MB"
            f" into the cache, --cache-mb {args.cache_mb:g})"
        )
        print(
            f"store, warm + filter       p50 {store['filtered']['p50_ms']:7.1f} ms  p95 "
            f"{store['filtered']['p95_ms']:7.1f} ms  (parity = odd: half the rows; first one evaluates it)"
        )
        print(f"store, first query after a write {store['after_write_ms']:7.0f} ms (reload)")
        print(
            f"store, cache off (scan)    p50 {store['uncached']['p50_ms']:7.1f} ms  p95 "
            f"{store['uncached']['p95_ms']:7.1f} ms"
        )
        print(
            f"peak RSS of the query process {store['rss_store_mb']:5.0f} MB (before the floor's own matrix)"
        )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
