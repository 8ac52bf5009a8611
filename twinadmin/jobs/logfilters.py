"""Keeps the worker's log about work: the beat sweep runs every JOB_SWEEP_SECONDS, and Celery
logs three INFO lines for each run ("sending due task", "received", "succeeded"), which bury
everything else (the address `make run` prints scrolls away within a minute). Those routine
lines are dropped; the sweep's own warning when it continues or re-sends a job stays, and so does
anything Celery says about it at WARNING or above."""

from __future__ import annotations

import logging

SWEEP_TASK = "jobs.sweep"


class RoutineSweepFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or not record.name.startswith("celery"):
            return True
        return SWEEP_TASK not in record.getMessage()


def quiet_routine_sweeps(logger: logging.Logger, **_: object) -> None:
    """For Celery's `after_setup_logger` / `after_setup_task_logger`: the worker sets up its own
    handlers (it does not use settings.LOGGING's), so the filter goes on those."""
    for handler in logger.handlers:
        if not any(isinstance(f, RoutineSweepFilter) for f in handler.filters):
            handler.addFilter(RoutineSweepFilter())
