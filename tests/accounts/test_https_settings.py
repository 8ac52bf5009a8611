"""What HTTPS=1 and its neighbours do to the responses a browser gets (the settings module read
with a given environment, then a request through the real middleware)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import django, json
django.setup()
from django.conf import settings
from django.test import Client
client = Client()
plain = client.get("/accounts/login/")
secure = client.get("/accounts/login/", secure=True)
forwarded = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": plain.status_code,
    "plain_location": plain.get("Location", ""),
    "hsts": secure.get("Strict-Transport-Security", ""),
    "forwarded": forwarded.status_code,
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_secure": secure.cookies["csrftoken"]["secure"] if "csrftoken" in secure.cookies else None,
}))
"""


def _probe(**extra: str) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"HTTPS", "HSTS_INCLUDE_SUBDOMAINS", "HSTS_PRELOAD", "TRUST_X_FORWARDED_PROTO"}
    }
    environment.update(
        DEBUG="1", ALLOWED_HOSTS="testserver", DJANGO_SETTINGS_MODULE="twinadmin.settings", **extra
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_https_redirects_plain_http_and_sends_hsts_for_a_year():
    seen = _probe(HTTPS="1")
    assert seen["plain"] == 301 and seen["plain_location"].startswith("https://")
    assert seen["hsts"] == "max-age=31536000"
    assert seen["session_secure"] is True and seen["csrf_secure"] is True
    # X-Forwarded-Proto is not believed unless its own switch says so.
    assert seen["forwarded"] == 301


def test_subdomains_preload_and_the_proxy_header_each_need_their_switch():
    seen = _probe(HTTPS="1", HSTS_INCLUDE_SUBDOMAINS="1", HSTS_PRELOAD="1", TRUST_X_FORWARDED_PROTO="1")
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["forwarded"] == 200


def test_without_https_nothing_is_forced():
    seen = _probe()
    assert seen["plain"] == 200 and seen["hsts"] == "" and seen["session_secure"] is False


@pytest.mark.django_db
def test_a_staff_session_lasts_twelve_hours(client, operator):
    response = client.post(reverse("accounts-login"), {"username": "op", "password": "pw-op"})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["max-age"] == 12 * 3600
