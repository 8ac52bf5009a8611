"""Namespace migration figures (migrations_app), at dimension 1536, in one run.

    .venv/bin/python bench/migration_bench.py [--sizes 10000 100000] [--latency-ms 0 20]
        [--transports rest grpc] [--http-namespaces 10] [--local-vectors 100000]
        [--rate-limits pinecone] [--rate-scale 1] [--rate-workers 1 4] [--rate-vectors 10000]
        [--skip-local] [--skip-http] [--skip-rate-limits] [--quick]

1. Local -> local: one legacy namespace of --local-vectors vectors in the embedded store.
   - raw copy: read everything (list id pages + fetch) and write it all to another namespace;
   - the migration pipeline on the same data: backup + copy (one pass) + verify (+ cut-over,
     reported apart), through the same services a worker runs;
   - the ratio pipeline / raw copy (aim <= 1.5) and the pipeline's peak RSS (aim <= 300 MB),
     each measured in its own child process (VmHWM: the whole process, Django included).
2. Through the real pinecone SDK against `manage.py pinecone_local` (a separate server process,
   REST and gRPC beside it), for each --sizes (vectors in all, over --http-namespaces legacy
   namespaces) and each --latency-ms added by the server to every request:
   - naive sequential: plain SDK, namespace by namespace, list 100 ids -> fetch them -> upsert
     them (in halves: 100 vectors of 1536 floats exceed the 2 MB request limit);
   - naive SDK batching: the same, but each namespace's vectors handed to the SDK's own
     `upsert(batch_size=50)` (which sends its batches concurrently) a thousand at a time;
   - the project (backup + copy + verify, cut-over apart) over each of --transports;
   - the ratio project / the faster naive script (aims: <= 1.0 at 20 ms and <= 1.3 at 0 ms over
     REST, <= 1.0 at 0 ms over gRPC).
3. Under --rate-limits (Pinecone's serverless numbers) at 20 ms: the migration's vectors/s as a
   share of the rate-limit-bound maximum for the layout (the slowest of fetch, list, upsert
   requests and upsert bytes, computed from the limits), for each of --rate-workers workers
   migrating different creators at once through the same per-index budgets (aim >= 80%).
   --rate-scale 0.1 runs it under a tenth of every limit: where the machine cannot reach the
   real numbers at all, that is what shows how well the pipeline spends a budget.

Every figure is printed, then a table of them all. Everything lives in a temporary directory that
is removed afterwards. The machine is shared: the load average is printed beside the figures.
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
import benchenv  # noqa: E402  (bench/, beside this file)

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
        "BACKUP_KEK_FILE": benchenv.throwaway_kek(tmp),
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
    started_at = time.time()  # wall clock: runs in several processes are compared on it
    for phase in ("backup", "copy", "verify", "cutover"):
        began = time.perf_counter()
        run = migration_execute(run_id=run.pk, index=index, until=phase)
        times[phase] = time.perf_counter() - began
        if run.status in ("failed", "cancelled"):
            raise SystemExit(f"{phase} failed: {run.error}")
        if phase == "verify":
            verified_at = time.time()
    run.refresh_from_db()
    items = list(run.items.all())
    return {
        "status": run.status,
        "verified": all(i.verified for i in items),
        "vectors": sum(i.total for i in items),
        "times": times,
        "started_at": started_at,
        "verified_at": verified_at,
        "rss_before_mb": before,
        "rss_peak_mb": rss_mb("VmHWM"),
        "backup_bytes": sum(i.backup.size_bytes for i in items),
    }


def _naive_pages(index, namespace: str):
    """(ids, fetched records) per list page of 100: what a script from Pinecone's docs does."""
    token = None
    while True:
        page = index.list_paginated(namespace=namespace, limit=100, pagination_token=token)
        ids = [item.id for item in page.vectors]
        if ids:
            fetched = index.fetch(ids=ids, namespace=namespace)
            yield [
                {"id": vid, "values": v.values, "metadata": v.metadata} for vid, v in fetched.vectors.items()
            ]
        token = page.pagination.next if page.pagination else None
        if not token:
            return


