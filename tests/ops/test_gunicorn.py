"""The web command of Procfile.prod, run for real: gunicorn with several worker processes. A
scrape reaches one worker, yet /metrics counts the requests every worker served
(prometheus_client's multiprocess mode, set up by twinadmin/ops/gunicorn_conf.py), and with
LOG_FORMAT=json gunicorn's own lines, the access log included, are JSON objects."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections
from prometheus_client.parser import text_string_to_metric_families

from tests.support.workers import database_url, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def test_metrics_count_the_requests_of_every_worker(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "gunicorn-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(connections["default"].settings_dict),
        "VECTOR_LOCAL_PATH": str(tmp_path / "vectors.sqlite3"),
        "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit" / "signing-key.pem"),
        "AUDIT_CHECKPOINT_DIR": str(tmp_path / "audit" / "checkpoints"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "LOG_FORMAT": "json",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(gunicorn), "twinadmin.wsgi", "--config", "python:twinadmin.ops.gunicorn_conf"]
            + ["--bind", f"127.0.0.1:{port}", "--workers", "3", "--access-logfile", "-"]
            + ["--no-control-socket"],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: _get(f"{base}/healthz")[0] == 200,
            timeout=60,
            what=lambda: f"gunicorn to answer /healthz:\n{log_path.read_text(errors='replace')}",
        )
        for _ in range(REQUESTS):
            assert _get(f"{base}/healthz")[0] == 200
        status, body = _get(f"{base}/metrics")
        assert status == 200
        served = 0.0
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                if (
                    sample.name == "django_http_responses_total_by_status_view_method_total"
                    and sample.labels.get("view") == "ops-show-health"
                ):
                    served += sample.value
        # The wait's probes count too: at least every request made after it, from all workers.
        assert served >= REQUESTS + 1
        assert b"twinadmin_jobs{" in body
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line: a JSON object
    access = [r for r in records if r.get("logger") == "gunicorn.access"]
    assert any("/healthz" in r["message"] for r in access)
    workers = {
        r["message"]
        for r in records
        if r.get("logger") == "gunicorn.error" and "Booting worker" in r["message"]
    }
    assert len(workers) == 3
