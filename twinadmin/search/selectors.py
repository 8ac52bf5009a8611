"""Reads for search: which namespaces a search covers; latency reports, their charts and comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.utils.safestring import SafeString

from twinadmin.registry import codec
from twinadmin.registry.models import Creator, IndexNamespace, Twin
from twinadmin.search.errors import SearchInputError
from twinadmin.search.models import LatencyNamespace, LatencyReport
from twinadmin.search.svg import Bar, ChartRow, latency_chart


@dataclass(frozen=True)
class Target:
    """One namespace a search covers, with what it belongs to."""

    namespace: str
    twin_id: str | None  # None: the creator-wide namespace

    @property
    def label(self) -> str:
        return self.twin_id if self.twin_id is not None else "creator-wide"


def search_creator_get(*, creator_id: str) -> Creator:
    try:
        codec.validate_creator_id(creator_id)
    except codec.InvalidId as exc:
        raise SearchInputError(str(exc)) from None
    creator = Creator.objects.filter(creator_id=creator_id).first()
    if creator is None:
        raise SearchInputError(f"Unknown creator {creator_id!r}.")
    if creator.status == Creator.Status.ERASED:
        raise SearchInputError(f"Creator {creator_id!r} is erased: there is nothing to search.")
    return creator


def search_twin_choices(creator: Creator) -> list[Twin]:
    """The twins a search may pick: active ones (deleting/deleted twins have no data to show)."""
    return list(creator.twins.filter(status=Twin.Status.ACTIVE).order_by("twin_id"))


@dataclass(frozen=True)
class PickerNamespace:
    """A namespace the search page offers to pick the query vector from."""

    namespace: str
    label: str
    vector_count: int | None  # as last observed; None: not in the last snapshot


def search_picker(creator: Creator) -> list[PickerNamespace]:
    """The creator's own namespaces (creator-wide, then active twins) with their observed
    counts: where a query vector is usually picked from (any other is one form away)."""
    targets = [Target(creator.namespace, None)] + [
        Target(codec.twin_namespace(creator.creator_id, t.twin_id), t.twin_id)
        for t in search_twin_choices(creator)
    ]
    counts = dict(
        IndexNamespace.objects.filter(name__in=[t.namespace for t in targets]).values_list(
            "name", "vector_count"
        )
    )
    return [PickerNamespace(t.namespace, t.label, counts.get(t.namespace)) for t in targets]


def search_targets(
    *, creator_id: str, twin_ids: Sequence[str] | None = None, include_shared: bool = True
) -> list[Target]:
    """The namespaces of one creator to search, creator-wide first, then twins by id.

    `twin_ids=None` means every active twin. Every id must be a valid id of an active twin of this
    creator: the namespace is formatted by the codec from registry rows, never taken from input."""
    creator = search_creator_get(creator_id=creator_id)
    active = {t.twin_id: t for t in search_twin_choices(creator)}
    if twin_ids is None:
        chosen = sorted(active)
    else:
        chosen = sorted(set(twin_ids))
        for twin_id in chosen:
            try:
                codec.validate_twin_id(twin_id)
            except codec.InvalidId as exc:
                raise SearchInputError(str(exc)) from None
        unknown = [t for t in chosen if t not in active]
        if unknown:
            other = dict(
                Twin.objects.filter(creator=creator, twin_id__in=unknown).values_list("twin_id", "status")
            )
            reasons = [
                f"{t!r} is {other[t]}" if t in other else f"{t!r} is not a twin of creator {creator_id!r}"
                for t in unknown
            ]
            raise SearchInputError("Cannot search: " + "; ".join(reasons) + ".")
    targets = [Target(creator.namespace, None)] if include_shared else []
    targets += [Target(codec.twin_namespace(creator.creator_id, t), t) for t in chosen]
    if not targets:
        raise SearchInputError("Choose at least one twin or the creator-wide namespace.")
    return targets


# -- latency reports ------------------------------------------------------------------------------

FIGURES = ("p50_ms", "p95_ms", "p99_ms", "max_ms")
CHART_ROWS = 40


def report_page(*, page: Any = 1) -> Page:
    qs = LatencyReport.objects.select_related("job", "created_by")
    return Paginator(qs, 50).get_page(page)


def report_get(*, report_id: int) -> LatencyReport | None:
    return LatencyReport.objects.select_related("job", "created_by").filter(pk=report_id).first()


def report_rows(report: LatencyReport) -> list[LatencyNamespace]:
    return list(report.rows.all())


def _bar(row: Any, series: str = "") -> Bar:
    return Bar(series, row.p50_ms, row.p95_ms, row.p99_ms, row.max_ms)


def _row_label(row: LatencyNamespace) -> str:
    return row.namespace


def report_chart(report: LatencyReport, rows: Sequence[LatencyNamespace]) -> tuple[SafeString, int]:
    """The report's chart: overall first, then the CHART_ROWS slowest namespaces by p95 (in
    report order). Returns the SVG and how many namespaces it leaves out."""
    probed = [r for r in rows if r.query_count]
    shown = {r.pk for r in sorted(probed, key=lambda r: -(r.p95_ms or 0))[:CHART_ROWS]}
    chart_rows = [ChartRow("overall", [_bar(report)])]
    chart_rows += [ChartRow(_row_label(r), [_bar(r)]) for r in rows if r.pk in shown]
    return latency_chart(chart_rows), len(probed) - len(shown)


@dataclass(frozen=True)
class Delta:
    figure: str
    a: float | None
    b: float | None

    @property
    def change(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def percent(self) -> float | None:
        change = self.change
        return None if change is None or not self.a else 100 * change / self.a


@dataclass(frozen=True)
class PairedRow:
    a: LatencyNamespace
    b: LatencyNamespace
    matched_by: str  # "name" or "legacy namespace"

    @property
    def label(self) -> str:
        return self.a.namespace if self.matched_by == "name" else f"{self.a.namespace} → {self.b.namespace}"

    @property
    def deltas(self) -> list[Delta]:
        return [Delta(f, getattr(self.a, f), getattr(self.b, f)) for f in FIGURES]


@dataclass(frozen=True)
class Comparison:
    a: LatencyReport
    b: LatencyReport
    overall: list[Delta]
    pairs: list[PairedRow]
    only_a: list[LatencyNamespace]
    only_b: list[LatencyNamespace]
    chart: SafeString


def _legacy_map(names: set[str]) -> dict[str, str]:
    """legacy namespace -> the twin namespace it was migrated into, for `names` (one query)."""
    if not names:
        return {}
    twins = Twin.objects.select_related("creator").filter(legacy_namespace__in=names)
    return {t.legacy_namespace: t.namespace for t in twins}


def report_compare(a: LatencyReport, b: LatencyReport) -> Comparison:
    """Report B against report A, per namespace and overall. Namespaces pair by name, or, for a
    before/after migration, a legacy namespace in one report pairs with the twin namespace the
    registry says it became in the other."""
    rows_a, rows_b = report_rows(a), report_rows(b)
    by_name_b = {r.namespace: r for r in rows_b}
    pairs: list[PairedRow] = []
    unmatched_a: list[LatencyNamespace] = []
    for row in rows_a:
        other = by_name_b.pop(row.namespace, None)
        if other is not None:
            pairs.append(PairedRow(row, other, "name"))
        else:
            unmatched_a.append(row)
    legacy = _legacy_map({r.namespace for r in unmatched_a} | set(by_name_b))
    migrated_to = {new: old for old, new in legacy.items()}
    only_a: list[LatencyNamespace] = []
    for row in unmatched_a:
        # A legacy row in A whose twin is in B (before -> after), or a twin row in A whose legacy
        # namespace is in B (after -> rolled back).
        target = legacy.get(row.namespace) or migrated_to.get(row.namespace)
        other = by_name_b.pop(target, None) if target else None
        if other is not None:
            pairs.append(PairedRow(row, other, "legacy namespace"))
        else:
            only_a.append(row)
    only_b = list(by_name_b.values())
    chart_pairs = sorted(pairs, key=lambda p: -max(p.a.p95_ms or 0, p.b.p95_ms or 0))[:CHART_ROWS]
    chart = latency_chart(
        [ChartRow("overall", [_bar(a, "A"), _bar(b, "B")])]
        + [ChartRow(p.label, [_bar(p.a, "A"), _bar(p.b, "B")]) for p in chart_pairs],
        series_names=("A", "B"),
    )
    return Comparison(
        a=a,
        b=b,
        overall=[Delta(f, getattr(a, f), getattr(b, f)) for f in FIGURES],
        pairs=pairs,
        only_a=only_a,
        only_b=only_b,
        chart=chart,
    )
