"""Load held (issue 15): 50 signed-in users browsing while a 100,000-vector migration runs.

    .venv/bin/pip install -r requirements-bench.txt     # locust, once
    .venv/bin/python bench/load_bench.py [--users 50] [--duration 60] [--redis-db 12]
                                         [--postgres postgres://postgres@127.0.0.1:5432]
                                         [--database twinadmin_load] [--keep-database]

What it does, in order (everything it starts is stopped, and its database dropped, at the end,
also on Ctrl-C or a failure):

1. Creates the PostgreSQL database --database (dropped first if it exists) and migrates it.
2. Seeds it in bulk: --namespaces namespaces in the index snapshot and --creators creators with
   their twins (bench/pages_bench.py's seed), --audit audit entries with a valid hash chain
   (bench/audit_bench.py's seed, COPY), --jobs finished and failed jobs, and one operator
   account per simulated user.
3. Fills a local vector store (a temporary SQLite file) with --vectors vectors at dimension
   --dimension in legacy UUID namespaces.
4. Starts gunicorn (--web-workers, `twinadmin.wsgi`, the gunicorn config of Procfile.prod) on a
   free port with DEBUG=0, and a Celery worker on Redis db --redis-db.
5. Runs locust headless (bench/load_locustfile.py): the users sign in once each; when all have,
   a migration of those legacy namespaces into a new creator is started through the migration
   services (as the "new migration" page does) for the worker to run, and the users browse for
   --duration seconds: overview, creators, namespaces and audit pages (paged and filtered), jobs
   list, creator detail. Then locust is stopped.
6. Prints, per page: requests, errors, p50/p95/p99/max, twice:
   - server-side: gunicorn's own request time (access log `%(D)s`, from the worker reading the
     request to the response written; a request waiting for a free worker is not counted);
   - client-side, on loopback: locust's response time (includes waiting for a free worker).
   The issue's target is server p95 <= 150 ms over all pages with no errors; the figures are for
   the steady state (after the last sign-in). Sign-in is listed apart: its cost is the password
   hash, on purpose.

The machine's load matters: on a shared 2-core machine the figures are noisy.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import benchenv  # noqa: E402  (bench/, beside this file)

VENV_BIN = Path(sys.executable).parent
SIGN_IN = "sign in"
# The access log: the page's name (X-Bench-Page), status, request time in microseconds, request line.
ACCESS_FORMAT = "%({x-bench-page}i)s\t%(s)s\t%(D)s\t%(m)s %(U)s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load after the last sign-in")
    parser.add_argument(
        "--wait",
        type=float,
        nargs=2,
        default=(1.0, 3.0),
        metavar=("MIN", "MAX"),
        help="think time between two pages, seconds",
    )
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--namespaces", type=int, default=25_000)
    parser.add_argument("--creators", type=int, default=12_000)
    parser.add_argument("--audit", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=3_000)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--legacy-namespaces", type=int, default=20)
    parser.add_argument("--dimension", type=int, default=64)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="twinadmin_load")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument(
        "--conn-max-age", type=int, default=0,
        help="seconds the web workers keep a database connection (DATABASE_URL ?conn_max_age=); "
        "0, the default, opens one per request as the settings do unless DATABASE_URL says otherwise",
    )  # fmt: skip
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="twinadmin-load-"))
    procs: list[subprocess.Popen] = []
    created = False
    try:
        create_database(args.postgres, args.database)
        created = True
        env = server_env(args, tmp)
        os.environ.update(env)
        setup_and_seed(args, tmp)
        port = free_port()
        procs.append(start_gunicorn(args, env, tmp, port))
        procs.append(start_worker(env, tmp))
        wait_for_web(port, procs[0], tmp)
        wait_for_log(tmp / "worker.log", "ready", procs[1])
        load_before = os.getloadavg()[0]
        run_id, started = run_locust(args, env, tmp, port)
        report(args, tmp, run_id, started)
        print(
            f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before the run, "
            f"{os.getloadavg()[0]:.1f} (1 min) at its end; locust, gunicorn, the worker and "
            "PostgreSQL share them"
        )
    finally:
        for proc in reversed(procs):
            stop(proc)
        if created and not args.keep_database:
            from django.db import connections

            connections.close_all()
            drop_database(args.postgres, args.database)
        flush_redis(args)
        shutil.rmtree(tmp, ignore_errors=True)


# -- database and processes -----------------------------------------------------------------------


def _admin_connection(postgres: str):
    import psycopg

    return psycopg.connect(f"{postgres.rstrip('/')}/postgres", autocommit=True)


def create_database(postgres: str, name: str) -> None:
    from psycopg import sql

    with _admin_connection(postgres) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"created database {name}")


def drop_database(postgres: str, name: str) -> None:
    from psycopg import sql

    with _admin_connection(postgres) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    print(f"dropped database {name}")


def flush_redis(args: argparse.Namespace) -> None:
    """Our own Redis database number only: whatever messages the run left behind."""
    import redis

    redis.Redis.from_url(f"{args.redis}/{args.redis_db}").flushdb()


def server_env(args: argparse.Namespace, tmp: Path) -> dict[str, str]:
    """What gunicorn, the worker and this process share. Set explicitly, so that a developer's
    .env (read with lower precedence) cannot change the figures."""
    return {
        "DJANGO_SETTINGS_MODULE": "twinadmin.settings",
        "DATABASE_URL": f"{args.postgres.rstrip('/')}/{args.database}"
        + (f"?conn_max_age={args.conn_max_age}&conn_health_checks=true" if args.conn_max_age else ""),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),  # a fresh throwaway key per run
        "ALLOWED_HOSTS": "127.0.0.1",
        "HTTPS": "0",
        "REQUIRE_2FA_FOR": "",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
        "CELERY_BROKER_URL": f"{args.redis}/{args.redis_db}",
        "VECTOR_BACKEND": "local",
        "VECTOR_LOCAL_PATH": str(tmp / "vectors.sqlite3"),
        "VECTOR_DIMENSION": str(args.dimension),
        "MIGRATION_BACKUP_DIR": str(tmp / "backups"),
        "AUDIT_SIGNING_KEY_FILE": str(tmp / "audit" / "signing-key.pem"),
        "AUDIT_CHECKPOINT_DIR": str(tmp / "audit" / "checkpoints"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"),
        "BACKUP_KEK_FILE": benchenv.throwaway_kek(tmp),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # A process group of its own: stop() ends it and every child it forked, and nothing else.
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_gunicorn(args: argparse.Namespace, env: dict[str, str], tmp: Path, port: int) -> subprocess.Popen:
    (tmp / "prometheus").mkdir(exist_ok=True)
    cmd = [
        str(VENV_BIN / "gunicorn"), "twinadmin.wsgi",
        "--config", "python:twinadmin.ops.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--workers", str(args.web_workers),
        "--access-logfile", str(tmp / "access.log"), "--access-logformat", ACCESS_FORMAT,
        "--no-control-socket",
    ]  # fmt: skip
    return _spawn(cmd, env, tmp / "gunicorn.log")


def start_worker(env: dict[str, str], tmp: Path) -> subprocess.Popen:
    cmd = [str(VENV_BIN / "celery"), "-A", "twinadmin", "worker", "--loglevel=INFO", "--concurrency=1",
           "--without-gossip", "--without-mingle", "--hostname", f"load-bench-{os.getpid()}@%h"]  # fmt: skip
    # The worker logs its "ready" line at INFO: do not quieten it.
    return _spawn(cmd, {**env, "LOG_LEVEL": "INFO"}, tmp / "worker.log")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def wait_for_web(port: int, proc: subprocess.Popen, tmp: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{(tmp / 'gunicorn.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as r:
                if r.status == 200:
                    print(f"gunicorn ({proc.pid}) answers on 127.0.0.1:{port}")
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"gunicorn did not answer within {timeout:.0f}s")


def wait_for_log(log: Path, word: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{log.name}: the process exited:\n{log.read_text()[-3000:]}")
        if log.exists() and word in log.read_text(errors="replace"):
            print(f"celery worker ({proc.pid}) {word}")
            return
        time.sleep(0.5)
    raise SystemExit(f"no {word!r} in {log} within {timeout:.0f}s")


# -- seed ------------------------------------------------------------------------------------------


def setup_and_seed(args: argparse.Namespace, tmp: Path) -> None:
    import django

    django.setup()
    import io

    import audit_bench
    import pages_bench
    from django.core.management import call_command

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    ns, creators, twins, _stale = pages_bench.seed(
        args.creators, args.namespaces - args.legacy_namespaces, dimension=args.dimension
    )
    audit_bench.seed(args.audit)
    call_command("audit_keygen", stdout=io.StringIO(), stderr=io.StringIO())
    seed_jobs(args.jobs)
    seed_users(args.users)
    legacy = fill_vectors(args)
    from twinadmin.registry.services import index_snapshot_apply

    index_snapshot_apply(observed=legacy)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done to freshly filled tables
    print(
        f"seeded {ns + len(legacy):,} namespaces, {creators:,} creators, {twins:,} twins, "
        f"{args.audit:,} audit entries, {args.jobs:,} jobs, {args.users} operators, "
        f"{sum(legacy.values()):,} vectors in "
        f"{len(legacy)} legacy namespaces (dimension {args.dimension}) in {time.perf_counter() - began:.0f} s"
    )


def seed_jobs(n: int) -> None:
    """Finished jobs of every kind, a few failed, spread over the last months (newest first)."""
    from django.db import connection

    from twinadmin.jobs.handlers import known_kinds
    from twinadmin.jobs.models import Job

    kinds = sorted(known_kinds()) or ["refresh_index"]
    statuses = [Job.Status.SUCCEEDED] * 8 + [Job.Status.FAILED, Job.Status.CANCELLED]
    Job.objects.bulk_create(
        [
            Job(
                kind=kinds[i % len(kinds)],
                status=statuses[i % len(statuses)],
                message="done",
                progress_done=i,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:  # auto_now_add stamped them all "now": spread them out
        cursor.execute(
            f"UPDATE {Job._meta.db_table} SET created_at = now() - id * interval '17 minutes', "
            "started_at = now() - id * interval '17 minutes', "
            "finished_at = now() - id * interval '17 minutes' + interval '40 seconds'"
        )


def seed_users(n: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    password = os.environ.setdefault("LOAD_PASSWORD", secrets.token_urlsafe(16))
    hashed = make_password(password)  # once: hashing 50 times would cost a minute
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"load-operator-{i:02d}", password=hashed) for i in range(n)]
    )
    operators = Group.objects.get_or_create(name="operators")[0]
    operators.user_set.add(*users)
    os.environ["LOAD_USERS"] = ",".join(u.username for u in users)


def fill_vectors(args: argparse.Namespace) -> dict[str, int]:
    """--vectors vectors in --legacy-namespaces legacy UUID namespaces of the local store."""
    import uuid

    import numpy as np

    from twinadmin.vectors import Vector, get_index

    index = get_index()
    rng = np.random.default_rng(15)
    per = args.vectors // args.legacy_namespaces
    counts: dict[str, int] = {}
    for n in range(args.legacy_namespaces):
        name = str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | n, version=4))
        size = per if n < args.legacy_namespaces - 1 else args.vectors - per * n
        for start in range(0, size, 1000):
            count = min(1000, size - start)
            values = rng.standard_normal((count, args.dimension)).astype(np.float32)
            index.upsert(
                name,
                [
                    Vector(
                        f"doc-{start + i:06d}", values[i], {"source": f"uploads/doc-{(start + i) // 20}.pdf"}
                    )
                    for i in range(count)
                ],
            )
        counts[name] = size
    return counts


# -- the run ---------------------------------------------------------------------------------------


def start_migration(args: argparse.Namespace) -> int:
    """As the "new migration" page does: plan, save, hand to the worker after commit."""
    from django.db import transaction

    from migrations_app.services import migration_create, migration_enqueue

    with transaction.atomic():
        run = migration_create(actor="cli:load-bench", creator_id="load.bench", create_creator=True)
        migration_enqueue(run=run)
    print(f"migration run {run.pk} queued: {run.items.count()} legacy namespaces into creator load.bench")
    return run.pk


def run_locust(args: argparse.Namespace, env: dict[str, str], tmp: Path, port: int) -> tuple[int, float]:
    """Start the users; once all have signed in, queue the migration and let them browse for
    --duration seconds; then stop locust. Returns the run's id and when the steady state began."""
    locust_env = {
        **env,
        "LOAD_USERS": os.environ["LOAD_USERS"],
        "LOAD_PASSWORD": os.environ["LOAD_PASSWORD"],
        "LOAD_CREATORS": str(args.creators),
        "LOAD_AUDIT": str(args.audit),
        "LOAD_WAIT_MIN": str(args.wait[0]),
        "LOAD_WAIT_MAX": str(args.wait[1]),
        "LOAD_RECORD": str(tmp / "client.tsv"),
    }
    # A bound of its own, well past the sign-ins and the steady state: the driver stops it first.
    bound = int(args.duration + args.users / args.spawn_rate + 180)
    cmd = [
        str(VENV_BIN / "locust"), "-f", str(ROOT / "bench" / "load_locustfile.py"), "--headless",
        "--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", f"{bound}s",
        "--host", f"http://127.0.0.1:{port}", "--only-summary", "--stop-timeout", "10",
        "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    print(f"locust: {args.users} users, spawn rate {args.spawn_rate}/s ...", flush=True)
    proc = _spawn(cmd, locust_env, tmp / "locust.log")
    try:
        deadline = time.monotonic() + bound - args.duration
        while _sign_ins(tmp / "client.tsv") < args.users:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"not every user signed in:\n{(tmp / 'locust.log').read_text()[-3000:]}")
            time.sleep(0.2)
        steady = time.time()
        run_id = start_migration(args)
        print(f"all {args.users} users signed in; {args.duration} s of browsing ...", flush=True)
        time.sleep(args.duration)
    finally:
        stop(proc)
    return run_id, steady


def _sign_ins(record: Path) -> int:
    if not record.exists():
        return 0
    return sum(1 for line in record.read_text().splitlines() if line.startswith(SIGN_IN + "\t"))


def report(args: argparse.Namespace, tmp: Path, run_id: int, started: float) -> None:
    server = _steady(
        [(page, int(status), int(us) / 1000) for page, status, us, _r in _rows(tmp / "access.log", 4)],
    )
    client = _steady([(page, int(status), float(ms)) for page, status, ms in _rows(tmp / "client.tsv", 3)])
    print(
        f"\nsteady state: {args.users} signed-in users, think time {args.wait[0]:g}-{args.wait[1]:g} s, "
        f"{args.web_workers} gunicorn workers, conn_max_age {args.conn_max_age}"
    )
    for label, rows in (
        ("server-side (gunicorn request time)", server),
        ("client-side (locust, loopback)", client),
    ):
        print(f"\n{label}")
        print(HEADER)
        for page in sorted(rows):
            print(_line(page, rows[page]))
        pages = [r for page, rs in rows.items() if not page.startswith(SIGN_IN) for r in rs]
        print(_line("ALL PAGES (sign-in apart)", pages))
    _migration_report(run_id, started)
    pages = [r for page, rs in server.items() if not page.startswith(SIGN_IN) for r in rs]
    p95, errors = _pct([ms for _s, ms in pages], 95), sum(1 for s, _ms in pages if s != 200)
    verdict = "HELD" if p95 <= 150 and errors == 0 and pages else "MISSED"
    print(f"\ntarget server p95 <= 150 ms, no errors: {verdict} (p95 {p95:.1f} ms, {errors} errors)")


