"""Production settings come from the environment: with DEBUG=0, HTTPS=1, a real SECRET_KEY and
ALLOWED_HOSTS, Django's deployment checklist finds nothing to warn about; without HTTPS=1 it
does (so the first test can fail)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _check_deploy(**extra: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        # Only what the test sets: none of the developer's own settings leak in.
        if not key.startswith(("DJANGO_", "HSTS_", "SECURE_", "TRUST_", "SESSION_", "CSRF_"))
        and key not in {"DEBUG", "HTTPS", "SECRET_KEY", "ALLOWED_HOSTS", "REQUIRE_2FA_FOR"}
    }
    environment.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(48),  # 64 characters, random
        ALLOWED_HOSTS="admin.example.org",
        DJANGO_SETTINGS_MODULE="twinadmin.settings",
        **extra,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_https_on():
    result = _check_deploy(HTTPS="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_without_https():
    result = _check_deploy()
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output


def test_subdomains_and_preload_are_their_own_switches():
    result = _check_deploy(HTTPS="1", HSTS_INCLUDE_SUBDOMAINS="1", HSTS_PRELOAD="1")
    assert result.returncode == 0, result.stdout + result.stderr
    # Nothing silenced once both are on.
    assert "0 silenced" in result.stdout
