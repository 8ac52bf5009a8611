"""`manage.py audit_verify` as an operator runs it: exit status 0 when intact, non-zero with the
broken seq on stderr otherwise. A separate process, so the rows must be committed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def run_verify(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": _database_url(), "SECRET_KEY": "test-only", "DEBUG": "0"}
    return subprocess.run(
        [sys.executable, "manage.py", "audit_verify", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_exit_status_is_zero_when_intact_and_non_zero_naming_the_broken_seq(many_entries, tamper):
    many_entries(12)
    intact = run_verify()
    assert intact.returncode == 0, intact.stderr
    assert "12 entries" in intact.stdout

    tamper("DELETE FROM {table} WHERE seq = 4")
    broken = run_verify("--json")
    assert broken.returncode != 0
    assert "broken at seq 4: seq gap (deleted)" in broken.stderr
    report = json.loads(broken.stdout)
    assert report["ok"] is False and report["first_broken"]["seq"] == 4 and report["entries"] == 3
