"""Namespace migration figures (migrations_app), at dimension 1536.

    .venv/bin/python bench/migration_bench.py [--vectors 100000] [--http-vectors 10000]
                                              [--http-namespaces 10] [--latency-ms 0 20] [--quick]

1. Local -> local: one legacy namespace of --vectors vectors in the embedded store.
   - raw copy: read everything (list id pages + fetch) and write it all to another namespace;
   - the migration pipeline on the same data, same run: backup (Parquet) + copy + verify
     (+ cut-over, reported apart), through the same services a worker runs;
   - the ratio pipeline / raw copy (aim <= 2.0) and the pipeline's peak RSS (aim <= 300 MB),
     each measured in its own child process (VmHWM: the whole process, Django included).
2. Through the real pinecone SDK against `manage.py pinecone_local` (a separate server process):
   --http-namespaces legacy namespaces holding --http-vectors vectors in all.
   - the naive script: plain SDK, namespace by namespace, list 100 ids -> fetch them -> upsert
     them (in halves: 100 vectors of 1536 floats exceed the 2 MB request limit), sequentially;
   - the pipeline (backup + copy + verify, cut-over apart) on the same data;
   - the ratio pipeline / naive (aim <= 1.0), for each --latency-ms added by the server to every
     request (0 = loopback; 20 ms is closer to a real network round trip).
   The HTTP path uses fewer vectors than the local one: each vector travels as ~30 KB of JSON.

Everything lives in a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIMENSION = 1536
FILL_CALL = 1_000
WORDS = [
    "creator",
    "audience",
    "episode",
    "brand",
    "launch",
    "script",
    "recipe",
    "workout",
    "travel",
    "budget",
    "studio",
    "camera",
]


# -- helpers -------------------------------------------------------------------------------------


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def legacy_names(count: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def vectors(start: int, count: int, seed: int):
    import numpy as np

    from twinadmin.vectors import Vector

    rng = np.random.default_rng(seed + start)
    values = rng.standard_normal((count, DIMENSION)).astype(np.float32)
    out = []
    for i in range(count):
        n = start + i
        text = " ".join(WORDS[(n + k) % len(WORDS)] for k in range(60))
        metadata = {"source": f"uploads/doc-{n // 20}.pdf", "chunk_index": n % 20, "text": text}
        out.append(Vector(f"doc-{n // 20:06d}#chunk-{n % 20:03d}", values[i], metadata))
    return out


def child(mode: str, payload: dict) -> dict:
    """Run one measurement in a fresh process; it prints one JSON line."""
    env = {**os.environ, **payload.pop("env", {})}
    cmd = [sys.executable, __file__, "--child", mode, json.dumps(payload)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def django_env(tmp: str, **extra: str) -> dict:
    return {
        "DEBUG": "0",  # with DEBUG on Django keeps every query in memory
        "SECRET_KEY": "bench-only",
        "DATABASE_URL": f"sqlite:///{tmp}/bench-db.sqlite3",
        "CELERY_BROKER_URL": "memory://",
        "VECTOR_DIMENSION": str(DIMENSION),
        "VECTOR_METRIC": "cosine",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinadmin.settings")
    import django

    django.setup()
    import logging

    for noisy in ("pinecone", "httpx", "twinadmin", "migrations_app"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


# -- children ------------------------------------------------------------------------------------


def child_fill(p: dict) -> dict:
    from twinadmin.vectors.local import LocalStore

    store = LocalStore(p["path"], dimension=DIMENSION, metric="cosine")
    began = time.perf_counter()
    for namespace, size in p["namespaces"].items():
        for start in range(0, size, FILL_CALL):
            store.upsert(namespace, vectors(start, min(FILL_CALL, size - start), seed=hash(namespace) % 1000))
    return {"seconds": time.perf_counter() - began}


def child_migrate(p: dict) -> dict:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {}


def child_raw_copy(p: dict) -> dict:
    """Read all + write all through the store: the floor any copy has to pay."""
    from twinadmin.vectors.local import LocalStore

    store = LocalStore(p["path"])
    before = rss_mb("VmRSS")
    began = time.perf_counter()
    copied, batch = 0, []
    for ids in store.iter_id_pages(p["source"], page_size=100):
        batch.extend(ids)
        if len(batch) >= 1000:
            copied += store.upsert(p["target"], list(store.fetch(p["source"], batch).values()))
            batch = []
    if batch:
        copied += store.upsert(p["target"], list(store.fetch(p["source"], batch).values()))
    return {
        "vectors": copied,
        "seconds": time.perf_counter() - began,
        "rss_before_mb": before,
        "rss_peak_mb": rss_mb("VmHWM"),
    }


def child_pipeline(p: dict) -> dict:
    """The migration through its services, phase by phase, timed (what a worker runs)."""
    setup_django()
    from django.conf import settings

    from migrations_app.services import migration_create, migration_execute
    from twinadmin.vectors import get_index

    settings.MIGRATION_BACKUP_DIR = Path(p["backups"])
    for name in ("MIGRATION_CONCURRENCY", "MIGRATION_BATCH_SIZE"):
        if p.get(name):
            setattr(settings, name, p[name])
    index = get_index()
    index.describe_index_stats()  # connections and imports warm before measuring
    before = rss_mb("VmRSS")
    run = migration_create(
        actor="cli:bench", creator_id=p["creator"], namespaces=p["sources"], create_creator=True, index=index
    )
    times = {}
    for phase in ("backup", "copy", "verify", "cutover"):
        began = time.perf_counter()
        run = migration_execute(run_id=run.pk, index=index, until=phase)
        times[phase] = time.perf_counter() - began
        if run.status in ("failed", "cancelled"):
            raise SystemExit(f"{phase} failed: {run.error}")
    run.refresh_from_db()
    items = list(run.items.all())
    return {
        "status": run.status,
        "verified": all(i.verified for i in items),
        "vectors": sum(i.total for i in items),
        "times": times,
        "rss_before_mb": before,
        "rss_peak_mb": rss_mb("VmHWM"),
        "backup_bytes": sum(i.backup.size_bytes for i in items),
    }


def child_naive(p: dict) -> dict:
    """What a person would write with the plain SDK: sequential, namespace by namespace."""
    from pinecone import Pinecone

    index = Pinecone(api_key="bench").Index(host=p["host"])
    began = time.perf_counter()
    copied = 0
    for namespace in p["sources"]:
        token = None
        while True:
            page = index.list_paginated(namespace=namespace, limit=100, pagination_token=token)
            ids = [item.id for item in page.vectors]
            if ids:
                fetched = index.fetch(ids=ids, namespace=namespace)
                records = [
                    {"id": vid, "values": v.values, "metadata": v.metadata}
                    for vid, v in fetched.vectors.items()
                ]
                for half in (records[:50], records[50:]):  # 100 x 1536 floats is over 2 MB
                    if half:
                        index.upsert(vectors=half, namespace=f"naive-{namespace}")
                copied += len(records)
            token = page.pagination.next if page.pagination else None
            if not token:
                break
    return {"vectors": copied, "seconds": time.perf_counter() - began}


CHILDREN = {
    "fill": child_fill,
    "migrate": child_migrate,
    "raw": child_raw_copy,
    "pipeline": child_pipeline,
    "naive": child_naive,
}


# -- the bench -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: str, latency_ms: float, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, str(ROOT / "manage.py"), "pinecone_local", "--port", str(port), "--path", path]
    cmd += ["--dimension", str(DIMENSION), "--latency-ms", str(latency_ms)]
    server = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("pinecone_local did not start")


def tuning(args: argparse.Namespace) -> dict:
    return {"MIGRATION_CONCURRENCY": args.concurrency, "MIGRATION_BATCH_SIZE": args.batch_size}


def local_part(args: argparse.Namespace, tmp: str) -> None:
    store = f"{tmp}/local.sqlite3"
    (source,) = legacy_names(1, seed=1)
    print(f"\n== Local -> local: {args.vectors:,} vectors x {DIMENSION} in one namespace ==")
    fill = child("fill", {"path": store, "namespaces": {source: args.vectors}})
    print(f"fill (setup, not compared)     {fill['seconds']:7.1f} s")
    raw = child("raw", {"path": store, "source": source, "target": "raw-copy"})
    raw_rate = raw["vectors"] / raw["seconds"]
    print(f"raw copy (read all + write all) {raw['seconds']:6.1f} s  {raw_rate:,.0f} vectors/s")
    env = django_env(tmp, VECTOR_BACKEND="local", VECTOR_LOCAL_PATH=store)
    child("migrate", {"env": env})
    result = child(
        "pipeline",
        {
            "env": env,
            "sources": [source],
            "creator": "bench.local",
            "backups": f"{tmp}/backups-local",
            **tuning(args),
        },
    )
    t = result["times"]
    pipeline = t["backup"] + t["copy"] + t["verify"]
    print(
        f"pipeline: backup {t['backup']:.1f} s + copy {t['copy']:.1f} s + verify {t['verify']:.1f} s "
        f"= {pipeline:.1f} s   (cut-over {t['cutover']:.2f} s apart)"
    )
    print(f"  status {result['status']}, verified {result['verified']}, {result['vectors']:,} vectors")
    print(f"  backup on disk {result['backup_bytes'] / 2**20:,.0f} MB (Parquet + VDF_META.json)")
    print(f"ratio pipeline / raw copy      {pipeline / raw['seconds']:7.2f}x   (aim <= 2.0)")
    print(
        f"peak RSS of the pipeline process {result['rss_peak_mb']:5.0f} MB   (aim <= 300; "
        f"{result['rss_before_mb']:.0f} MB after Django/numpy/pyarrow imports; raw copy process "
        f"{raw['rss_peak_mb']:.0f} MB)"
    )


def http_part(args: argparse.Namespace, tmp: str, latency_ms: float) -> None:
    names = legacy_names(args.http_namespaces, seed=int(latency_ms) + 7)
    per = args.http_vectors // len(names)
    path = f"{tmp}/server-{latency_ms:g}.sqlite3"
    child("fill", {"path": path, "namespaces": dict.fromkeys(names, per)})
    env = django_env(tmp)
    server, host = start_server(path, latency_ms, env)
    try:
        label = f"{len(names)} namespaces x {per:,} = {len(names) * per:,} vectors x {DIMENSION}"
        print(f"\n== SDK -> pinecone_local (separate process), latency {latency_ms:g} ms/request: {label} ==")
        naive = child("naive", {"host": host, "sources": names})
        print(f"naive script (list 100 -> fetch -> upsert, sequential)  {naive['seconds']:6.1f} s")
        penv = django_env(
            tmp,
            DATABASE_URL=f"sqlite:///{tmp}/bench-db-http-{latency_ms:g}.sqlite3",
            VECTOR_BACKEND="pinecone",
            PINECONE_API_KEY="bench",
            PINECONE_INDEX_HOST=host,
        )
        child("migrate", {"env": penv})
        result = child(
            "pipeline",
            {
                "env": penv,
                "sources": names,
                "creator": "bench.http",
                "backups": f"{tmp}/backups-{latency_ms:g}",
            },
        )
        t = result["times"]
        pipeline = t["backup"] + t["copy"] + t["verify"]
        print(
            f"pipeline: backup {t['backup']:.1f} s + copy {t['copy']:.1f} s + verify {t['verify']:.1f} s "
            f"= {pipeline:.1f} s   (cut-over {t['cutover']:.2f} s apart); verified {result['verified']}"
        )
        print(f"ratio pipeline / naive         {pipeline / naive['seconds']:7.2f}x   (aim <= 1.0)")
        print(f"peak RSS of the pipeline process {result['rss_peak_mb']:5.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vectors", type=int, default=100_000, help="local -> local namespace size")
    parser.add_argument("--http-vectors", type=int, default=10_000, help="vectors through the SDK")
    parser.add_argument("--http-namespaces", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 20])
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10k local, 2k through the SDK")
    parser.add_argument("--concurrency", type=int, help="MIGRATION_CONCURRENCY (default: the engine's)")
    parser.add_argument("--batch-size", type=int, help="MIGRATION_BATCH_SIZE (default: the engine's)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](json.loads(args.child[1]))))
        return
    if args.quick:
        args.vectors, args.http_vectors, args.http_namespaces = 10_000, 2_000, 4
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    tmp = tempfile.mkdtemp(prefix="twinadmin-mbench-")
    try:
        if not args.skip_local:
            local_part(args, tmp)
        if not args.skip_http:
            for latency in args.latency_ms:
                http_part(args, tmp, latency)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
