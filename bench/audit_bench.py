"""Audit log at scale: a million entries.

    .venv/bin/python bench/audit_bench.py [--entries 1000000] [--requests 30] [--database-url URL]

Seeds a scratch database (a temporary SQLite file unless --database-url names another, e.g.
postgres://postgres@127.0.0.1:5432/twinadmin_audit_bench, which is flushed first) with a valid
hash chain, computed in Python and bulk-inserted in batches. Then prints:

- the auditor list page, through Django's test client, per filter: server time p50/p95/max and
  SQL queries per request (in-process: middleware, view, templates, database; no network);
- export throughput, rows/s, of the whole log as CSV and as JSON Lines (streamed);
- the time `audit_verify` takes to re-hash the whole chain and check it against the signed
  checkpoints (and the chain walk alone), and `audit_verify --offline` from an export;
- the cost of the Merkle tree and signatures: `audit_record` per entry on top of the log,
  writing a checkpoint at 1M entries, inclusion and consistency proof sizes.

`--skip-pages` leaves out the list pages and exports through the test client.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import benchenv  # noqa: E402  (bench/, beside this file)

BATCH = 10_000
CREATORS = 12_000
ACTORS = [f"user{i:02d}" for i in range(40)] + ["cli:delete_twin", "cli:erase_creator", "system"]
ACTIONS = [  # (action, target_type)
    ("twin.delete.start", "twin"),
    ("twin.delete.success", "twin"),
    ("twin.delete.failure", "twin"),
    ("creator.erase.request", "request"),
    ("creator.erase.approve", "request"),
    ("creator.erase.start", "creator"),
    ("creator.erase.success", "creator"),
    ("creator.erase.failure", "creator"),
    ("namespace.migrate.start", "namespace"),
    ("namespace.migrate.success", "namespace"),
    ("namespace.copy.verify", "namespace"),
    ("namespace.delete.success", "namespace"),
    ("backup.create.success", "backup"),
    ("run.start", "run"),
    ("run.finish", "run"),
    ("index.refresh", "index"),
]
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
STEP = dt.timedelta(seconds=60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--appends", type=int, default=2000, help="audit_record calls timed on top")
    parser.add_argument("--skip-pages", action="store_true", help="only appends, checkpoints, verify")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="twinadmin-audit-bench-")
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # half a gigabyte at a million entries


def run(args: argparse.Namespace, tmp: str) -> None:
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["DEBUG"] = "0"  # DEBUG would keep every query in memory
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ["VECTOR_LOCAL_PATH"] = f"{tmp}/vectors.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinadmin.settings")
    os.environ["AUDIT_SIGNING_KEY_FILE"] = f"{tmp}/audit/signing-key.pem"
    os.environ["AUDIT_CHECKPOINT_DIR"] = f"{tmp}/audit/checkpoints"
    benchenv.throwaway_kek(tmp)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.ALLOWED_HOSTS = ["*"]
    if args.database_url:
        call_command("migrate", verbosity=0)
        from twinadmin.audit.dbguard import scratch_may_empty_the_log

        scratch_may_empty_the_log(connection)  # a scratch database: the audit table may be emptied
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)

    started = time.perf_counter()
    seed(args.entries)
    seconds = time.perf_counter() - started
    print(
        f"seeded {args.entries:,} entries on {connection.vendor} in {seconds:.1f} s "
        f"({args.entries / seconds:,.0f} rows/s, chain computed in Python)"
    )
    call_command("audit_keygen", stdout=io.StringIO(), stderr=io.StringIO())
    first = checkpoint(f"checkpoint of {args.entries:,} entries")
    appends(args.appends)
    checkpoint(f"checkpoint of {args.entries + args.appends:,} (checks the first)")
    proofs(first.tree_size, args.entries + args.appends)
    if not args.skip_pages:
        client = pages(args.entries, args.requests)
        exports(client, args.entries)
    verify()
    offline(tmp)


def seed(n: int) -> None:
    """Rows with a valid chain and their Merkle leaf hashes, inserted in batches of BATCH. Raw
    inserts (executemany on SQLite, COPY on PostgreSQL): the ORM would spend most of the time
    building objects."""
    from django.db import connection, transaction

    from twinadmin.audit.chain import GENESIS_HASH, entry_digests
    from twinadmin.audit.exports import EXPORT_FIELDS
    from twinadmin.audit.models import AuditEntry, AuditHead

    rng = random.Random(42)
    # Every column but the id, in the order of the rows below. No entry MACs: the key is made
    # after seeding, as on an upgraded install, and the first checkpoint signs this history.
    columns = (*EXPORT_FIELDS, "leaf_hash", "entry_mac")
    table = AuditEntry._meta.db_table
    at_field = AuditEntry._meta.get_field("at")
    prev, job = GENESIS_HASH, uuid.uuid4()
    batch: list[tuple] = []
    for seq in range(1, n + 1):
        action, target_type = ACTIONS[rng.randrange(len(ACTIONS))]
        creator = "" if target_type == "index" else f"c{rng.randrange(CREATORS):05d}"
        if rng.random() < 0.25:
            job = uuid.uuid4()
        before = rng.randrange(1000)
        fields = {
            "seq": seq,
            "at": START + seq * STEP,
            "actor": ACTORS[rng.randrange(len(ACTORS))],
            "action": action,
            "target_type": target_type,
            "target_id": _target_id(target_type, creator, rng),
            "creator_id": creator,
            "correlation_id": job,
            "outcome": _outcome(action),
            "details": {
                "vectors_before": before,
                "vectors_after": 0 if action.endswith("success") else before,
            },
            "prev_hash": prev,
        }
        digest, leaf = entry_digests(**fields)
        at = fields["at"]
        batch.append(
            (
                seq,
                at.isoformat()
                if connection.vendor == "postgresql"
                else at_field.get_db_prep_save(at, connection),
                fields["actor"],
                action,
                target_type,
                fields["target_id"],
                creator,
                str(job) if connection.vendor == "postgresql" else job.hex,
                fields["outcome"],
                json.dumps(fields["details"]),
                prev,
                digest,
                leaf,
                "",
            )
        )
        prev = digest
        if len(batch) == BATCH or seq == n:
            with transaction.atomic(), connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
                else:
                    marks = ", ".join(["%s"] * len(columns))
                    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch)
            batch = []
    AuditHead.objects.update_or_create(
        pk=AuditHead.SINGLETON, defaults={"last_seq": n, "last_hash": prev, "last_at": START + n * STEP}
    )
    with connection.cursor() as cursor:
        # What autovacuum does to a freshly filled table on PostgreSQL (statistics, and the
        # visibility map that lets counts read indexes alone); SQLite: `PRAGMA optimize`.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def appends(n: int) -> None:
    """`audit_record` as the app calls it, n times on top of the seeded log: each its own
    transaction (lock the head, insert, move the head), as every real caller does."""
    from twinadmin.audit.services import audit_record

    times = []
    for i in range(n):
        start = time.perf_counter()
        audit_record(
            actor="bench",
            action="twin.delete.start",
            target_type="twin",
            target_id=f"t{i % 40:03d}",
            creator_id="c00042",
            outcome="intent",
            details={"vectors_before": i},
        )
        times.append((time.perf_counter() - start) * 1e6)
    print(
        f"\nappend (audit_record), {n:,} calls: p50 {statistics.median(times):,.0f} us, "
        f"p95 {_p95(times):,.0f} us, mean {statistics.fmean(times):,.0f} us per entry"
    )


def _target_id(target_type: str, creator: str, rng: random.Random) -> str:
    if target_type == "twin":
        return f"t{rng.randrange(40):03d}"
    if target_type == "index":
        return "digital-twin-brain"
    if target_type == "namespace":
        return f"creator_{creator}_twin_t{rng.randrange(40):03d}"
    return f"{target_type}-{rng.randrange(100_000)}"


def _outcome(action: str) -> str:
    last = action.rsplit(".", 1)[-1]
    return {"start": "intent", "request": "intent", "success": "success", "failure": "failure"}.get(
        last, "info"
    )


def pages(n: int, requests: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from twinadmin.audit.models import AuditEntry

    user = get_user_model().objects.create_user("bench-auditor", password="x")
    user.groups.add(Group.objects.get_or_create(name="auditors")[0])
    client = Client()
    client.force_login(user)

    mid = START + (n // 2) * STEP
    week = {"date_from": mid.date().isoformat(), "date_to": (mid + dt.timedelta(days=6)).date().isoformat()}
    sample = AuditEntry.objects.get(seq=max(1, n // 3))
    url = reverse("audit-list-entries")
    cases = [
        ("newest, full page", {}),
        ("newest (htmx)", {"htmx": True}),
        ("deep page before=seq/2 (htmx)", {"before": n // 2, "htmx": True}),
        ("action exact", {"action": "twin.delete.failure"}),
        ("action prefix creator.erase.*", {"action": "creator.erase.*"}),
        ("action prefix, no match", {"action": "no.such.*"}),
        ("actor", {"actor": "user07"}),
        ("creator (rare)", {"creator": sample.creator_id or "c00042"}),
        ("target twin + id", {"target_type": "twin", "target_id": "t007"}),
        ("target namespace (rare id)", {"target_id": sample.target_id}),
        ("outcome failure", {"outcome": "failure"}),
        ("correlation id", {"correlation": str(sample.correlation_id)}),
        ("date range: one week", week),
        ("week + creator", {**week, "creator": "c00042"}),
        ("action+actor+outcome", {"action": "twin.delete.*", "actor": "user07", "outcome": "failure"}),
        ("no match (actor)", {"actor": "nobody-at-all"}),
        ("no match (week, action)", {**week, "action": "no.such.action"}),
    ]
    print(f"\nlist page, {requests} requests each, PAGE_SIZE 50, counts capped at 10,000")
    print(f"{'case':<34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8} {'matching':>10}")
    for label, params in cases:
        params = dict(params)
        headers = {"HTTP_HX_REQUEST": "true"} if params.pop("htmx", False) else {}
        client.get(url, params, **headers)  # warm caches, as a running server would be
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(url, params, **headers)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params, **headers)
        found = re.search(r"(more than )?(\d+) matching", response.content.decode())
        matching = f"{int(found[2]):,}{'+' if found[1] else ''}"
        print(
            f"{label:<34} {statistics.median(times):8.1f} {_p95(times):8.1f} {max(times):8.1f} "
            f"{len(queries):8d} {matching:>10}"
        )
    detail = reverse("audit-entry-detail", args=[sample.seq])
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        assert client.get(detail).status_code == 200
        times.append((time.perf_counter() - start) * 1000)
    print(f"{'entry detail':<34} {statistics.median(times):8.1f} {_p95(times):8.1f} {max(times):8.1f}")
    return client


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def exports(client, n: int) -> None:
    from django.urls import reverse

    print("\nexport of the whole log through the test client (streamed)")
    for fmt in ("csv", "jsonl"):
        start = time.perf_counter()
        response = client.get(reverse("audit-export-entries"), {"format": fmt})
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        seconds = time.perf_counter() - start
        rows = lines - (1 if fmt == "csv" else 0)
        assert rows >= n, (fmt, rows, n)
        print(
            f"  {fmt:<6} {rows:,} rows, {size / 1e6:,.0f} MB in {seconds:.1f} s: {rows / seconds:,.0f} rows/s"
        )


def checkpoint(label: str):
    from twinadmin.audit.checkpoints import audit_checkpoint_create

    made, seconds = audit_checkpoint_create()
    print(f"{label}: {seconds:.2f} s (root {made.root_hash[:16]}…)")
    return made


def proofs(first: int, size: int) -> None:
    """Proof sizes (RFC 9162: one 32-byte hash per tree level) and what building them costs."""
    from twinadmin.audit import merkle
    from twinadmin.audit.checkpoints import stored_leaves
    from twinadmin.audit.proofs import audit_proof_build

    start = time.perf_counter()
    bundle = audit_proof_build([size // 3, size // 2, size])
    seconds = time.perf_counter() - start
    path = bundle["entries"][0]["inclusion_proof"]
    size_json = len(json.dumps(bundle))
    leaves = stored_leaves(size)
    consistency = merkle.consistency_proof(leaves, first, size)
    print(
        f"\ninclusion proof at {size:,}: {len(path)} hashes = {32 * len(path)} bytes; "
        f"3 entries + checkpoint as receipt JSON: {size_json:,} bytes, built in {seconds:.2f} s"
    )
    print(
        f"consistency proof {first:,} -> {size:,}: {len(consistency)} hashes = {32 * len(consistency)} bytes"
    )


def offline(tmp: str) -> None:
    """What an external auditor runs: the whole log exported, then checked with no database."""
    from pathlib import Path

    from twinadmin.audit.checkpoints import checkpoint_files
    from twinadmin.audit.exports import export_jsonl
    from twinadmin.audit.keys import public_key_load
    from twinadmin.audit.models import AuditEntry
    from twinadmin.audit.verify import offline_verify

    path = Path(tmp) / "export.jsonl"
    start = time.perf_counter()
    with path.open("w") as f:
        f.writelines(export_jsonl(AuditEntry.objects.all()))
    exported = time.perf_counter() - start
    start = time.perf_counter()
    report = offline_verify(path, checkpoint_files(), public_key_load())
    seconds = time.perf_counter() - start
    assert report.ok, report
    print(
        f"audit_verify --offline: {seconds:.1f} s for {report.entries:,} entries and "
        f"{len(report.checkpoints)} checkpoints (export written in {exported:.1f} s, "
        f"{path.stat().st_size / 1e6:,.0f} MB)"
    )


def verify() -> None:
    from django.core.management import call_command

    from twinadmin.audit.services import audit_chain_verify

    out = io.StringIO()
    start = time.perf_counter()
    call_command("audit_verify", stdout=out)
    seconds = time.perf_counter() - start
    lines = out.getvalue().strip().splitlines()
    print(f"\naudit_verify against {len(lines) - 1} checkpoints: {seconds:.1f} s — {lines[0]}")
    report = audit_chain_verify()
    print(f"chain walk alone (leaves recomputed, no checkpoint roots): {report.seconds:.1f} s")


if __name__ == "__main__":
    main()
