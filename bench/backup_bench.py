"""Backup storage figures (issue 17): the local -> local migration pipeline at dimension 1536 with
its (encrypted) backups in a directory and in an S3-compatible bucket (moto's server on loopback,
reached through the same client as a production bucket), beside a raw copy of the same data.

    .venv/bin/python bench/backup_bench.py [--vectors 100000] [--quick] [--backends file s3]

For each backend: the pipeline's time (backup + copy + verify, cut-over apart) as a ratio to the
raw copy (aim <= 2.0), and the pipeline process's peak RSS (VmHWM, Django included; aim <= 300
MB). The measuring children are bench/migration_bench.py's (one piece of code for the pipeline
run); this script only adds the backends. Everything lives in a temporary directory that is
removed afterwards. The machine is shared: the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import migration_bench as mb  # noqa: E402

DIMENSION = mb.DIMENSION


def run_backend(name: str, tmp: Path, store: Path, source: str, extra_env: dict[str, str]) -> dict:
    """The pipeline on its own copy of the filled store and its own database."""
    here = tmp / name
    here.mkdir()
    local = here / "local.sqlite3"
    shutil.copy(store, local)
    env = mb.django_env(str(here), VECTOR_BACKEND="local", VECTOR_LOCAL_PATH=str(local), **extra_env)
    mb.child("migrate", {"env": env})
    return mb.child(
        "pipeline",
        {"env": env, "sources": [source], "creator": f"bench.{name}", "backups": str(here / "backups")},
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 vectors")
    parser.add_argument("--backends", nargs="+", default=["file", "s3"], choices=["file", "s3"])
    args = parser.parse_args()
    count = 10_000 if args.quick else args.vectors

    from tests.support.s3 import aws_env, create_bucket, start_moto

    tmp = Path(tempfile.mkdtemp(prefix="backup-bench-"))
    moto = None
    try:
        store = tmp / "filled.sqlite3"
        (source,) = mb.legacy_names(1, seed=1)
        print(f"== Local -> local, {count:,} vectors x {DIMENSION}: backups in a directory and in S3 ==")
        fill = mb.child("fill", {"path": str(store), "namespaces": {source: count}})
        print(f"fill (setup, not compared)        {fill['seconds']:7.1f} s")
        raw_store = tmp / "raw.sqlite3"
        shutil.copy(store, raw_store)
        raw = mb.child("raw", {"path": str(raw_store), "source": source, "target": "raw-copy"})
        raw_store.unlink()
        print(f"raw copy (read all + write all)   {raw['seconds']:7.1f} s   ({mb.load()})")

        moto = start_moto(tmp / "moto.log")
        create_bucket(moto.url, "backup-bench")
        backends = {
            "file": {},
            "s3": {**aws_env(moto.url), "MIGRATION_BACKUP_URL": "s3://backup-bench/backups"},
        }
        rows = []
        for name, extra in backends.items():
            if name not in args.backends:
                continue
            result = run_backend(name, tmp, store, source, extra)
            seconds = mb.pipeline_seconds(result)
            t = result["times"]
            ratio = seconds / raw["seconds"]
            print(
                f"{name:>4} backups: backup+copy {t['backup']:.1f} s + copy {t['copy']:.1f} s + verify "
                f"{t['verify']:.1f} s = {seconds:.1f} s (cut-over {t['cutover']:.2f} s apart); status "
                f"{result['status']}, verified {result['verified']}, {result['vectors']:,} vectors, backup "
                f"{result['backup_bytes'] / 2**20:,.0f} MB; ratio {ratio:.2f}x, peak RSS "
                f"{result['rss_peak_mb']:.0f} MB   ({mb.load()})"
            )
            rows.append((name, seconds, ratio, result["rss_peak_mb"]))
        print("\n| backups | pipeline | ratio to raw copy (aim <= 2.0) | peak RSS (aim <= 300 MB) |")
        print("|---|---|---|---|")
        for name, seconds, ratio, rss in rows:
            print(f"| {name} | {seconds:.1f} s | {ratio:.2f}x | {rss:.0f} MB |")
        print(f"raw copy {raw['seconds']:.1f} s, its process's peak RSS {raw['rss_peak_mb']:.0f} MB")
    finally:
        if moto is not None:
            moto.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
