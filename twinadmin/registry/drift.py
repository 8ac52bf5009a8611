"""Drift between the registry and the index.

Most kinds come from the stored index snapshot: each is one query over indexed columns that returns
the complete count and the first `limit` rows together (no per-namespace or per-creator loops), so
the report costs the same handful of queries at 25,000 namespaces as at 30.

The two erasure alarms (erased creators with data left, deleted twins with data left) never come
from the snapshot alone: a stale row there would raise a GDPR alarm for data that is gone. Their
candidates are read again from the index first, which also corrects the snapshot's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery, Window
from django.utils import timezone

from twinadmin.registry import codec
from twinadmin.registry.codec import NamespaceKind
from twinadmin.registry.models import Creator, IndexNamespace, IndexSnapshot, Twin
from twinadmin.vectors import VectorError

# Rows listed per kind on the page; the counts are always complete.
PAGE_LIMIT = 100

_NS_FIELDS = ("name", "kind", "creator_id", "twin_id", "vector_count")
_Rows = list[dict[str, Any]]  # one kind's rows, as listed


@dataclass
class DriftReport:
    observed_at: str | None
    # Seconds since the snapshot was taken. Jobs that change the index correct single rows of it
    # without moving this: the namespaces they did not touch are as old as this says.
    age_seconds: float | None = None
    # Rows listed per kind (None: all of them); `counts` are complete either way.
    limit: int | None = None
    # Whether the erasure alarms were checked against the index just now, and why not if not.
    verified_live: bool = False
    live_error: str = ""
    totals: dict[str, int] = field(default_factory=dict)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    deleted_twins_with_data: list[dict[str, Any]] = field(default_factory=list)
    missing_namespaces: list[dict[str, Any]] = field(default_factory=list)
    stale_counts: list[dict[str, Any]] = field(default_factory=list)
    legacy_present: list[dict[str, Any]] = field(default_factory=list)
    erased_with_data: list[dict[str, Any]] = field(default_factory=list)

    KINDS = (
        "orphans",
        "deleted_twins_with_data",
        "missing_namespaces",
        "stale_counts",
        "legacy_present",
        "erased_with_data",
    )

    @property
    def observed(self) -> dt.datetime | None:
        """When the snapshot was read, as a datetime for the page (the JSON keeps ISO text)."""
        return dt.datetime.fromisoformat(self.observed_at) if self.observed_at else None

    # What the page's cards call each kind.
    LABELS = {
        "orphans": "orphan namespaces",
        "deleted_twins_with_data": "deleted twins with data",
        "missing_namespaces": "twins without a namespace",
        "stale_counts": "stale counts",
        "legacy_present": "legacy namespaces left",
        "erased_with_data": "erased creators with data",
    }

    @property
    def count_cards(self) -> list[tuple[str, str, int]]:
        """(kind, readable label, complete count) for the page's cards, in KINDS order."""
        return [(kind, self.LABELS[kind], n) for kind, n in self.counts.items()]

    @property
    def counts(self) -> dict[str, int]:
        """Complete counts, also when the lists hold only the first `limit` rows."""
        return {kind: self.totals.get(kind, len(getattr(self, kind))) for kind in self.KINDS}

    @property
    def is_clean(self) -> bool:
        return not any(self.counts.values())

    @property
    def has_erasure_breach(self) -> bool:
        """An erased creator with vectors left is a GDPR failure, not mere drift."""
        return bool(self.counts["erased_with_data"])

    @property
    def is_truncated(self) -> bool:
        """Some list holds fewer rows than its count (the page lists the first `limit`)."""
        return any(n > len(getattr(self, kind)) for kind, n in self.counts.items())

    @property
    def age_minutes(self) -> int | None:
        return None if self.age_seconds is None else int(self.age_seconds // 60)

    def as_dict(self) -> dict[str, Any]:
        return {
            "observed_at": self.observed_at,
            "age_seconds": self.age_seconds,
            "limit": self.limit,
            "verified_live": self.verified_live,
            "live_error": self.live_error,
            "clean": self.is_clean,
            "counts": self.counts,
            **{kind: getattr(self, kind) for kind in self.KINDS},
        }


def _first_rows(qs: QuerySet, fields: tuple[str, ...], limit: int | None) -> tuple[list[dict[str, Any]], int]:
    """The first `limit` rows of `qs` (all when None) and the number of rows it holds in all,
    from one query: a window count is taken over the whole result before LIMIT applies."""
    if limit is None:
        rows = list(qs.values(*fields))
        return rows, len(rows)
    if limit <= 0:
        return [], qs.count()
    rows = list(qs.values(*fields).annotate(_total=Window(Count("*")))[:limit])
    total = rows[0]["_total"] if rows else 0
    for row in rows:
        del row["_total"]
    return rows, total


def _erasure_candidates() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Snapshot rows that would raise an erasure alarm: namespaces with vectors of erased
    creators, and of deleted twins. Few by nature; read in full (they are re-read live)."""
    erased = Creator.objects.filter(status=Creator.Status.ERASED).values("creator_id")
    erased_rows = list(
        IndexNamespace.objects.filter(creator_id__in=Subquery(erased), vector_count__gt=0)
        .order_by("name")
        .values(*_NS_FIELDS)
    )
    # Driven from the (few) deleted twins, each an indexed lookup of its namespace row.
    ns_count = (
        IndexNamespace.objects.filter(
            kind=NamespaceKind.TWIN,
            creator_id=OuterRef("creator__creator_id"),
            twin_id=OuterRef("twin_id"),
            vector_count__gt=0,
        )
        .order_by()
        .values("vector_count")[:1]
    )
    deleted_rows = sorted(
        (
            {
                "name": codec.twin_namespace(c, t),
                "kind": NamespaceKind.TWIN.value,
                "creator_id": c,
                "twin_id": t,
                "vector_count": n,
            }
            for c, t, n in Twin.objects.filter(status=Twin.Status.DELETED)
            .annotate(n=Subquery(ns_count))
            .filter(n__isnull=False)
            .values_list("creator__creator_id", "twin_id", "n")
        ),
        key=lambda row: row["name"],
    )
    return erased_rows, deleted_rows


def _lineage_alarms(*, live: bool) -> list[dict[str, Any]]:
    """Copies of an erased creator's vectors outside their own namespaces (a legacy source, ids
    in __default__) that no erasure verified gone. Normally none; each is read live, and kept
    as an (unverified) alarm when the index cannot be read."""
    from twinadmin.lineage.selectors import lineage_copies_present, lineage_unerased_of

    pairs = lineage_unerased_of(Creator.objects.filter(status=Creator.Status.ERASED).values("creator_id"))
    if not pairs:
        return []
    from twinadmin.vectors import get_index

    rows = []
    for creator_id, source in pairs:
        present = None
        if live:
            try:
                present = lineage_copies_present(get_index(), creator_id=creator_id, source_namespace=source)
            except VectorError:
                present = None
        if present == 0:
            continue
        parsed = codec.parse_namespace(source)
        rows.append(
            {
                "name": source,
                "kind": parsed.kind.value,
                "creator_id": creator_id,
                "twin_id": "",
                "vector_count": present,
                "copied_ids": True,
            }
        )
    return rows


def drift_report_build(*, live: bool = True, limit: int | None = None) -> DriftReport:
    """The drift report. `live`: re-read the erasure alarms' namespaces from the index first (no
    index call when there are none). `limit`: rows listed per kind (None: all); counts are
    complete either way."""
    erased_rows, deleted_rows = _erasure_candidates()
    verified_live, live_error = False, ""
    if live:
        erased_rows, deleted_rows, live_error = _erasure_alarms_reread(erased_rows, deleted_rows)
        verified_live = not live_error

    erased_rows += _lineage_alarms(live=live and not live_error)

    # Read after the re-read: it may have corrected rows (and the snapshot's totals).
    snapshot = IndexSnapshot.objects.order_by("-observed_at").first()
    report = DriftReport(
        observed_at=snapshot.observed_at.isoformat() if snapshot else None,
        age_seconds=(timezone.now() - snapshot.observed_at).total_seconds() if snapshot else None,
        limit=limit,
        verified_live=verified_live,
        live_error=live_error,
    )
    totals = report.totals
    report.erased_with_data = erased_rows[:limit]
    totals["erased_with_data"] = len(erased_rows)
    report.deleted_twins_with_data = deleted_rows[:limit]
    totals["deleted_twins_with_data"] = len(deleted_rows)
    drift = _drift_rows(limit)
    report.orphans, totals["orphans"] = _orphans(drift["orphan"])
    report.missing_namespaces, totals["missing_namespaces"] = _missing_namespaces(drift["missing"])
    report.stale_counts, totals["stale_counts"] = _stale_counts(drift["stale"])
    report.legacy_present, totals["legacy_present"] = _legacy_present(limit)
    return report


def _erasure_alarms_reread(erased_rows: _Rows, deleted_rows: _Rows) -> tuple[_Rows, _Rows, str]:
    """The erasure alarms' rows as the index holds them now (the gone ones dropped), and "";
    or, when the index cannot be read, the snapshot's rows unchanged and why."""
    from twinadmin.registry.services import index_namespaces_reread

    try:
        seen = index_namespaces_reread(names=[r["name"] for r in erased_rows + deleted_rows])
    except VectorError as exc:
        # Keep the snapshot's alarm (never hide a possible breach), but say it is unverified.
        return erased_rows, deleted_rows, f"{type(exc).__name__}: {exc}"
    erased_rows = [{**r, "vector_count": seen[r["name"]]} for r in erased_rows if seen[r["name"]]]
    deleted_rows = [{**r, "vector_count": seen[r["name"]]} for r in deleted_rows if seen[r["name"]]]
    return erased_rows, deleted_rows, ""


