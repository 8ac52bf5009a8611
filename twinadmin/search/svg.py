"""Server-rendered SVG latency charts: no JavaScript library, nothing from a CDN.

One row per namespace (plus "overall"); each row holds one bar per report: p99, p95 and p50
drawn over each other from light to dark, a tick at the maximum. The axis ends at the largest
p99 so a single slow outlier does not flatten every bar; a maximum beyond it is drawn at the edge
as an arrow, and every bar carries its exact figures in a tooltip (<title>). Each bar's p95 figure
stands in a column of its own at the right, clear of the bars and of the max tick; namespace names
are set in a monospace face and shortened from the left to fit the label column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 820
LABEL_WIDTH = 230
RIGHT_PAD = 130  # the "›max" of a bar beyond the axis, then the p95 figures column
FONT_SIZE = 11
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
# A monospace glyph is 0.6 em wide in the usual faces; a little more, so no face spills over.
LABEL_CHARS = int((LABEL_WIDTH - 12) / (0.62 * FONT_SIZE))
BAR_HEIGHT = 12
BAR_GAP = 3
ROW_GAP = 8
TOP = 30
AXIS_HEIGHT = 28
# Per report: (p99, p95, p50) fills, light to dark. Report A blue, report B orange.
PALETTES = (("#c7d7fe", "#84a9f8", "#2f5bd3"), ("#fedbb5", "#fdab67", "#c4540f"))


@dataclass(frozen=True)
class Bar:
    series: str  # e.g. "A" / "B", or "" for a single report
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True)
class ChartRow:
    label: str
    bars: Sequence[Bar]


def nice_step(span: float, ticks: int = 5) -> float:
    """A 1/2/5 x 10^n step giving about `ticks` intervals over `span`."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:,.0f}"


def _truncate(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else "…" + label[-(limit - 1) :]


class _Chart:
    """One chart's geometry (the axis domain, row height) and its markup, part by part."""

    def __init__(self, rows: Sequence[ChartRow], series_names: Sequence[str]) -> None:
        self.rows = rows
        self.series_names = series_names
        top = max((b.p99 or b.max or 0.0 for row in rows for b in row.bars), default=0.0)
        self.step = nice_step(top or 1.0)
        self.domain = self.step * max(1, math.ceil((top or 1.0) / self.step))
        self.plot = WIDTH - LABEL_WIDTH - RIGHT_PAD
        bars_per_row = max((len(row.bars) for row in rows), default=1)
        self.row_height = bars_per_row * (BAR_HEIGHT + BAR_GAP) - BAR_GAP + ROW_GAP
        self.axis_y = TOP + len(rows) * self.row_height
        self.height = self.axis_y + AXIS_HEIGHT
        self.out: list[str] = []

    def x(self, ms: float) -> float:
        return LABEL_WIDTH + self.plot * min(ms, self.domain) / self.domain

    def markup(self) -> str:
        self.out.append(
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{self.height}" '
            f'viewBox="0 0 {WIDTH} {self.height}" role="img" '
            'aria-label="query latency per namespace, milliseconds" '
            f'font-family="system-ui, sans-serif" font-size="{FONT_SIZE}">'
        )
        self.legend()
        self.axis()
        for r, row in enumerate(self.rows):
            self.row(TOP + r * self.row_height, row)
        self.out.append("</svg>")
        return "".join(self.out)

    def legend(self) -> None:
        out, legend_x = self.out, LABEL_WIDTH
        for index, name in enumerate(self.series_names or [""]):
            palette = PALETTES[index % len(PALETTES)]
            for fill, text in zip(palette, ("p99", "p95", "p50"), strict=True):
                prefix = f"{name} " if name else ""
                out.append(f'<rect x="{legend_x}" y="8" width="10" height="10" fill="{fill}"/>')
                out.append(f'<text x="{legend_x + 14}" y="17">{escape(prefix + text)}</text>')
                legend_x += 24 + 7 * len(prefix + text)
        out.append(
            f'<line x1="{legend_x}" y1="8" x2="{legend_x}" y2="18" stroke="#101828" stroke-width="2"/>'
        )
        out.append(f'<text x="{legend_x + 5}" y="17">max</text>')

    def axis(self) -> None:
        tick = 0.0
        while tick <= self.domain + 1e-9:
            tx = self.x(tick)
            self.out.append(
                f'<line x1="{tx:.1f}" y1="{TOP - 4}" x2="{tx:.1f}" y2="{self.axis_y}" stroke="#e4e7ec"/>'
            )
            self.out.append(
                f'<text x="{tx:.1f}" y="{self.axis_y + 14}" text-anchor="middle">{_fmt(tick)}</text>'
            )
            tick += self.step
        self.out.append(f'<text x="{WIDTH - RIGHT_PAD}" y="{self.axis_y + 26}" text-anchor="end">ms</text>')

    def row(self, y0: float, row: ChartRow) -> None:
        label_y = y0 + (self.row_height - ROW_GAP) / 2 + 4
        self.out.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{label_y:.1f}" text-anchor="end" font-family="{MONO}">'
            f"<title>{escape(row.label)}</title>{escape(_truncate(row.label))}</text>"
        )
        for b, bar in enumerate(row.bars):
            single = len(row.bars) == 1 and not self.series_names
            self.bar(
                y0 + b * (BAR_HEIGHT + BAR_GAP), row.label, bar, PALETTES[0 if single else b % len(PALETTES)]
            )

    def bar(self, y: float, label: str, bar: Bar, palette: tuple[str, str, str]) -> None:
        out, x = self.out, self.x
        tip = escape(
            f"{label}{f' ({bar.series})' if bar.series else ''}: p50 {_fmt(bar.p50)} ms, "
            f"p95 {_fmt(bar.p95)} ms, p99 {_fmt(bar.p99)} ms, max {_fmt(bar.max)} ms"
        )
        out.append(f"<g><title>{tip}</title>")
        for value, fill in zip((bar.p99, bar.p95, bar.p50), palette, strict=True):
            if value is not None:
                width = max(1.0, x(value) - LABEL_WIDTH)
                out.append(
                    f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" '
                    f'height="{BAR_HEIGHT}" fill="{fill}"/>'
                )
        beyond = bar.max is not None and bar.max > self.domain
        if bar.max is not None:
            mx = x(bar.max)
            out.append(
                f'<line x1="{mx:.1f}" y1="{y - 1}" x2="{mx:.1f}" y2="{y + BAR_HEIGHT + 1}" '
                'stroke="#101828" stroke-width="2"/>'
            )
            if beyond:
                out.append(f'<text x="{mx + 3:.1f}" y="{y + BAR_HEIGHT - 2}">›{escape(_fmt(bar.max))}</text>')
        if bar.p95 is not None:
            out.append(
                f'<text x="{WIDTH - 4}" y="{y + BAR_HEIGHT - 2}" text-anchor="end" fill="#475467">'
                f"p95 {_fmt(bar.p95)}</text>"
            )
        if bar.p50 is None:
            out.append(
                f'<text x="{LABEL_WIDTH + 4}" y="{y + BAR_HEIGHT - 2}" fill="#6b7683">no queries</text>'
            )
        out.append("</g>")


def latency_chart(rows: Sequence[ChartRow], *, series_names: Sequence[str] = ()) -> SafeString:
    """The chart as inline SVG markup (safe to put in a template as is: every text is escaped)."""
    return mark_safe(_Chart(rows, series_names).markup())  # noqa: S308 - every text went through escape()
