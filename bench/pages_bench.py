"""Page timings at scale, at two sizes: the same pages at each, and whether their query counts stay
the same (they must: every page reads a constant number of queries, whatever the table sizes).

    .venv/bin/python bench/pages_bench.py [--sizes 25000:12000 100000:50000] [--requests 40]
                                          [--database-url URL]

Each size is NAMESPACES:CREATORS: 100,000 is the per-index namespace limit of Pinecone's Standard
plan. For each size the bench seeds a scratch database (a temporary SQLite file unless
--database-url names another, e.g. postgres://postgres@127.0.0.1:5432/twinadmin_bench, which is
flushed first; the audit table too), refreshes the planner's statistics (what autovacuum does on a
live database), then requests each page through Django's test client and prints server time
p50/p95/max and the number of SQL queries per page. Server time is the whole request/response
cycle in-process: middleware, view, template rendering, database; no network. The last table puts
the sizes side by side: p95 against the 150 ms target, and the query counts.

The Drift page re-reads its erasure alarms' namespaces from the index. The seed gives it stale
ones: erased creators (and their deleted twins) whose namespaces the snapshot still lists but the
(empty) index does not hold. The first request drops them; "drift page, live re-read" puts them
back before every request, so that line pays for the re-read each time.
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

TARGET_MS = 150.0


def size_arg(text: str) -> tuple[int, int]:
    namespaces, _, creators = text.partition(":")
    try:
        pair = int(namespaces), int(creators)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a size is NAMESPACES:CREATORS, e.g. 25000:12000, not {text!r}"
        ) from None
    if pair[1] < 1 or pair[0] < pair[1] + 300:  # creator-wide namespaces, legacy ones and the stale ones
        raise argparse.ArgumentTypeError(f"{text}: needs creators >= 1 and namespaces >= creators + 300")
    return pair


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--sizes", type=size_arg, nargs="+", default=[(25_000, 12_000), (100_000, 50_000)],
        metavar="NAMESPACES:CREATORS",
    )  # fmt: skip
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="twinadmin-bench-")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("DEBUG", "1")
    os.environ["VECTOR_LOCAL_PATH"] = f"{tmp}/vectors.sqlite3"
    benchenv.throwaway_kek(tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinadmin.settings")
    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from twinadmin.audit.dbguard import scratch_may_empty_the_log

    settings.ALLOWED_HOSTS = ["*"]
    logging.getLogger("axes").setLevel(logging.WARNING)  # a line per sign-in otherwise
    call_command("migrate", verbosity=0)
    results: dict[tuple[int, int], dict[str, tuple[float, int]]] = {}
    for size in args.sizes:
        scratch_may_empty_the_log(connection)  # a scratch database: the audit table may be emptied
        call_command("flush", interactive=False, verbosity=0)
        call_command("migrate", verbosity=0)  # the roles (groups) come from a data migration
        results[size] = measure(*size, requests=args.requests)
    compare(results)


def measure(n_namespaces: int, n_creators: int, *, requests: int) -> dict[str, tuple[float, int]]:
    """Seed one size and time every page: {page: (p95 ms, queries)}."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from twinadmin.registry.models import IndexNamespace
    from twinadmin.registry.services import index_snapshot_apply

    namespaces, creators, twins, stale = seed(n_creators, n_namespaces)
    with connection.cursor() as cursor:
        # What autovacuum does to freshly filled tables on a live database: planner statistics
        # (and, on PostgreSQL, the visibility map that lets counts read indexes alone).
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(
        f"\nseeded {creators:,} creators, {twins:,} twins, {namespaces:,} namespaces on {connection.vendor}; "
        f"{len(stale)} stale namespaces of erased creators in the snapshot only"
    )

    def put_back_stale_rows() -> None:
        index_snapshot_apply(observed=stale)

    user = get_user_model().objects.create_user("bench-auditor", password="x")
    user.groups.add(Group.objects.get_or_create(name="auditors")[0])
    client = Client()
    client.force_login(user)

    # Pages deep into the lists scale with the size, as a user paging to the end would.
    last_ns_page = max(1, n_namespaces // 50 // 4)
    pages = [
        ("overview", reverse("registry-overview"), {}),
        ("namespaces, page 1", reverse("registry-list-namespaces"), {}),
        ("namespaces, page 1/4", reverse("registry-list-namespaces"), {"page": last_ns_page}),
        ("namespaces, class=twin", reverse("registry-list-namespaces"), {"kind": "twin", "page": 100}),
        ("namespaces, search", reverse("registry-list-namespaces"), {"q": "c0999"}),
        ("creators, page 1", reverse("registry-list-creators"), {}),
        ("creators, page 200", reverse("registry-list-creators"), {"page": 200}),
        ("creators, search (htmx)", reverse("registry-list-creators"), {"q": "c00042"}),
        ("creator detail", reverse("registry-creator-detail", args=["c00042"]), {}),
        ("drift page, live re-read", reverse("registry-drift-report"), {}),
        ("drift report page", reverse("registry-drift-report"), {}),
    ]
    out: dict[str, tuple[float, int]] = {}
    print(f"{'page':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}")
    for label, url, params in pages:
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in label else {}
        before = put_back_stale_rows if "re-read" in label else (lambda: None)
        before()
        client.get(url, params, **headers)  # warm caches, as a running server would be
        times = []
        for _ in range(requests):
            before()  # not timed
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url, params, **headers)
                times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (label, response.status_code)
            if "re-read" in label:
                assert b"Erased creators with data left" not in response.content, "stale rows alarmed"
                assert not IndexNamespace.objects.filter(name__in=stale).exists(), "not dropped"
        p95 = _p95(times)
        out[label] = (p95, len(queries))
        print(f"{label:<28} {statistics.median(times):8.1f} {p95:8.1f} {max(times):8.1f} {len(queries):8d}")

    from twinadmin.registry.drift import PAGE_LIMIT, drift_report_build

    for label, limit in ((f"first {PAGE_LIMIT} rows per kind", PAGE_LIMIT), ("all rows", None)):
        times = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                report = drift_report_build(limit=limit)
                times.append((time.perf_counter() - start) * 1000)
        print(
            f"drift report ({label}, no refresh): median {statistics.median(times):.0f} ms, "
            f"{len(queries)} queries; counts {report.counts}"
        )
    return out


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def _cell(p95: float, queries: int) -> str:
    mark = "!" if p95 > TARGET_MS else " "
    return f" {p95:11.1f}{mark} {queries:3d} q      "


