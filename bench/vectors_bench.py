"""Vector layer figures at dimension 1536: the local store directly, and the real pinecone SDK
against the local server (manage.py pinecone_local, in-process here).

    .venv/bin/python bench/vectors_bench.py [--quick] [--queries 30] [--skip-http]

Measures, in a temporary directory that is removed afterwards:
- upsert throughput (vectors/s), callers passing 1,000 vectors per call;
- fetch throughput (vectors/s), 1,000 random ids per call;
- query latency p50/p95 (top_k=10, cosine) on namespaces of 1k, 10k and 100k vectors;
- a streamed scan of the largest namespace (list id pages of 100 + fetch each page): time and
  peak memory, each in a fresh child process (RSS high-water mark minus RSS before the scan,
  and the tracemalloc peak for the local store).
The HTTP path upserts smaller namespaces (1k and 10k: every vector travels as ~30 KB of JSON,
so 100k would take ~35 s); its fetches, queries and scan read the namespaces the local store
wrote, up to 100k. --quick uses 1k/10k only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIMENSION = 1536
CALL_SIZE = 1_000


def setup_django(tmp: str) -> None:
    os.environ.setdefault("DEBUG", "1")
    os.environ["VECTOR_LOCAL_PATH"] = f"{tmp}/settings-vectors.sqlite3"
    os.environ["VECTOR_DIMENSION"] = str(DIMENSION)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinadmin.settings")
    import django

    django.setup()
    import logging

    for noisy in ("pinecone", "httpx", "twinadmin.vectors"):  # the SDK logs every request at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)


def vector_batch(start: int, count: int, seed: int):
    import numpy as np

    from twinadmin.vectors import Vector

    rng = np.random.default_rng(seed + start)
    values = rng.standard_normal((count, DIMENSION)).astype(np.float32)
    return [
        Vector(
            f"doc-{(start + i) // 20:06d}#chunk-{(start + i) % 20:03d}",
            values[i],
            {"source": f"uploads/doc-{(start + i) // 20}.pdf", "chunk_index": (start + i) % 20},
        )
        for i in range(count)
    ]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fill(index, namespace: str, size: int) -> float:
    """Upsert `size` vectors in calls of 1,000; returns vectors/s (generation excluded)."""
    spent = 0.0
    for start in range(0, size, CALL_SIZE):
        batch = vector_batch(start, min(CALL_SIZE, size - start), seed=size)
        began = time.perf_counter()
        index.upsert(namespace, batch)
        spent += time.perf_counter() - began
    return size / spent


def fetch_rate(index, namespace: str, all_ids: list[str], calls: int) -> float:
    rng = random.Random(1)
    spent, fetched = 0.0, 0
    for _ in range(calls):
        ids = rng.sample(all_ids, min(CALL_SIZE, len(all_ids)))
        began = time.perf_counter()
        fetched += len(index.fetch(namespace, ids))
        spent += time.perf_counter() - began
    return fetched / spent


def query_latencies(index, namespace: str, queries: int) -> tuple[float, float]:
    import numpy as np

    rng = np.random.default_rng(2)
    samples = []
    for _ in range(queries):
        vector = rng.standard_normal(DIMENSION).astype(np.float32)
        began = time.perf_counter()
        index.query(namespace, vector=vector, top_k=10)
        samples.append((time.perf_counter() - began) * 1000)
    return percentile(samples, 0.5), percentile(samples, 0.95)


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def scan_child(path: str, namespace: str, via: str, traced: bool) -> None:
    """Child mode: stream the namespace (id pages + fetch) and print time and memory as JSON."""
    import tracemalloc

    from twinadmin.vectors.local import LocalStore

    store = LocalStore(path)
    server = None
    index = store
    if via == "http":
        from twinadmin.vectors.pinecone_adapter import PineconeIndex
        from twinadmin.vectors.server import LocalPineconeServer

        server = LocalPineconeServer(store).start()
        index = PineconeIndex(
            api_key="bench", host=server.url, dimension=store.dimension, metric=store.metric
        )
        index.describe_index_stats()  # warm the connection and imports before measuring
    before = rss_mb("VmRSS")
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    count = 0
    for ids in index.iter_id_pages(namespace, page_size=100):
        count += len(index.fetch(namespace, ids))
    seconds = time.perf_counter() - began
    result = {
        "vectors": count,
        "seconds": seconds,
        "rss_before_mb": before,
        "rss_peak_delta_mb": rss_mb("VmHWM") - before,
    }
    if traced:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    if server is not None:
        server.stop()
    print(json.dumps(result))


def run_scan(path: str, namespace: str, via: str, traced: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--scan", path, namespace, via] + (["--traced"] if traced else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ})
    return json.loads(out.stdout.strip().splitlines()[-1])


def scan_line(scan: dict) -> str:
    rate = scan["vectors"] / scan["seconds"]
    return f"scan    n={scan['vectors']:>7,}: {scan['seconds']:.1f} s ({rate:,.0f} vectors/s)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="namespaces of 1k and 10k only")
    parser.add_argument("--queries", type=int, default=30, help="queries per namespace size")
    parser.add_argument("--skip-http", action="store_true", help="local store only")
    parser.add_argument("--scan", nargs=3, metavar=("PATH", "NAMESPACE", "VIA"), help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.scan:
        scan_child(*args.scan, traced=args.traced)
        return

    tmp = tempfile.mkdtemp(prefix="twinadmin-vbench-")
    try:
        run_bench(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_bench(args: argparse.Namespace, tmp: str) -> None:
    setup_django(tmp)
    from twinadmin.vectors.local import LocalStore
    from twinadmin.vectors.pinecone_adapter import PineconeIndex
    from twinadmin.vectors.server import LocalPineconeServer

    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    http_sizes = (1_000, 10_000) if not args.quick else (1_000,)
    path = f"{tmp}/bench.sqlite3"
    store = LocalStore(path, dimension=DIMENSION, metric="cosine")
    largest = f"n{sizes[-1]}"
    python = sys.version.split()[0]
    print(
        f"vectors bench: dimension {DIMENSION}, cosine, {os.cpu_count()} CPUs, Python {python}, "
        f"SQLite {sqlite3.sqlite_version}"
    )

    print("\n== local store (SQLite, in-process) ==")
    for size in sizes:
        rate = fill(store, f"n{size}", size)
        print(f"upsert  n={size:>7,}: {rate:>9,.0f} vectors/s  (calls of {CALL_SIZE:,})")
    all_ids = sum(store.iter_id_pages(largest), [])
    rate = fetch_rate(store, largest, all_ids, 20)
    print(f"fetch   n={sizes[-1]:>7,}: {rate:>9,.0f} vectors/s  (1,000 random ids)")
    for size in sizes:
        p50, p95 = query_latencies(
            store, f"n{size}", args.queries if size < 100_000 else max(5, args.queries // 3)
        )
        print(f"query   n={size:>7,}: p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   (top_k=10)")
    scan = run_scan(path, largest, "local")
    traced = run_scan(path, largest, "local", traced=True)
    print(
        f"{scan_line(scan)}, peak RSS +{scan['rss_peak_delta_mb']:.1f} MB, "
        f"tracemalloc peak {traced['tracemalloc_peak_mb']:.1f} MB"
    )
    size_mb = sum(p.stat().st_size for p in Path(tmp).glob("bench.sqlite3*")) / 2**20
    print(f"store file: {size_mb:,.0f} MB for {store.describe_index_stats().total_vector_count:,} vectors")

    if args.skip_http:
        return
    print("\n== pinecone SDK -> local server (HTTP on 127.0.0.1, in-process server) ==")
    server = LocalPineconeServer(store).start()
    try:
        index = PineconeIndex(api_key="bench", host=server.url, dimension=DIMENSION, metric="cosine")
        for size in http_sizes:
            requests_before = server.request_count(path="/vectors/upsert")
            rate = fill(index, f"h{size}", size)
            requests = server.request_count(path="/vectors/upsert") - requests_before
            print(f"upsert  n={size:>7,}: {rate:>9,.0f} vectors/s  ({requests} requests <= 2 MB)")
        rate = fetch_rate(index, largest, all_ids, 5)
        print(f"fetch   n={sizes[-1]:>7,}: {rate:>9,.0f} vectors/s  (1,000 ids = 10 requests)")
        for size in sizes:
            p50, p95 = query_latencies(
                index, f"n{size}", args.queries if size < 100_000 else max(5, args.queries // 3)
            )
            print(f"query   n={size:>7,}: p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
    finally:
        server.stop()
    scan = run_scan(path, largest, "http")
    print(
        f"{scan_line(scan)}, peak RSS +{scan['rss_peak_delta_mb']:.1f} MB (client and server in one process)"
    )


if __name__ == "__main__":
    main()
