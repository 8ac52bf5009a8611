"""Reads for the auditor pages: each page costs a constant number of queries at any log size.

Pages are keyset-paginated on seq (`before` / `after` cursors) instead of OFFSET: "the 50 newest
entries with action X older than seq N" is one range scan of the (action, seq) index, at page 1
or 20,000 alike. The number of matching entries is counted only up to AUDIT_COUNT_CAP ("10,000+"), so
a broad filter never costs a COUNT(*) over a million rows; the exact total of the whole log is
the head's seq, which is gapless.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet, Subquery

from twinadmin.audit.chain import GENESIS_HASH
from twinadmin.audit.models import AuditEntry, AuditHead

PAGE_SIZE = 50
LIST_FIELDS = (
    "seq",
    "at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "creator_id",
    "outcome",
    "entry_hash",
    "correlation_id",  # each row links to its story
)


@dataclass(frozen=True)
class ChainHead:
    entries: int
    head_hash: str


@dataclass(frozen=True)
class EntryPage:
    entries: list[AuditEntry]
    newer: int | None  # pass as ?after= to see the entries above this page
    older: int | None  # pass as ?before= to see the entries below this page
    matching: int  # entries matching the filters, counted up to AUDIT_COUNT_CAP
    capped: bool


def audit_chain_head() -> ChainHead:
    head = AuditHead.objects.filter(pk=AuditHead.SINGLETON).values_list("last_seq", "last_hash").first()
    return ChainHead(*head) if head else ChainHead(0, GENESIS_HASH)


def audit_entry_filter(
    *,
    action: str = "",
    actor: str = "",
    creator_id: str = "",
    target_type: str = "",
    target_id: str = "",
    outcome: str = "",
    correlation_id: uuid.UUID | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEntry]:
    """Entries matching every given filter. `action` is exact, or a prefix when it ends in `*`
    (`twin.delete.*`) or in `.` (`creator.erase.`: no action ends in a dot); dates are whole UTC
    days, both ends included."""
    qs = AuditEntry.objects.all()
    if action.endswith(("*", ".")):
        qs = qs.filter(_action_prefix(action.rstrip("*")))
    elif action:
        qs = qs.filter(action=action)
    exact = {
        "actor": actor,
        "creator_id": creator_id,
        "target_type": target_type,
        "target_id": target_id,
        "outcome": outcome,
        "correlation_id": correlation_id,
    }
    qs = qs.filter(**{k: v for k, v in exact.items() if v})
    if date_from:
        start = _day_start(date_from)
        qs = qs.filter(at__gte=start, seq__gte=_first_seq(at__gte=start))
    if date_to and date_to < dt.date.max:  # through the last day there is: no upper bound
        end = _day_start(date_to + dt.timedelta(days=1))
        qs = qs.filter(at__lt=end, seq__lte=_last_seq(at__lt=end))
    return qs


# `at` never decreases along the chain (audit_record), so a date range is a seq range. Saying
# so in the query matters: otherwise PostgreSQL walks the seq index down from the newest entry
# through every newer row until it reaches the range (~100 ms at a million entries for a week
# in the middle). Each bound is one probe of the (at, seq) index, run once as a subquery.


def _first_seq(**at_filter: dt.datetime) -> Subquery:
    return Subquery(AuditEntry.objects.filter(**at_filter).order_by("at", "seq").values("seq")[:1])


def _last_seq(**at_filter: dt.datetime) -> Subquery:
    return Subquery(AuditEntry.objects.filter(**at_filter).order_by("-at", "-seq").values("seq")[:1])


def audit_entry_page(
    qs: QuerySet[AuditEntry], *, before: int | None = None, after: int | None = None, size: int = PAGE_SIZE
) -> EntryPage:
    """One page, newest first, of the entries in `qs`: the `size` entries just below `before`,
    or just above `after`, or the newest. Three queries at most."""
    shown = qs.only(*LIST_FIELDS)
    if after is not None:
        rows = list(shown.filter(seq__gt=after).order_by("seq")[: size + 1])
        has_newer, rows = len(rows) > size, rows[:size][::-1]
        has_older = bool(rows) and qs.filter(seq__lt=rows[-1].seq).exists()
    else:
        below = shown.filter(seq__lt=before) if before is not None else shown
        rows = list(below.order_by("-seq")[: size + 1])
        has_older, rows = len(rows) > size, rows[:size]
        has_newer = before is not None and bool(rows) and qs.filter(seq__gt=rows[0].seq).exists()
    # seq, not pk: every filter index ends in seq, so PostgreSQL can count from the index alone.
    cap = settings.AUDIT_COUNT_CAP
    matching = qs.order_by().values("seq")[: cap + 1].count()
    return EntryPage(
        entries=rows,
        newer=rows[0].seq if has_newer else None,
        older=rows[-1].seq if has_older else None,
        matching=min(matching, cap),
        capped=matching > cap,
    )


def audit_entry_neighbours(entry: AuditEntry) -> tuple[str | None, bool]:
    """What this entry's prev_hash should be (the previous entry's hash, the genesis hash for
    the first, None when the previous entry is missing), and whether an entry follows it: the
    detail page shows both links and whether they hold."""
    if entry.seq == 1:
        expected_prev: str | None = GENESIS_HASH
    else:
        expected_prev = (
            AuditEntry.objects.filter(seq=entry.seq - 1).values_list("entry_hash", flat=True).first()
        )
    has_next = AuditEntry.objects.filter(seq=entry.seq + 1).exists()
    return expected_prev, has_next


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _action_prefix(prefix: str) -> Q:
    """PostgreSQL: LIKE 'x%' on the pattern-ops index; the planner picks well.

    SQLite's LIKE cannot use the index, and a range on it makes SQLite sort every match before
    taking a page (130 ms for a quarter of a million rows). So the prefix becomes the list of
    actions it covers, read from the index (DISTINCT skips along it: under a millisecond): no
    action → no query at all; one → an ordered index range; several → the planner's choice."""
    if connection.vendor != "sqlite":
        return Q(action__startswith=prefix)
    if not prefix:
        return Q()
    upper = _prefix_upper_bound(prefix)
    actions = AuditEntry.objects.filter(action__gte=prefix).order_by("action")
    if upper is not None:
        actions = actions.filter(action__lt=upper)
    return Q(action__in=list(actions.values_list("action", flat=True).distinct()))


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string that starts with `prefix` (code point order, which
    is SQLite's byte order for UTF-8), or None when there is none: the last character that is not
    U+10FFFF, moved one up (over the surrogates, which UTF-8 cannot hold), ends it."""
    stem = prefix.rstrip(chr(sys.maxunicode))
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:
        following = 0xE000
    return stem[:-1] + chr(following)


# --- the action list and stories ---------------------------------------------------------------

ACTION_LIST_LIMIT = 500  # distinct actions offered in the filter; the code writes a few dozen


def audit_action_names(*, limit: int = ACTION_LIST_LIMIT) -> list[str]:
    """The distinct actions in the log, sorted, at most `limit`, in about a millisecond at any
    size: a loose index scan of the (action, seq) index, each step of the recursive query one
    probe for the next action above the last, so it touches one index entry per distinct action.

    A plain DISTINCT reads every index entry on PostgreSQL before 18 (~110 ms at a million
    entries) and on SQLite until ANALYZE has run (~40 ms). PostgreSQL's index uses pattern ops
    (byte order), so the probes compare with ~>~ / ~<~ to use it; SQLite's compares bytes anyway."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    if connection.vendor == "postgresql":
        first = f"SELECT action FROM {table} ORDER BY action USING ~<~ LIMIT 1"
        step = (
            f"SELECT e.action FROM {table} e WHERE e.action ~>~ a.action ORDER BY e.action USING ~<~ LIMIT 1"
        )
    else:
        first = f"SELECT min(action) FROM {table}"
        step = f"SELECT min(e.action) FROM {table} e WHERE e.action > a.action"
    sql = f"""
        WITH RECURSIVE a(action) AS (
            SELECT * FROM ({first}) AS first_action
            UNION ALL
            SELECT ({step}) FROM a WHERE a.action IS NOT NULL
        )
        SELECT action FROM a WHERE action IS NOT NULL LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return sorted(row[0] for row in cursor.fetchall())


STORY_LIMIT = 2000  # entries one story page reads; a migration of the seed writes ~300


@dataclass(frozen=True)
class StoryEntries:
    entries: list[AuditEntry]  # oldest first
    truncated: bool  # more entries carry this correlation id than STORY_LIMIT


def audit_story_entries(correlation_id: uuid.UUID, *, limit: int | None = None) -> StoryEntries:
    """The entries of one correlation id, oldest first (at most STORY_LIMIT): one range of the
    (correlation_id, seq) index."""
    limit = limit or STORY_LIMIT
    rows = list(AuditEntry.objects.filter(correlation_id=correlation_id).order_by("seq")[: limit + 1])
    return StoryEntries(entries=rows[:limit], truncated=len(rows) > limit)


OUTCOME_LOOKUP_LIMIT = 500


def audit_outcome_candidates(intents: list[AuditEntry]) -> list[AuditEntry]:
    """Entries that may close the given intents (same correlation and target, later, a success
    or failure), for the list page to show each intent with its outcome: one query, bounded.
    Which candidate closes which intent is story.outcomes_of's rule."""
    if not intents:
        return []
    match = Q()
    for e in intents:
        match |= Q(
            correlation_id=e.correlation_id, target_type=e.target_type, target_id=e.target_id, seq__gt=e.seq
        )
    qs = AuditEntry.objects.filter(
        match, outcome__in=[AuditEntry.Outcome.SUCCESS, AuditEntry.Outcome.FAILURE]
    )
    return list(qs.only(*LIST_FIELDS).order_by("seq")[:OUTCOME_LOOKUP_LIMIT])