def child_naive(p: dict) -> dict:
    """What a person would write with the plain SDK: sequential, namespace by namespace."""
    from pinecone import Pinecone

    index = Pinecone(api_key="bench").Index(host=p["host"])
    began = time.perf_counter()
    copied = 0
    for namespace in p["sources"]:
        for records in _naive_pages(index, namespace):
            for half in (records[:50], records[50:]):  # 100 x 1536 floats is over 2 MB
                if half:
                    index.upsert(vectors=half, namespace=f"{p['prefix']}-{namespace}")
            copied += len(records)
    return {"vectors": copied, "seconds": time.perf_counter() - began}


def child_naive_batching(p: dict) -> dict:
    """The same read, the writes left to the SDK's `upsert(batch_size=...)` (concurrent batches)."""
    from pinecone import Pinecone

    index = Pinecone(api_key="bench").Index(host=p["host"])
    began = time.perf_counter()
    copied = 0

    def send(records: list, namespace: str) -> None:
        response = index.upsert(
            vectors=records, namespace=f"{p['prefix']}-{namespace}", batch_size=50, show_progress=False
        )
        if response.has_errors:
            raise SystemExit(f"naive batching: {response.errors[:3]}")

    for namespace in p["sources"]:
        pending: list = []
        for records in _naive_pages(index, namespace):
            pending.extend(records)
            if len(pending) >= 1000:
                send(pending, namespace)
                copied += len(pending)
                pending = []
        if pending:
            send(pending, namespace)
            copied += len(pending)
    return {"vectors": copied, "seconds": time.perf_counter() - began}


def child_clean(p: dict) -> dict:
    """Remove every namespace but the sources (between measurements: the store stays small)."""
    from twinadmin.vectors.local import LocalStore

    store = LocalStore(p["path"])
    for namespace in store.describe_index_stats().namespaces:
        if namespace not in p["keep"]:
            store.delete_namespace(namespace)
    return {}


CHILDREN = {
    "fill": child_fill,
    "migrate": child_migrate,
    "raw": child_raw_copy,
    "pipeline": child_pipeline,
    "naive": child_naive,
    "naive_batching": child_naive_batching,
    "clean": child_clean,
}


# -- the bench -----------------------------------------------------------------------------------

ROWS: list[tuple[str, str]] = []  # (label, figure) for the closing table