def _drift_rows(limit: int | None) -> dict[str, tuple[_Rows, int]]:
    """The snapshot's drift against the registry, in one query: orphan namespaces (unknown names,
    creator-wide ones of an unregistered creator, twin ones that no twin row of any status
    accounts for), active twins without a namespace ("missing"), and active twins whose count is
    not the namespace's ("stale"; no count at all is stale too). For each kind: its first `limit`
    rows (orphans by name, the others by creator and twin id) and its complete count.

    One query, whatever the sizes, in which each kind is one hash (anti-)join over whole tables:
    active twins left-joined to their namespace rows (missing and stale), and each kind of
    namespace row anti-joined to what would own it (orphans). Three correlated (NOT) EXISTS
    queries, one per kind with its own LIMIT, took about 0.4 s at 100,000 namespaces: planned to
    stop early, they probed an index once per twin, and the window count read them all anyway.
    Raw SQL because the ORM joins on foreign keys only. A FULL JOIN would be one pass less, but
    SQLite has it only since 3.39. Names sort in the database, as `order_by("name")` does (same
    column, same collation)."""
    ops = connection.ops
    twin, creator, ns = (ops.quote_name(m._meta.db_table) for m in (Twin, Creator, IndexNamespace))
    kinds = NamespaceKind
    ranked = f"""
        WITH drifted AS (
            SELECT CASE WHEN n.creator_id IS NULL THEN 'missing' ELSE 'stale' END AS drift,
                   NULL AS name, %s AS kind, c.creator_id AS creator_id, t.twin_id AS twin_id,
                   t.vector_count AS registry_count, n.vector_count AS index_count
              FROM {twin} t
              JOIN {creator} c ON c.id = t.creator_id
              LEFT JOIN {ns} n ON n.kind = %s AND n.creator_id = c.creator_id AND n.twin_id = t.twin_id
             WHERE t.status = %s
               AND (n.creator_id IS NULL OR t.vector_count IS NULL OR t.vector_count <> n.vector_count)
            UNION ALL
            SELECT 'orphan', name, kind, creator_id, twin_id, NULL, vector_count
              FROM {ns} n
             WHERE kind = %s
               AND NOT EXISTS (
                   SELECT 1 FROM {twin} t JOIN {creator} c ON c.id = t.creator_id
                    WHERE c.creator_id = n.creator_id AND t.twin_id = n.twin_id
               )
            UNION ALL
            SELECT 'orphan', name, kind, creator_id, twin_id, NULL, vector_count
              FROM {ns} n
             WHERE kind = %s AND NOT EXISTS (SELECT 1 FROM {creator} c WHERE c.creator_id = n.creator_id)
            UNION ALL
            SELECT 'orphan', name, kind, creator_id, twin_id, NULL, vector_count
              FROM {ns} n
             WHERE kind = %s
        )
        SELECT drift, name, kind, creator_id, twin_id, registry_count, index_count,
               COUNT(*) OVER (PARTITION BY drift) AS total,
               ROW_NUMBER() OVER (
                   PARTITION BY drift ORDER BY CASE WHEN drift = 'orphan' THEN name END, creator_id, twin_id
               ) AS position
          FROM drifted
    """
    params: list[Any] = [kinds.TWIN.value, kinds.TWIN.value, Twin.Status.ACTIVE.value, kinds.TWIN.value]
    params += [kinds.CREATOR_WIDE.value, kinds.UNKNOWN.value]
    # The owner's registration is read for the listed rows only.
    known = f"EXISTS (SELECT 1 FROM {creator} k WHERE k.creator_id = r.creator_id)"
    sql = f"SELECT r.*, {known} AS known FROM ({ranked}) r"
    if limit is not None:
        sql += " WHERE r.position <= %s"
        params.append(max(limit, 1))  # one row even for limit 0: it carries the count
    found: dict[str, tuple[_Rows, int]] = {kind: ([], 0) for kind in ("orphan", "missing", "stale")}
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY r.drift, r.position", params)
        columns = [col[0] for col in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(columns, values, strict=True))
            rows, _ = found[row["drift"]]
            if limit is None or len(rows) < limit:
                rows.append(row)
            found[row["drift"]] = (rows, row["total"])
    return found


def _orphans(drift: tuple[_Rows, int]) -> tuple[_Rows, int]:
    rows, total = drift
    return [
        {
            "name": r["name"],
            "kind": r["kind"],
            "creator_id": r["creator_id"],
            "twin_id": r["twin_id"],
            "vector_count": r["index_count"],
            "parsed_owner": r["creator_id"] or None,
            "creator_registered": bool(r["known"]),
        }
        for r in rows
    ], total


def _missing_namespaces(drift: tuple[_Rows, int]) -> tuple[_Rows, int]:
    """Active twins whose namespace the index does not hold (never written, or lost)."""
    rows, total = drift
    return [
        {
            "creator_id": r["creator_id"],
            "twin_id": r["twin_id"],
            "namespace": codec.twin_namespace(r["creator_id"], r["twin_id"]),
            "registry_count": r["registry_count"],
        }
        for r in rows
    ], total


def _stale_counts(drift: tuple[_Rows, int]) -> tuple[_Rows, int]:
    """Registry counts that disagree with the index's (refresh counts fixes them)."""
    rows, total = drift
    keys = ("creator_id", "twin_id", "registry_count", "index_count")
    return [{k: r[k] for k in keys} for r in rows], total


def _legacy_present(limit: int | None) -> tuple[_Rows, int]:
    """Legacy layout still in the index; `migrated_to` names the twin that came from it (an
    indexed lookup on Twin.legacy_namespace) or the creator namespace it was copied into.

    The lookup says `legacy_namespace <> ''` although a namespace name is never empty: while no
    twin has come from a legacy namespace yet, PostgreSQL's statistics say every row holds '',
    so it took `legacy_namespace = <name>` to match them all and read the whole twin table once
    per listed namespace (0.7 s at 45,000 twins). The extra condition is the partial unique
    index's own, which the planner then uses and estimates right."""
    migrated = Twin.objects.filter(legacy_namespace=OuterRef("name")).exclude(legacy_namespace="").order_by()
    legacy = (
        IndexNamespace.objects.filter(kind__in=[NamespaceKind.LEGACY_UUID, NamespaceKind.DEFAULT])
        .annotate(
            c=Subquery(migrated.values("creator__creator_id")[:1]), t=Subquery(migrated.values("twin_id")[:1])
        )
        .order_by("name")
    )
    rows, total = _first_rows(legacy, (*_NS_FIELDS, "c", "t"), limit)
    # A namespace copied whole into a creator's own (`__default__` into creator_{id}) has no twin
    # naming it: its lineage (one query for the rows shown) says where its vectors went.
    from twinadmin.lineage.selectors import lineage_holders

    holders = lineage_holders(row["name"] for row in rows if not row["c"])
    for row in rows:
        c, t = row.pop("c"), row.pop("t")
        copied = [h.target_namespace for h in holders.get(row["name"], []) if h.target_namespace]
        row["migrated_to"] = codec.twin_namespace(c, t) if c else (copied[0] if copied else None)
    return rows, total


def drift_report_run(*, refresh: bool = True) -> DriftReport:
    """Read the index afresh (without touching registry counts, so stale ones show) and report
    every row."""
    if refresh:
        from twinadmin.registry.services import index_refresh

        index_refresh(update_twin_counts=False)
    return drift_report_build()
