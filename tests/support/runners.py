"""A job run by a real process, as a worker runs it, SIGKILLed at a chosen moment: what a worker
that dies mid-job leaves behind (its job RUNNING, its lease no longer renewed)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from django.db import connections

from tests.support.vectors import DIM
from tests.support.workers import database_url


def job_killed_when(server, job_id: int, ready: Callable[[], bool], *, what: str, **env: str) -> None:
    """Run job `job_id` in another process against `server` (through the SDK) and SIGKILL it as
    soon as `ready()` holds; fail, saying `what` was awaited, if it ends first or takes 60 s."""
    environ = {
        **os.environ,
        "DATABASE_URL": database_url(connections["default"].settings_dict),
        "VECTOR_BACKEND": "pinecone",
        "PINECONE_API_KEY": "test-key",
        "PINECONE_INDEX_HOST": server.url,
        "VECTOR_DIMENSION": str(DIM),
        **env,
    }
    code = f"from twinadmin.jobs.leases import resumable_job_run; resumable_job_run(job_id={job_id})"
    runner = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=django_settings.BASE_DIR,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready():
            if runner.poll() is not None:
                assert runner.stdout is not None
                pytest.fail(f"the job ended before it was killed:\n{runner.stdout.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the job did not get to {what} in 60 s")
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):  # it ended by itself: the failure says so
            os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=20)
        if runner.stdout is not None:
            runner.stdout.close()
