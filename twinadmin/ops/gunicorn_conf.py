"""gunicorn's settings for the web process of Procfile.prod (`-c python:twinadmin.ops.gunicorn_conf`);
the command line there gives the address, workers and access log.

Metrics: each gunicorn worker is a process of its own, and a scrape reaches one of them, so the
in-process metrics (django-prometheus's request counts, the index adapter's error counter) are
kept in prometheus_client's multiprocess mode: every process writes its values into files under
PROMETHEUS_MULTIPROC_DIR and /metrics merges them. prometheus_client picks its mode when it is
first imported, so the variable is set here, in the master, before any worker imports Django.
Unset, a fresh temporary directory is made (and removed at exit); set, the directory is emptied
at start-up, since values left by an earlier run would be counted again. Give the web processes
a directory of their own: other processes (Celery workers) must not share it."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

_created_dir = ""
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _created_dir = tempfile.mkdtemp(prefix="twinadmin-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_dir


def on_starting(server: Any) -> None:
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for entry in os.scandir(directory):
        if entry.is_file() and entry.name.endswith(".db"):
            os.unlink(entry.path)


def child_exit(server: Any, worker: Any) -> None:
    """A worker's live gauges end with it (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _created_dir:
        shutil.rmtree(_created_dir, ignore_errors=True)


# LOG_FORMAT=json: gunicorn's own lines (start-up, worker deaths, the access log) as JSON objects
# too, with the fields settings.LOGGING's "json" formatter writes (gunicorn's master does not load
# Django's settings, so they are restated here). Only the environment is read, not `.env`.
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    logconfig_dict = {
        "formatters": {
            "generic": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }
