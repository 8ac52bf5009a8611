"""The API's status endpoint at scale: requests per second and latency of
`GET /api/v1/erasure-requests/{id}` (and, for comparison, a creator's twin list) at 12,000
creators.

    .venv/bin/python bench/api_bench.py [--creators 12000] [--requests 500]
                                        [--database-url postgres://postgres@127.0.0.1:5432/twinadmin_api_bench]

Seeds a scratch database (flushed first; the audit table too; a temporary SQLite file unless
--database-url names another; the PostgreSQL database is created when absent): CREATORS creators
with two twins each, an erasure request for one creator in four (a mix of pending, approved,
completed and failed), and one API client. Then it calls each endpoint REQUESTS times in a row
through Django's WSGI handler in-process (middleware, token check, rate-limit counter, audit
entry of the read, JSON; no network) and prints requests per second, p50/p95/p99/max and the SQL
queries of one call, with a database connection per request (the settings' default) and with a
persistent one (CONN_MAX_AGE=600). The status read writes an audit entry (it is personal-data-adjacent): the
append takes the log's head lock, so the figure includes one short write transaction.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import benchenv  # noqa: E402  (bench/, beside this file)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creators", type=int, default=12_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="twinadmin-api-bench-")
    if args.database_url.startswith("postgres"):
        _create_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("DEBUG", "1")
    os.environ["VECTOR_LOCAL_PATH"] = f"{tmp}/vectors.sqlite3"
    os.environ["AUDIT_SIGNING_KEY_FILE"] = f"{tmp}/audit/signing-key.pem"
    os.environ["AUDIT_CHECKPOINT_DIR"] = f"{tmp}/audit/checkpoints"
    benchenv.throwaway_kek(tmp)
    os.environ["API_RATE_LIMIT"] = "1000000/minute"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinadmin.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from twinadmin.audit.dbguard import scratch_may_empty_the_log

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    scratch_may_empty_the_log(connection)
    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    token, request_ids = seed(args.creators)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(
        f"seeded {args.creators:,} creators, {2 * args.creators:,} twins, "
        f"{len(request_ids):,} erasure requests on {connection.vendor}"
    )
    print(
        f"\n{'endpoint':<42} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'queries':>8}"
    )
    paths = {
        "GET /erasure-requests/{id} (audited)": [
            f"/api/v1/erasure-requests/{request_ids[i % len(request_ids)]}" for i in range(args.requests)
        ],
        "GET /creators/{id}/twins": [
            f"/api/v1/creators/c{(i * 7) % args.creators:05d}/twins" for i in range(args.requests)
        ],
    }
    # The settings open a database connection per request (CONN_MAX_AGE 0, Django's default);
    # persistent connections show what the connection set-up costs of each call.
    for max_age in (0, 600):
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = max_age
        print(f"-- CONN_MAX_AGE={max_age}")
        for label, urls in paths.items():
            print(f"{label:<42} " + measure(urls, token))


def _create_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def seed(n_creators: int) -> tuple[str, list[int]]:
    from twinadmin.api.models import SCOPE_NAMES
    from twinadmin.api.services import api_client_create
    from twinadmin.erasure.models import ErasureRequest
    from twinadmin.registry.models import Creator, Twin

    Creator.objects.bulk_create(
        [Creator(creator_id=f"c{i:05d}", display_name=f"Creator {i}") for i in range(n_creators)],
        batch_size=2000,
    )
    creators = list(Creator.objects.order_by("creator_id"))
    Twin.objects.bulk_create(
        [Twin(creator=c, twin_id=t, name=t, vector_count=10) for c in creators for t in ("sales", "support")],
        batch_size=2000,
    )
    statuses = ["pending", "approved", "completed", "failed"]
    ErasureRequest.objects.bulk_create(
        [
            ErasureRequest(
                creator_id=c.creator_id,
                reason="account deleted",
                ticket_reference=f"DSR-{i}",
                status=statuses[i % 4],
                requested_by_name="api:bench",
                approved_scope_digest="" if i % 4 == 0 else "0" * 64,
                approved_scope={}
                if i % 4 == 0
                else {"namespaces": [{"name": c.namespace}], "total_vectors": 20},
            )
            for i, c in enumerate(creators[::4])
        ],
        batch_size=2000,
    )
    _, token = api_client_create(name="bench", scopes=list(SCOPE_NAMES), actor="cli:api_bench")
    return token, list(ErasureRequest.objects.values_list("pk", flat=True))


def measure(urls: list[str], token: str) -> str:
    from django.db import connection
    from django.test import Client

    client = Client(headers={"Authorization": f"Bearer {token}"})
    assert client.get(urls[0]).status_code == 200  # warm: caches
    queries: list[str] = []  # counted by a wrapper: each request resets Django's own query log

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        assert client.get(urls[1 % len(urls)]).status_code == 200
    times = []
    started = time.perf_counter()
    for url in urls:
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content[:300]
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(times, n=100)
    return (
        f"{len(urls) / elapsed:>8.0f} {statistics.median(times):>8.1f} {q[94]:>8.1f} {q[98]:>8.1f} "
        f"{max(times):>8.1f} {len(queries):>8}"
    )


if __name__ == "__main__":
    main()
