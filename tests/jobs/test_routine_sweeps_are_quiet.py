"""The worker's log is about work: Celery's routine INFO lines about the beat sweep are dropped
(they bury everything else every few seconds), while its warnings, the sweep's own report when it
continues a job, and every other task's lines stay."""

from __future__ import annotations

import io
import logging

from twinadmin.jobs.logfilters import quiet_routine_sweeps


def _logged(logger_name: str, level: int, message: str) -> str:
    stream = io.StringIO()
    owner = logging.getLogger("test-worker-root")
    owner.handlers = [logging.StreamHandler(stream)]
    quiet_routine_sweeps(owner)
    quiet_routine_sweeps(owner)  # Celery sends both signals: the filter is added once
    assert len(owner.handlers[0].filters) == 1
    record = logging.LogRecord(logger_name, level, __file__, 1, message, (), None)
    owner.handlers[0].handle(record)
    return stream.getvalue()


def test_routine_sweep_lines_are_dropped() -> None:
    assert _logged("celery.beat", logging.INFO, "Scheduler: Sending due task jobs-sweep (jobs.sweep)") == ""
    assert _logged("celery.worker.strategy", logging.INFO, "Task jobs.sweep[1] received") == ""
    assert _logged("celery.app.trace", logging.INFO, "Task jobs.sweep[1] succeeded in 0.01s: {}") == ""


def test_what_matters_stays() -> None:
    assert "raised unexpected" in _logged(
        "celery.app.trace", logging.ERROR, "Task jobs.sweep[1] raised unexpected"
    )
    assert "received" in _logged(
        "celery.worker.strategy", logging.INFO, "Task jobs.run_resumable_job[2] received"
    )
    assert "continuing" in _logged(
        "twinadmin.jobs.leases", logging.WARNING, "jobs.sweep: continuing [4], re-sent []"
    )
