"""Page timings at scale: 12,000 creators and 25,000 namespaces.

    .venv/bin/python bench/pages_bench.py [--requests 40] [--database-url URL]

Seeds a scratch database (a temporary SQLite file unless --database-url names another, e.g.
postgres://postgres@127.0.0.1:5432/twinadmin_bench, which is dropped and recreated by migrate's
flush), then requests each page through Django's test client and prints server time p50/p95 and
the number of SQL queries per page. Server time is the whole request/response cycle in-process:
middleware, view, template rendering, database; no network.
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
        call_command("flush", interactive=False, verbosity=0)
        call_command("migrate", verbosity=0)

    namespaces, creators, twins = seed(args.creators, args.namespaces)
    print(f"seeded {creators} creators, {twins} twins, {namespaces} namespaces on {connection.vendor}")

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
        ("drift report page", reverse("registry-drift-report"), {}),
    ]
    print(f"{'page':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}")
    for label, url, params in pages:
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in label else {}
        client.get(url, params, **headers)  # warm caches, as a running server would be
        times = []
        for _ in range(args.requests):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url, params, **headers)
                times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        times.sort()
        p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
        print(f"{label:<28} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f} {len(queries):8d}")

    from twinadmin.registry.drift import drift_report_build

    times = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            report = drift_report_build()
            times.append((time.perf_counter() - start) * 1000)
    print(
        f"drift report (all rows, no refresh): median {statistics.median(times):.0f} ms, "
        f"{len(queries)} queries; counts {report.counts}"
    )


def seed(n_creators: int, n_namespaces: int) -> tuple[int, int, int]:
    """12,000 creators each with a creator-wide namespace; twins fill the rest up to the total,
    minus a few legacy, default and unknown namespaces; one in ten twin namespaces unregistered."""
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
    while len(namespaces) < n_namespaces:
        creator = creators[i % len(creators)]
        twin_id = f"t{i // len(creators):03d}"
        namespaces[f"{creator.namespace}_twin_{twin_id}"] = (i % 90) + 1
        if i % 10:
            twin_rows.append(Twin(creator=creator, twin_id=twin_id, name=f"Twin {i}"))
        i += 1
    Twin.objects.bulk_create(twin_rows, batch_size=2000)
    index_snapshot_store(dimension=1536, metric="cosine", namespaces=namespaces)
    return len(namespaces), len(creators), len(twin_rows)


if __name__ == "__main__":
    main()
