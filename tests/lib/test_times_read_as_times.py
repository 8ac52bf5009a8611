"""Times on every page read as times: "4 minutes ago" within a day, the date and minute beyond,
the exact UTC value to the microsecond on hover, and the ISO value for machines."""

from __future__ import annotations

import datetime as dt

from django.template import Context, Template
from django.utils import timezone

NOW = dt.datetime(2026, 12, 2, 12, 0, 0, tzinfo=dt.UTC)


def render(value: object, style: str = "") -> str:
    argument = f':"{style}"' if style else ""
    return Template("{{ at|when" + argument + " }}").render(Context({"at": value}))


def test_a_recent_time_reads_as_an_age_with_the_exact_value_on_hover(monkeypatch) -> None:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    at = NOW - dt.timedelta(minutes=4, seconds=12, microseconds=5)
    html = render(at)
    assert ">4\xa0minutes ago</time>" in html
    assert 'title="2026-12-02 11:55:47.999995 UTC"' in html
    assert 'datetime="2026-12-02T11:55:47.999995+00:00"' in html


def test_an_older_time_reads_as_a_date_and_minute_without_microseconds(monkeypatch) -> None:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    html = render(dt.datetime(2026, 11, 3, 9, 5, 59, 123456, tzinfo=dt.UTC))
    assert ">3 Nov 2026 09:05 UTC</time>" in html and ".123456 UTC" in html


def test_full_shows_the_second_and_a_missing_time_is_a_dash(monkeypatch) -> None:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    assert ">2 Dec 2026 11:59:58 UTC</time>" in render(NOW - dt.timedelta(seconds=2), "full")
    assert ">just now</time>" in render(NOW - dt.timedelta(seconds=2))
    assert render(None) == "—"


def test_a_duration_reads_in_hours_minutes_and_seconds() -> None:
    def shown(value: object) -> str:
        return Template("{{ d|seconds }}").render(Context({"d": value}))

    assert [shown(v) for v in (4.4, 125, 120, 3780, None)] == ["4 s", "2 min 5 s", "2 min", "1 h 3 min", "—"]


def test_a_time_stored_as_iso_text_reads_the_same_way(monkeypatch) -> None:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    assert ">2 Dec 2026 11:59:58 UTC</time>" in render("2026-12-02T11:59:58.250000+00:00", "full")
    assert render("not a time") == "not a time" and render("2026-13-45T99:00:00") == "2026-13-45T99:00:00"