def row(label: str, figure: str) -> None:
    ROWS.append((label, figure))


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`manage.py pinecone_local` in its own process: REST on one port, gRPC on another."""

    def __init__(self, path: str, latency_ms: float, env: dict, rate_limits: str | None = None) -> None:
        self.port, self.grpc_port = free_port(), free_port()
        cmd = [sys.executable, str(ROOT / "manage.py"), "pinecone_local", "--port", str(self.port)]
        cmd += ["--grpc-port", str(self.grpc_port), "--path", path, "--dimension", str(DIMENSION)]
        cmd += ["--latency-ms", str(latency_ms)]
        if rate_limits:
            cmd += ["--rate-limits", rate_limits]
        self.process = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                for port in (self.port, self.grpc_port):
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        pass
                return
            except OSError:
                time.sleep(0.1)
        self.process.kill()
        raise SystemExit("pinecone_local did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def grpc_url(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def tuning(args: argparse.Namespace) -> dict:
    return {"MIGRATION_CONCURRENCY": args.concurrency, "MIGRATION_BATCH_SIZE": args.batch_size}


def pipeline_seconds(result: dict) -> float:
    t = result["times"]
    return t["backup"] + t["copy"] + t["verify"]


def local_part(args: argparse.Namespace, tmp: str) -> None:
    store = f"{tmp}/local.sqlite3"
    (source,) = legacy_names(1, seed=1)
    print(f"\n== Local -> local: {args.local_vectors:,} vectors x {DIMENSION} in one namespace ==")
    fill = child("fill", {"path": store, "namespaces": {source: args.local_vectors}})
    print(f"fill (setup, not compared)     {fill['seconds']:7.1f} s")
    raw = child("raw", {"path": store, "source": source, "target": "raw-copy"})
    raw_rate = raw["vectors"] / raw["seconds"]
    print(f"raw copy (read all + write all) {raw['seconds']:6.1f} s  {raw_rate:,.0f} vectors/s   ({load()})")
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
    pipeline = pipeline_seconds(result)
    print(
        f"pipeline: backup+copy {t['backup']:.1f} s + copy {t['copy']:.1f} s + verify {t['verify']:.1f} s "
        f"= {pipeline:.1f} s   (cut-over {t['cutover']:.2f} s apart)   ({load()})"
    )
    print(f"  status {result['status']}, verified {result['verified']}, {result['vectors']:,} vectors")
    print(f"  backup on disk {result['backup_bytes'] / 2**20:,.0f} MB (Parquet + VDF_META.json)")
    print(f"ratio pipeline / raw copy      {pipeline / raw['seconds']:7.2f}x   (aim <= 1.5)")
    print(
        f"peak RSS of the pipeline process {result['rss_peak_mb']:5.0f} MB   (aim <= 300; "
        f"{result['rss_before_mb']:.0f} MB after Django/numpy/pyarrow imports; raw copy process "
        f"{raw['rss_peak_mb']:.0f} MB)"
    )
    label = f"local -> local, {args.local_vectors:,} x {DIMENSION}"
    row(
        label,
        f"raw copy {raw['seconds']:.1f} s | pipeline {pipeline:.1f} s | {pipeline / raw['seconds']:.2f}x "
        f"(aim <= 1.5) | peak RSS {result['rss_peak_mb']:.0f} MB (aim <= 300)",
    )


def project_run(tmp: str, server: Server, *, transport: str, sources: list[str], creator: str, args) -> dict:
    env = django_env(
        tmp,
        DATABASE_URL=f"sqlite:///{tmp}/bench-db-{creator}.sqlite3",
        VECTOR_BACKEND="pinecone",
        PINECONE_API_KEY="bench",
        PINECONE_INDEX_HOST=server.url,
        PINECONE_TRANSPORT=transport,
        PINECONE_GRPC_HOST=server.grpc_url if transport == "grpc" else "",
    )
    child("migrate", {"env": env})
    payload = {"env": env, "sources": sources, "creator": creator, "backups": f"{tmp}/backups-{creator}"}
    return {"env": env, "payload": {**payload, **tuning(args)}}


def http_part(args: argparse.Namespace, tmp: str, size: int) -> None:
    names = legacy_names(args.http_namespaces, seed=size % 1000 + 7)
    per = size // len(names)
    path = f"{tmp}/server-{size}.sqlite3"
    fill = child("fill", {"path": path, "namespaces": dict.fromkeys(names, per)})
    label = f"{len(names)} namespaces x {per:,} = {len(names) * per:,} vectors x {DIMENSION}"
    print(
        f"\n== SDK -> pinecone_local (separate process): {label} "
        f"(fill {fill['seconds']:.0f} s, not compared) =="
    )
    for latency in args.latency_ms:
        server = Server(path, latency, django_env(tmp))
        try:
            tag = f"{size}-{latency:g}"
            print(f"-- latency {latency:g} ms/request --")
            naive = child("naive", {"host": server.url, "sources": names, "prefix": f"naive-{tag}"})
            print(
                f"naive sequential (list 100 -> fetch -> upsert)        {naive['seconds']:6.1f} s"
                f"   ({load()})"
            )
            child("clean", {"path": path, "keep": names})
            batching = child("naive_batching", {"host": server.url, "sources": names, "prefix": f"nb-{tag}"})
            print(
                f"naive SDK batching (upsert(batch_size=50), concurrent) {batching['seconds']:6.1f} s"
                f"   ({load()})"
            )
            child("clean", {"path": path, "keep": names})
            best = min(naive["seconds"], batching["seconds"])
            figures = []
            for transport in args.transports:
                run = project_run(
                    tmp,
                    server,
                    transport=transport,
                    sources=names,
                    creator=f"bench.{transport}.{tag}",
                    args=args,
                )
                result = child("pipeline", run["payload"] | {"env": run["env"]})
                child("clean", {"path": path, "keep": names})
                t, seconds = result["times"], pipeline_seconds(result)
                print(
                    f"project over {transport:4}: backup+copy {t['backup']:.1f} s + copy {t['copy']:.1f} s + "
                    f"verify {t['verify']:.1f} s = {seconds:.1f} s (cut-over {t['cutover']:.2f} s apart); "
                    f"verified {result['verified']}   ({load()})"
                )
                aim = "1.0" if latency >= 20 or transport == "grpc" else "1.3"
                print(
                    f"  ratio / naive sequential {seconds / naive['seconds']:.2f}x, / naive SDK batching "
                    f"{seconds / batching['seconds']:.2f}x, / the faster {seconds / best:.2f}x"
                    f"   (aim <= {aim})"
                )
                figures.append(f"{transport} {seconds:.1f} s = {seconds / best:.2f}x (aim <= {aim})")
            row(
                f"SDK, {len(names) * per:,} x {DIMENSION}, {latency:g} ms",
                f"naive {naive['seconds']:.1f} s / SDK batching {batching['seconds']:.1f} s | "
                + " | ".join(figures),
            )
        finally:
            server.stop()


def rate_bound(rates: dict, *, transport: str, namespaces: int, vector_bytes: int, id_bytes: int) -> dict:
    """Vectors/s the limits allow a migration that lists, fetches and upserts each vector once,
    `namespaces` target namespaces written at once, with the API's largest requests."""
    from twinadmin.vectors import limits

    if transport == "grpc":
        ids_per_fetch = limits.MAX_FETCH_IDS
    else:  # REST fetch is a GET: the ids share a query string (the adapter's 6,000-byte budget)
        from twinadmin.vectors.pinecone_adapter import FETCH_BATCH_URL_BYTES

        ids_per_fetch = min(limits.MAX_FETCH_IDS, FETCH_BATCH_URL_BYTES // (id_bytes + 5))
    per_upsert = min(limits.MAX_UPSERT_VECTORS, limits.MAX_UPSERT_BYTES // vector_bytes)
    return {
        "fetch": rates["fetch_per_index"] * ids_per_fetch,
        "list": rates["list_per_index"] * limits.MAX_LIST_LIMIT,
        "upsert requests": rates["upsert_per_namespace"] * per_upsert * namespaces,
        "upsert bytes": rates["upsert_bytes_per_namespace"] / vector_bytes * namespaces,
    }


def rate_part(args: argparse.Namespace, tmp: str) -> None:
    import orjson

    from twinadmin.vectors.server.rate_limits import PRESETS

    rates = (
        PRESETS[args.rate_limits]
        if args.rate_limits in PRESETS
        else json.loads(Path(args.rate_limits).read_text())
    )
    limits_arg = args.rate_limits
    if args.rate_scale != 1:
        # Every budget scaled (e.g. 0.1): on a small machine Pinecone's own numbers are above
        # what client and server can do at all, and then the share measures the CPU, not how
        # well the pipeline spends the limits.
        rates = {key: value * args.rate_scale for key, value in rates.items()}
        limits_arg = f"{tmp}/limits-scaled.json"
        Path(limits_arg).write_text(json.dumps(rates))
    workers_max = max(args.rate_workers)
    names = legacy_names(workers_max, seed=99)
    path = f"{tmp}/server-rate.sqlite3"
    child("fill", {"path": path, "namespaces": dict.fromkeys(names, args.rate_vectors)})
    (sample,) = vectors(0, 1, seed=1)
    json_bytes = (
        len(orjson.dumps({"id": sample.id, "values": sample.values.tolist(), "metadata": sample.metadata}))
        + 1
    )
    grpc_bytes = DIMENSION * 4 + len(sample.id) + 2 * len(orjson.dumps(sample.metadata)) + 16
    print(
        f"\n== Rate limits ({args.rate_limits} x {args.rate_scale:g}) at 20 ms: "
        f"{args.rate_vectors:,} vectors x {DIMENSION} per worker, "
        f"each worker migrating its own creator's namespace =="
    )
    server = Server(path, 20, django_env(tmp), rate_limits=limits_arg)
    try:
        for transport in args.transports:
            for workers in args.rate_workers:
                runs = [
                    project_run(
                        tmp,
                        server,
                        transport=transport,
                        sources=[names[w]],
                        creator=f"rate.{transport}.{workers}.{w}",
                        args=args,
                    )
                    for w in range(workers)
                ]
                procs = [
                    subprocess.Popen(
                        [
                            sys.executable,
                            __file__,
                            "--child",
                            "pipeline",
                            json.dumps(r["payload"] | {"env": {}}),
                        ],
                        env={**os.environ, **r["env"]},
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                    for r in runs
                ]
                outs = [p.communicate() for p in procs]
                for proc, (out, err) in zip(procs, outs, strict=True):
                    if proc.returncode != 0:
                        raise SystemExit(f"rate-limited pipeline failed:\n{out[-2000:]}\n{err[-4000:]}")
                results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
                child("clean", {"path": path, "keep": names})
                moved = sum(r["vectors"] for r in results)
                # From the first run's start to the last one's verification (backup, copy and
                # verify; process start-up and the cut-over left out, as in the other figures).
                wall = max(r["verified_at"] for r in results) - min(r["started_at"] for r in results)
                rate = moved / wall
                bound = rate_bound(
                    rates,
                    transport=transport,
                    namespaces=workers,
                    vector_bytes=grpc_bytes if transport == "grpc" else json_bytes,
                    id_bytes=len(sample.id),
                )
                limit_name, limit = min(bound.items(), key=lambda kv: kv[1])
                share = rate / limit
                print(
                    f"{transport:4} x {workers} worker(s): {moved:,} vectors in {wall:.1f} s = "
                    f"{rate:,.0f} vectors/s; bound {limit:,.0f}/s by {limit_name} "
                    f"({', '.join(f'{k} {v:,.0f}' for k, v in bound.items())}); {share:.0%} of it "
                    f"(aim >= 80%); verified {all(r['verified'] for r in results)}   ({load()})"
                )
                row(
                    f"rate limits x {args.rate_scale:g}, {transport}, {workers} worker(s), 20 ms",
                    f"{rate:,.0f} vectors/s of {limit:,.0f} ({limit_name}) = {share:.0%} (aim >= 80%)",
                )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--local-vectors", "--vectors", type=int, default=100_000, help="local -> local size")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000], help="vectors through the SDK"
    )
    parser.add_argument("--http-namespaces", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 20])
    parser.add_argument("--transports", nargs="+", choices=["rest", "grpc"], default=["rest", "grpc"])
    parser.add_argument("--rate-limits", default="pinecone", help="pinecone_local's preset or a JSON file")
    parser.add_argument("--rate-workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rate-scale", type=float, default=1.0, help="every rate limit times this")
    parser.add_argument("--rate-vectors", type=int, default=10_000, help="vectors per rate-limited worker")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-rate-limits", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10k local, 2k through the SDK, 2k per worker")
    parser.add_argument("--concurrency", type=int, help="MIGRATION_CONCURRENCY (default: adaptive)")
    parser.add_argument("--batch-size", type=int, help="MIGRATION_BATCH_SIZE (default: the engine's)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](json.loads(args.child[1]))))
        return
    if args.quick:
        args.local_vectors, args.sizes, args.http_namespaces = 10_000, [2_000], 4
        args.rate_vectors, args.rate_workers = 2_000, [1, 2]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {load()} at the start")
    tmp = tempfile.mkdtemp(prefix="twinadmin-mbench-")
    try:
        if not args.skip_local:
            local_part(args, tmp)
        if not args.skip_http:
            for size in args.sizes:
                http_part(args, tmp, size)
        if not args.skip_rate_limits:
            rate_part(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n== Summary ==")
    width = max((len(label) for label, _ in ROWS), default=0)
    for label, figure in ROWS:
        print(f"{label:<{width}}  {figure}")


if __name__ == "__main__":
    main()