HEADER = f"{'page':<28} {'requests':>8} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"


HEADER = f"{'page':<28} {'requests':>8} {'errors':>7} " + " ".join(
    f"{h:>8}" for h in ("p50 ms", "p95 ms", "p99 ms", "max ms")
)


def _rows(path: Path, width: int) -> list[list[str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [row for row in csv.reader(f, delimiter="\t") if len(row) == width]


def _steady(rows: list[tuple[str, int, float]]) -> dict[str, list[tuple[int, float]]]:
    """Requests completed after the last sign-in, by page; sign-ins themselves kept apart."""
    last = max((i for i, (page, _s, _ms) in enumerate(rows) if page == SIGN_IN), default=-1)
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, (page, status, ms) in enumerate(rows):
        if page.startswith(SIGN_IN):
            out[page].append((200 if status in (200, 302) else status, ms))
        elif i > last and page != "-":
            out[page].append((status, ms))
    return out


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, int(round(p / 100 * len(ordered))) - 1)]


def _line(page: str, rows: list[tuple[int, float]]) -> str:
    ms = [m for _s, m in rows]
    errors = sum(1 for s, _m in rows if s != 200)
    median = statistics.median(ms) if ms else float("nan")
    return (
        f"{page:<28} {len(rows):8d} {errors:7d} {median:8.1f} {_pct(ms, 95):8.1f} {_pct(ms, 99):8.1f} "
        f"{max(ms, default=float('nan')):8.1f}"
    )


def _migration_report(run_id: int, started: float) -> None:
    from migrations_app.models import NamespaceMigration

    run = NamespaceMigration.objects.select_related("job").get(pk=run_id)
    job = run.job
    vectors = sum(run.items.values_list("source_count", flat=True))
    span = ""
    if job and job.started_at:
        end = job.finished_at.timestamp() if job.finished_at else time.time()
        begun = job.started_at.timestamp() - started
        span = f", ran from {begun:+.0f} s to {end - started:+.0f} s of the steady state"
    print(
        f"\nmigration run {run_id} ({vectors:,} vectors): {run.status}, phase {run.phase}{span}"
        + (f"; error: {json.dumps(run.error)[:300]}" if getattr(run, "error", "") else "")
    )


if __name__ == "__main__":
    main()