def compare(results: dict[tuple[int, int], dict[str, tuple[float, int]]]) -> None:
    sizes = list(results)
    print(f"\np95 ms (target {TARGET_MS:.0f}) and queries per page, by NAMESPACES:CREATORS")
    head = "".join(f" {f'{n:,}:{c:,}':>24}" for n, c in sizes)
    print(f"{'page':<28}{head}  queries")
    for label in results[sizes[0]]:
        cells = "".join(_cell(*results[s][label]) for s in sizes)
        counts = {results[s][label][1] for s in sizes}
        print(f"{label:<28}{cells}  {'constant' if len(counts) == 1 else 'CHANGES'}")
    over = [(label, s) for s in sizes for label, (p95, _q) in results[s].items() if p95 > TARGET_MS]
    print(f"pages over {TARGET_MS:.0f} ms at p95 (marked !): {len(over)}")


def seed(
    n_creators: int, n_namespaces: int, n_erased: int = 40, dimension: int = 1536
) -> tuple[int, int, int, dict[str, int]]:
    """12,000 creators each with a creator-wide namespace; twins fill the rest up to the total,
    minus a few legacy, default and unknown namespaces; one in ten twin namespaces unregistered.
    Plus `n_erased` erased creators, each with a deleted twin, whose two namespaces are in the
    snapshot (returned: name -> count) but not in the index."""
    from django.utils import timezone

    from twinadmin.registry.models import Creator, Twin
    from twinadmin.registry.services import index_snapshot_store

    now = timezone.now()
    Creator.objects.bulk_create(
        [
            Creator(creator_id=f"c{i:05d}", display_name=f"Creator {i}", created_at=now)
            for i in range(n_creators)
        ],
        batch_size=2000,
    )
    creators = list(Creator.objects.order_by("creator_id"))
    namespaces: dict[str, int] = {c.namespace: (i % 50) + 1 for i, c in enumerate(creators)}
    namespaces["__default__"] = 376
    for i in range(200):
        namespaces[f"{i:08x}-0000-4000-8000-{i:012x}"] = 7
    namespaces["scratch"] = 1
    twin_rows = []
    i = 0
    while len(namespaces) < n_namespaces - 2 * n_erased:
        creator = creators[i % len(creators)]
        twin_id = f"t{i // len(creators):03d}"
        namespaces[f"{creator.namespace}_twin_{twin_id}"] = (i % 90) + 1
        if i % 10:
            twin_rows.append(Twin(creator=creator, twin_id=twin_id, name=f"Twin {i}"))
        i += 1
    Creator.objects.bulk_create(
        [Creator(creator_id=f"erased-{i:03d}", status=Creator.Status.ERASED) for i in range(n_erased)]
    )
    erased = list(Creator.objects.filter(status=Creator.Status.ERASED))
    Twin.objects.bulk_create(
        [Twin(creator=c, twin_id="t000", status=Twin.Status.DELETED) for c in erased], batch_size=2000
    )
    stale: dict[str, int] = {}
    for i, c in enumerate(erased):
        stale[c.namespace] = i + 1
        stale[f"{c.namespace}_twin_t000"] = i + 2
    Twin.objects.bulk_create(twin_rows, batch_size=2000)
    index_snapshot_store(dimension=dimension, metric="cosine", namespaces={**namespaces, **stale})
    return len(namespaces) + len(stale), len(creators), len(twin_rows), stale


if __name__ == "__main__":
    main()
