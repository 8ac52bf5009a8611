"""The drift report at scale: complete counts and the first rows of each kind from the same
number of queries whatever the number of rows, and lookups that stay lookups when the database's
statistics describe a registry that has not migrated anything yet."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from twinadmin.registry.drift import drift_report_build
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import index_snapshot_store

pytestmark = pytest.mark.django_db

LIMIT = 10


def _grow(start: int, stop: int, namespaces: dict[str, int]) -> dict[str, int]:
    """Creators start..stop-1, each with a creator-wide namespace and three twins, and the drift
    that comes with them, one of each kind per creator: twin t0 registered with its namespace in
    step (clean), t1 registered with another count (stale), t2 registered with no namespace
    (missing), t3 in the index only (an orphan); plus, per creator, a creator-wide namespace of an
    unregistered creator, an unknown name and a legacy namespace (orphans, orphans, legacy).
    Returns the expected counts of the whole world so far."""
    now = timezone.now()
    creators = Creator.objects.bulk_create(
        [Creator(creator_id=f"c{i:05d}", created_at=now) for i in range(start, stop)]
    )
    twins = []
    for creator in creators:
        twins += [
            Twin(creator=creator, twin_id="t0", vector_count=5),
            Twin(creator=creator, twin_id="t1", vector_count=5),
            Twin(creator=creator, twin_id="t2", vector_count=5),
        ]
        namespaces[creator.namespace] = 3
        namespaces[f"{creator.namespace}_twin_t0"] = 5
        namespaces[f"{creator.namespace}_twin_t1"] = 6
        namespaces[f"{creator.namespace}_twin_t3"] = 7
        n = int(creator.creator_id[1:])
        namespaces[f"creator_u{n:05d}"] = 1
        namespaces[f"scratch-{n:05d}"] = 1
        namespaces[f"{n:08x}-0000-4000-8000-{n:012x}"] = 2
    Twin.objects.bulk_create(twins)
    # As the drift job stores it: registry counts left as they were, so the stale ones show.
    index_snapshot_store(dimension=8, metric="cosine", namespaces=namespaces, update_twin_counts=False)
    return {
        "orphans": 3 * stop,
        "deleted_twins_with_data": 0,
        "missing_namespaces": stop,
        "stale_counts": stop,
        "legacy_present": stop,
        "erased_with_data": 0,
    }


def _build() -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        report = drift_report_build(limit=LIMIT)
    return len(queries), report


def test_ten_times_the_rows_cost_the_same_queries_and_every_count_stays_complete():
    namespaces: dict[str, int] = {}
    expected = _grow(0, 20, namespaces)
    small, report = _build()
    assert report.counts == expected

    expected = _grow(20, 200, namespaces)
    large, report = _build()
    assert report.counts == expected
    assert large == small

    # The first rows of each kind, in the page's order: orphans of all three sorts by name.
    orphans = sorted(
        [f"creator_c{i:05d}_twin_t3" for i in range(200)]
        + [f"creator_u{i:05d}" for i in range(200)]
        + [f"scratch-{i:05d}" for i in range(200)]
    )[:LIMIT]
    assert [row["name"] for row in report.orphans] == orphans
    first = report.orphans[0]
    assert (first["kind"], first["parsed_owner"], first["creator_registered"]) == ("twin", "c00000", True)
    assert [(r["creator_id"], r["twin_id"]) for r in report.missing_namespaces] == [
        (f"c{i:05d}", "t2") for i in range(LIMIT)
    ]
    assert report.missing_namespaces[0]["namespace"] == "creator_c00000_twin_t2"
    assert report.stale_counts[0] == {
        "creator_id": "c00000",
        "twin_id": "t1",
        "registry_count": 5,
        "index_count": 6,
    }
    assert len(report.legacy_present) == LIMIT and report.is_truncated


def test_all_rows_and_no_rows_keep_the_complete_counts():
    expected = _grow(0, 30, {})
    everything = drift_report_build(limit=None)
    assert everything.counts == expected
    assert len(everything.orphans) == expected["orphans"]
    assert drift_report_build(limit=0).counts == expected


def _plan(sql: str, params: tuple) -> str:
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(explain + sql, params)
        return "\n".join(" ".join(str(c) for c in row) for row in cursor.fetchall())


def test_legacy_namespaces_find_their_twins_through_an_index_before_any_migration():
    """No twin has a legacy namespace yet (all ''): statistics that say so must not make the
    database read every twin for each legacy namespace listed."""
    _grow(0, 300, {})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as queries:
        drift_report_build(limit=LIMIT)
    legacy = [q["sql"] for q in queries.captured_queries if '"legacy_namespace" = ' in q["sql"]]
    assert len(legacy) == 1
    # Re-run with its parameters: the captured SQL has them inlined, as text.
    plan = _plan(legacy[0], ())
    twin_table = re.escape(Twin._meta.db_table)
    scans = re.findall(rf"Seq Scan on {twin_table}|SCAN (?:{twin_table}|U\d)\b", plan)
    assert not scans, plan
