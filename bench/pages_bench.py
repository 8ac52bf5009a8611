"""Page timings at scale: 12,000 creators and 25,000 namespaces.

    .venv/bin/python bench/pages_bench.py [--requests 40] [--database-url URL]

Seeds a scratch database (a temporary SQLite file unless --database-url names another, e.g.
postgres://postgres@127.0.0.1:5432/twinadmin_bench, which is dropped and recreated by migrate's
flush), then requests each page through Django's test client and prints server time p50/p95 and
the number of SQL queries per page. Server time is the whole request/response cycle in-process:
middleware, view, template rendering, database; no network.

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--creators", type=int, default=12_000)
    parser.add_argument("--namespaces", type=int, default=25_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="twinadmin-bench-")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("DEBUG", "1")
    os.environ["VECTOR_LOCAL_PATH"] = f"{tmp}/vectors.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinadmin.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    if args.database_url:
        from django.db import connection

        from twinadmin.audit.dbguard import scratch_may_empty_the_log

        scratch_may_empty_the_log(connection)  # a scratch database: the audit table may be emptied
        call_command("flush", interactive=False, verbosity=0)
        call_command("migrate", verbosity=0)

    namespaces, creators, twins, stale = seed(args.creators, args.namespaces)
    print(
        f"seeded {creators} creators, {twins} twins, {namespaces} namespaces on {connection.vendor}; "
        f"{len(stale)} stale namespaces of erased creators in the snapshot only"
    )
    from twinadmin.registry.models import IndexNamespace
    from twinadmin.registry.services import index_snapshot_apply

    def put_back_stale_rows() -> None:
        index_snapshot_apply(observed=stale)

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user("bench-auditor", password="x")
    user.groups.add(Group.objects.get_or_create(name="auditors")[0])
    client = Client()
    client.force_login(user)

    pages = [
        ("overview", reverse("registry-overview"), {}),
        ("namespaces, page 1", reverse("registry-list-namespaces"), {}),
        ("namespaces, page 300", reverse("registry-list-namespaces"), {"page": 300}),
        ("namespaces, class=twin", reverse("registry-list-namespaces"), {"kind": "twin", "page": 100}),
        ("namespaces, search", reverse("registry-list-namespaces"), {"q": "c0999"}),
        ("creators, page 1", reverse("registry-list-creators"), {}),
        ("creators, page 200", reverse("registry-list-creators"), {"page": 200}),
        ("creators, search (htmx)", reverse("registry-list-creators"), {"q": "c00042"}),
        ("creator detail", reverse("registry-creator-detail", args=["c00042"]), {}),
        ("drift page, live re-read", reverse("registry-drift-report"), {}),
        ("drift report page", reverse("registry-drift-report"), {}),
    ]
    print(f"{'page':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}")
    for label, url, params in pages:
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in label else {}
        before = put_back_stale_rows if "re-read" in label else (lambda: None)
        before()
        client.get(url, params, **headers)  # warm caches, as a running server would be
        times = []
        for _ in range(args.requests):
            before()  # not timed
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url, params, **headers)
                times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (label, response.status_code)
            if "re-read" in label:
                assert b"Erased creators with data left" not in response.content, "stale rows alarmed"
                assert not IndexNamespace.objects.filter(name__in=stale).exists(), "not dropped"
        times.sort()
        p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
        print(f"{label:<28} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f} {len(queries):8d}")

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


def seed(n_creators: int, n_namespaces: int, n_erased: int = 40) -> tuple[int, int, int, dict[str, int]]:
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
    index_snapshot_store(dimension=1536, metric="cosine", namespaces={**namespaces, **stale})
    return len(namespaces) + len(stale), len(creators), len(twin_rows), stale


if __name__ == "__main__":
    main()
