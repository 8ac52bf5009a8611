"""The latency chart as Chromium draws it: every label inside the picture (namespace names of
UUID twins are long), and each bar's p95 figure in the figures column, clear of the bars and of
the max tick it used to sit on."""

from __future__ import annotations

import uuid
from typing import Any

from twinadmin.search.svg import WIDTH, Bar, ChartRow, latency_chart


def _rows() -> list[ChartRow]:
    creator = str(uuid.UUID(int=0x3F2A))
    rows = [ChartRow("overall", [Bar("", 1.2, 2.5, 3.1, 4.0)])]
    for n in range(6):
        twin = str(uuid.UUID(int=n + 1) if n % 2 else uuid.uuid5(uuid.NAMESPACE_DNS, str(n)))
        rows.append(ChartRow(f"creator_{creator}_twin_{twin}", [Bar("", 0.8 + n, 1.5 + n, 2.0 + n, 2.2 + n)]))
    rows.append(ChartRow("creator_wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww", [Bar("", 1, 2, 3, 90.0)]))
    return rows


def _drawn(browser: Any, svg: str) -> dict[str, Any]:
    page = browser.new_page()
    try:
        page.set_content(f"<!doctype html><body style='margin:0'>{svg}</body>")
        return page.evaluate(
            """() => {
              const svg = document.querySelector('svg');
              const texts = [...svg.querySelectorAll('text')].map(t => {
                const b = t.getBBox();
                return {text: t.textContent, x: b.x, right: b.x + b.width};
              });
              const ticks = [...svg.querySelectorAll('g line')].map(l => +l.getAttribute('x1'));
              const bars = [...svg.querySelectorAll('g rect')]
                .map(r => +r.getAttribute('x') + +r.getAttribute('width'));
              return {texts, ticks, barEnd: Math.max(...bars, ...ticks)};
            }"""
        )
    finally:
        page.close()


def test_every_label_is_inside_the_chart(browser: Any) -> None:
    drawn = _drawn(browser, str(latency_chart(_rows())))
    outside = [t for t in drawn["texts"] if t["x"] < 0 or t["right"] > WIDTH]
    assert not outside, outside


def test_the_p95_figures_stand_right_of_every_bar_and_tick(browser: Any) -> None:
    drawn = _drawn(browser, str(latency_chart(_rows())))
    figures = [t for t in drawn["texts"] if t["text"].startswith("p95 ")]
    assert len(figures) == 8
    assert all(t["x"] > drawn["barEnd"] + 2 for t in figures), (figures, drawn["barEnd"])
