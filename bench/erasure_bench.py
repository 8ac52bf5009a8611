"""Erasure figures: one creator with 200 twins erased from an index of 25,000 namespaces, through
the real pinecone SDK against the local Pinecone server (in-process), counting the data-plane
requests the erasure made from the server's request log.

    .venv/bin/python bench/erasure_bench.py [--namespaces 25000] [--twins 200] [--orphans 10]
                                            [--skip-faults]

Runs twice in a temporary directory (removed afterwards): a clean server, then one answering 30%
of requests 429/503 with counts lagging deletes by a second. The index holds, besides the
creator's own namespaces, creators whose ids extend the creator's (`bench.1` -> `bench.10`,
`bench.1x`, `bench.1-b`, each with twins), other creators' twins whose ids start with
`bench.1`, legacy UUID namespaces, `__default__`, and thousands of unrelated creators. The job
runs in this process exactly as a worker runs it (resumable_job_run); the aim is at most two
requests per erased namespace plus a constant.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import benchenv  # noqa: E402  (bench/, beside this file)

DIMENSION = 16
TARGET = "bench.1"
NEIGHBOURS = ("bench.10", "bench.1x", "bench.1-b")


def setup_django(tmp: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("DEBUG", "1")
    os.environ["VECTOR_LOCAL_PATH"] = f"{tmp}/settings-vectors.sqlite3"
    os.environ["VECTOR_DIMENSION"] = str(DIMENSION)
    benchenv.throwaway_kek(tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinadmin.settings")
    import django

    django.setup()
    import logging

    for noisy in ("pinecone", "httpx", "twinadmin", "migrations_app"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def layout(n_namespaces: int, n_twins: int, n_orphans: int) -> tuple[dict[str, int], set[str]]:
    """name -> vector count for the whole index, and the names that belong to TARGET."""
    from twinadmin.registry import codec

    owned = {codec.creator_namespace(TARGET): 5}
    owned.update({codec.twin_namespace(TARGET, f"t{i:03d}"): 2 + i % 4 for i in range(n_twins)})
    owned.update({codec.twin_namespace(TARGET, f"orphan-{i}"): 3 for i in range(n_orphans)})
    index = dict(owned)
    for neighbour in NEIGHBOURS:
        index[codec.creator_namespace(neighbour)] = 4
        index.update({codec.twin_namespace(neighbour, f"t{i:03d}"): 2 for i in range(20)})
    index.update({codec.twin_namespace(f"other{i}", f"{TARGET}-{i}"): 2 for i in range(20)})
    index["__default__"] = 376
    index.update({f"{i:08x}-0000-4000-8000-{i:012x}": 7 for i in range(200)})
    i = 0
    while len(index) < n_namespaces:
        creator = f"c{i // 3:05d}"
        index[
            codec.creator_namespace(creator) if i % 3 == 0 else codec.twin_namespace(creator, f"t{i % 3}")
        ] = 1
        i += 1
    return index, set(owned)


def fill(store, counts: dict[str, int]) -> float:
    import numpy as np

    from twinadmin.vectors import Vector

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for name, count in counts.items():
        values = rng.uniform(0.1, 1.0, (count, DIMENSION)).astype(np.float32)
        store.upsert(name, [Vector(f"doc-{j}", values[j], {"chunk": j}) for j in range(count)])
    return time.perf_counter() - started


def route(record: dict) -> tuple[str, str]:
    path = record["path"]
    return record["method"], "/namespaces/{name}" if path.startswith("/namespaces/") else path


def read_log(path: Path, since: float) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [r for r in map(json.loads, fh) if r["ts"] >= since]


def scenario(tmp: str, label: str, args: argparse.Namespace, *, faults: dict) -> None:
    from django.conf import settings

    from twinadmin.accounts.roles import APPROVERS, OPERATORS
    from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
    from twinadmin.jobs.leases import resumable_job_run
    from twinadmin.registry.models import Creator, Twin
    from twinadmin.vectors.factory import reset_index_cache
    from twinadmin.vectors.local import LocalStore
    from twinadmin.vectors.server import LocalPineconeServer

    workdir = Path(tempfile.mkdtemp(dir=tmp))
    counts, owned = layout(args.namespaces, args.twins, args.orphans)
    store = LocalStore(workdir / "server.sqlite3", dimension=DIMENSION, metric="cosine")
    fill_seconds = fill(store, counts)

    # The registry knows the creator and its twins (not the orphans), and the neighbours.
    creator = Creator.objects.create(creator_id=TARGET)
    Twin.objects.bulk_create([Twin(creator=creator, twin_id=f"t{i:03d}") for i in range(args.twins)])
    for neighbour in NEIGHBOURS:
        Creator.objects.get_or_create(creator_id=neighbour)

    log_path = workdir / "requests.jsonl"
    server = LocalPineconeServer(store, request_log=log_path).start()
    try:
        settings.VECTOR_BACKEND = "pinecone"
        settings.PINECONE_API_KEY = "bench"
        settings.PINECONE_INDEX_HOST = server.url
        settings.VECTOR_DIMENSION = DIMENSION
        reset_index_cache()
        server.set_faults(**faults)

        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        users = get_user_model().objects
        operator = users.create_user(f"op-{workdir.name}", password=None)
        operator.groups.add(Group.objects.get_or_create(name=OPERATORS)[0])
        approver = users.create_user(f"appr-{workdir.name}", password=None)
        approver.groups.add(Group.objects.get_or_create(name=APPROVERS)[0])
        erasure = erasure_request_file(creator_id=TARGET, reason="bench", confirm=TARGET, actor=operator)
        erasure_request_approve(erasure=erasure, actor=approver, enqueue=False)
        erasure.refresh_from_db()

        since = time.time()
        started = time.perf_counter()
        job = resumable_job_run(job_id=erasure.job_id, runner="bench")
        seconds = time.perf_counter() - started
    finally:
        server.stop()
        reset_index_cache()

    erasure.refresh_from_db()
    requests = read_log(log_path, since)
    erased = erasure.namespaces.count()
    left = store.counts()
    by_route = collections.Counter(route(r) for r in requests)
    failed = sum(1 for r in requests if r["status"] in (429, 503))
    answered = len(requests) - failed
    passes = erasure.verification.get("passes", [])
    rounds = sum(len(p["rounds"]) for p in passes)
    assert job.status == "succeeded", job.error
    assert erasure.status == "completed", erasure.last_error
    assert not owned & set(left) and len(left) == len(counts) - len(owned), "erased the wrong namespaces"

    print(f"\n== {label} ==")
    print(
        f"index: {len(counts):,} namespaces, {sum(counts.values()):,} vectors "
        f"(filled in {fill_seconds:.1f} s)"
    )
    print(
        f"erased: {erased} namespaces ({args.twins} registry twins + creator-wide + {args.orphans} orphans), "
        f"{sum(counts[n] for n in owned):,} vectors; neighbours untouched: {len(left):,} namespaces left"
    )
    print(f"time: {seconds:.2f} s for the whole job (discover, delete, verify in {rounds} round(s), close)")
    print(f"data-plane requests: {len(requests)} sent, {answered} answered, {failed} refused (429/503)")
    durations = collections.defaultdict(list)
    for r in requests:
        durations[route(r)].append(r["duration_ms"])
    print(f"  {'':<6} {'':<24} {'count':>6} {'server ms p50':>14}")
    for (method, path), n in sorted(by_route.items(), key=lambda kv: -kv[1]):
        print(f"  {method:<6} {path:<24} {n:>6} {statistics.median(durations[(method, path)]):>14.1f}")
    constant = answered - 2 * erased
    print(
        f"answered per erased namespace: {answered / erased:.3f}  "
        f"(= 2 x {erased} {'+' if constant >= 0 else '-'} {abs(constant)}); "
        f"with retries of refused ones: {len(requests) / erased:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--namespaces", type=int, default=25_000)
    parser.add_argument("--twins", type=int, default=200)
    parser.add_argument("--orphans", type=int, default=10)
    parser.add_argument("--skip-faults", action="store_true")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="twinadmin-erasure-bench-")
    try:
        setup_django(tmp)
        scenario(tmp, "clean server", args, faults={})
        if not args.skip_faults:
            from twinadmin.registry.models import Creator, Twin

            Twin.objects.all().delete()
            Creator.objects.all().delete()
            scenario(
                tmp,
                "30% 429/503, counts lag deletes by 1 s",
                args,
                faults={
                    "fail_429": 0.15,
                    "fail_503": 0.15,
                    "retry_after": 0.05,
                    "count_lag_seconds": 1.0,
                    "seed": 5,
                },
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
