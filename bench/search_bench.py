"""Multi-twin search figures: one creator whose 30 namespaces hold the seed migrated into the
target layout (29 legacy namespaces -> twins 001..029, `__default__` -> creator-wide), at
dimension 1536, searched all at once with `multi_twin_search`.

    .venv/bin/python bench/search_bench.py [--searches 200] [--vectors 805] [--top-k 10]
                                           [--network-ms 20] [--skip-http]

Measures, in a temporary directory that is removed afterwards, the end-to-end latency of one
search over the 30 namespaces (p50/p95 of SearchResult.total_ms, probes drawn from the stored
vectors), querying the namespaces N at a time (bounded pool) and one after another:
- on the local store directly, 8 and 2 at a time (its default is one at a time: this shows why);
- through the real pinecone SDK against the local Pinecone server (in-process);
- the same with --network-ms of latency added per request by the server, standing in for the
  round trip to Pinecone's cloud (0 leaves this scenario out).
Each probe runs in both modes back to back (alternating which goes first) and the two results
must be identical. --vectors scales the seed (805 = the seed itself; 376/805 of them stay in the
creator-wide namespace).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import benchenv  # noqa: E402  (bench/, beside this file)

DIMENSION = 1536
CREATOR = "sainath.no.1"


def setup_django(tmp: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    benchenv.throwaway_kek(tmp)
    os.environ.setdefault("DEBUG", "1")
    os.environ["VECTOR_LOCAL_PATH"] = f"{tmp}/settings-vectors.sqlite3"
    os.environ["VECTOR_DIMENSION"] = str(DIMENSION)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinadmin.settings")
    import django

    django.setup()
    import logging

    for noisy in ("pinecone", "httpx", "twinadmin"):  # the SDK logs every request at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(store, vectors: int) -> list:
    """The seed, written straight into the migrated layout; the registry knows the creator and
    its 29 twins. Returns every stored vector (the probes are drawn from them)."""
    from twinadmin.registry import codec
    from twinadmin.registry.models import Creator, Twin
    from twinadmin.vectors import DEFAULT_NAMESPACE
    from twinadmin.vectors.seed import generate_legacy_seed

    default_vectors = round(vectors * 376 / 805)
    seed = generate_legacy_seed(
        namespaces=30, vectors=vectors, default_vectors=default_vectors, dimension=DIMENSION, seed=0
    )
    creator = Creator.objects.create(creator_id=CREATOR)
    legacy = sorted(name for name in seed.namespaces if name != DEFAULT_NAMESPACE)
    twins = Twin.objects.bulk_create(
        [
            Twin(creator=creator, twin_id=f"{i:03d}", naming=Twin.Naming.SEQUENTIAL, legacy_namespace=name)
            for i, name in enumerate(legacy, start=1)
        ]
    )
    store.upsert(codec.creator_namespace(CREATOR), seed.namespaces[DEFAULT_NAMESPACE])
    for twin, name in zip(twins, legacy, strict=True):
        store.upsert(codec.twin_namespace(CREATOR, twin.twin_id), seed.namespaces[name])
    return [v for records in seed.namespaces.values() for v in records]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def measure(index, probes: list, top_k: int, workers: int) -> dict[str, list[float]]:
    from twinadmin.search.services import multi_twin_search

    def search(values, concurrent: bool):
        return multi_twin_search(
            creator_id=CREATOR,
            vector=values,
            top_k=top_k,
            concurrent=concurrent,
            workers=workers,
            index=index,
        )

    for values in probes[:5]:  # warm connections, the pool's threads and SQLite's page cache
        search(values, True)
        search(values, False)
    times: dict[str, list[float]] = {"concurrent": [], "sequential": [], "sum_of_namespaces": []}
    for n, values in enumerate(probes):
        order = (True, False) if n % 2 == 0 else (False, True)
        results = {}
        for concurrent in order:
            results[concurrent] = search(values, concurrent)
        a, b = results[True], results[False]
        assert len(a.namespaces) == 30
        assert [(h.namespace, h.id, h.score) for h in a.hits] == [
            (h.namespace, h.id, h.score) for h in b.hits
        ]
        times["concurrent"].append(a.total_ms)
        times["sequential"].append(b.total_ms)
        times["sum_of_namespaces"].append(b.sum_ms)
    return times


def report(label: str, workers: int, times: dict[str, list[float]]) -> None:
    c, s = times["concurrent"], times["sequential"]
    speedup_p50 = percentile(s, 50) / percentile(c, 50)
    speedup_mean = statistics.mean(s) / statistics.mean(c)
    print(
        f"{label:<44} {workers} at a time p50 {percentile(c, 50):7.2f} p95 {percentile(c, 95):7.2f} ms | "
        f"sequential p50 {percentile(s, 50):7.2f} p95 {percentile(s, 95):7.2f} ms | "
        f"speed-up x{speedup_p50:.2f} (p50), x{speedup_mean:.2f} (mean)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--searches", type=int, default=200, help="timed searches per scenario and mode")
    parser.add_argument("--vectors", type=int, default=805, help="vectors in all (805 = the seed)")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--network-ms", type=float, default=20.0, help="added per request; 0: skip")
    parser.add_argument("--skip-http", action="store_true", help="local store only")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="twinadmin-sbench-")
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: str) -> None:
    setup_django(tmp)
    from twinadmin.search.pool import MAX_WORKERS
    from twinadmin.vectors.local import LocalStore
    from twinadmin.vectors.pinecone_adapter import PineconeIndex
    from twinadmin.vectors.server import FaultConfig, LocalPineconeServer

    store = LocalStore(f"{tmp}/bench.sqlite3", dimension=DIMENSION, metric="cosine")
    started = time.perf_counter()
    stored = build(store, args.vectors)
    sizes = store.describe_index_stats().namespaces
    shared = sizes.pop(f"creator_{CREATOR}")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; pool of {MAX_WORKERS} threads; "
        f"dimension {DIMENSION}, cosine, top_k {args.top_k}, {args.searches} searches per mode"
    )
    print(
        f"index: {len(sizes) + 1} namespaces of creator {CREATOR}, {sum(sizes.values()) + shared} vectors "
        f"(creator-wide {shared}, {len(sizes)} twins of {min(sizes.values())}-{max(sizes.values())}); "
        f"built in {time.perf_counter() - started:.1f} s"
    )
    rng = random.Random(1)
    probes = [rng.choice(stored).values for _ in range(args.searches)]

    for workers in (MAX_WORKERS, 2):  # the default for the local store is one at a time
        report("local store", workers, measure(store, probes, args.top_k, workers))
    if args.skip_http:
        return
    scenarios = [("SDK -> local server", FaultConfig())]
    if args.network_ms > 0:
        scenarios.append(
            (f"SDK -> local server +{args.network_ms:g} ms/request", FaultConfig(latency_ms=args.network_ms))
        )
    for label, faults in scenarios:
        server = LocalPineconeServer(store, faults=faults).start()
        index = PineconeIndex(api_key="bench", host=server.url, dimension=DIMENSION, metric="cosine")
        try:
            searches = probes if not faults.latency_ms else probes[: max(20, len(probes) // 4)]
            report(
                label + ("" if searches is probes else f" ({len(searches)} searches)"),
                MAX_WORKERS,
                measure(index, searches, args.top_k, MAX_WORKERS),
            )
        finally:
            index.close()
            server.stop()


if __name__ == "__main__":
    main()
