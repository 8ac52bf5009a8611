"""Template filters every page uses, registered as a builtin library (settings.TEMPLATES), so no
template has to `{% load %}` them.

`when` is the one way a time is shown: readable on the page ("4 minutes ago" within a day, the
date and minute beyond), the exact UTC value to the microsecond on hover, and the ISO value in the
`<time datetime>` attribute for machines. `when:"full"` always shows the date and the second (audit
rows, where neighbours differ by seconds). `seconds` reads a duration ("2 min 5 s"). `words` turns
a stored enum (`not_found`) into words."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

register = template.Library()

RELATIVE_WITHIN = dt.timedelta(days=1)


@register.filter
def when(value: dt.datetime | str | None, style: str = "") -> SafeString | str:
    """A datetime, or its ISO text as stored in JSON (a receipt, a verification report)."""
    if isinstance(value, str):
        text = value
        try:
            value = parse_datetime(text)
        except ValueError:
            return text
        if value is None:  # not a time: shown as it is, nothing hidden
            return text
    if not isinstance(value, dt.datetime):
        return "—"
    at = timezone.localtime(value, dt.UTC) if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)
    exact = at.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    now = timezone.now()
    age = now - at
    if style == "full":
        shown = f"{at:%-d %b %Y %H:%M:%S} UTC"
    elif dt.timedelta(0) <= age < dt.timedelta(minutes=1):
        shown = "just now"
    elif dt.timedelta(0) <= age < RELATIVE_WITHIN:
        shown = f"{timesince(at, now=now, depth=1)} ago"
    else:
        shown = f"{at:%-d %b %Y %H:%M} UTC"
    return format_html('<time datetime="{}" title="{}">{}</time>', at.isoformat(), exact, shown)


@register.filter
def words(value: object) -> str:
    """`not_found` → "not found", `creator.erase.approve` stays as it is (not an enum)."""
    return str(value).replace("_", " ") if value is not None else ""


@register.filter
def seconds(value: float | int | None) -> str:
    """A duration in seconds as people say it: "45 s", "2 min 5 s", "1 h 3 min"."""
    if value is None:
        return "—"
    total = max(0, int(round(float(value))))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
