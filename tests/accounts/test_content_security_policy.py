"""Every page is sent with a Content-Security-Policy that runs no inline script, handler or style,
and no template holds one (the browser walk in tests/browser/test_csp.py shows the pages still
work under it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _policy(response) -> dict[str, set[str]]:
    header = response["Content-Security-Policy"]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: set(values) for name, *values in directives}


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["accounts-login", "registry-overview", "audit-list-entries"])
def test_pages_carry_the_policy(client, auditor, url_name):
    client.force_login(auditor)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["default-src"] == {"'self'"}
    assert policy["script-src"] == {"'self'"} and policy["style-src"] == {"'self'"}
    assert policy["frame-ancestors"] == {"'none'"} and policy["object-src"] == {"'none'"}
    assert policy["form-action"] == {"'self'"} and policy["base-uri"] == {"'self'"}
    assert not any("unsafe" in value for values in policy.values() for value in values)


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE), "an inline <script>"),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE), "an inline event handler"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE), "a style attribute"),
    (re.compile(r"<style", re.IGNORECASE), "a <style> element"),
    (re.compile(r"javascript:", re.IGNORECASE), "a javascript: URL"),
]


def test_no_template_holds_inline_script_handler_or_style():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    assert found == []


def test_htmx_is_told_not_to_add_its_indicator_style(client, db):
    body = client.get(reverse("accounts-login")).content.decode()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in body
    # The meta comes before htmx reads it, and app.js is deferred like htmx.
    assert body.index("htmx-config") < body.index("htmx-2")
    assert re.search(r'<script src="[^"]*js/app\.js" defer>', body)
