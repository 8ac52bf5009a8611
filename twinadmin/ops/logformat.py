"""JSON log lines (LOG_FORMAT=json) in Celery workers too.

Django's LOGGING puts the JSON formatter on the web process's console handler, but a Celery
worker replaces the root logger's handlers with its own (and the task logger's), so the same
formatter goes on those once Celery has set them up (`after_setup_logger` and
`after_setup_task_logger`, connected in twinadmin/celery.py). The formatter is built from
settings.LOGGING's "json" entry: one definition of what a line holds, for every process."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

JSON_FORMATTER = "json"


def json_formatter() -> logging.Formatter:
    logging_config: dict[str, Any] = settings.LOGGING
    options = dict(logging_config["formatters"][JSON_FORMATTER])
    factory = options.pop("()")
    return import_string(factory)(**options) if isinstance(factory, str) else factory(**options)


class CurrentTask(logging.Filter):
    """Adds the running task's id and name to each record (Celery's own task formatter puts them
    in the text; with JSON lines they become fields of their own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from celery import current_task

        if current_task and current_task.request.id and not hasattr(record, "task_id"):
            record.task_id = current_task.request.id
            record.task_name = current_task.name
        return True


def use_json_lines(logger: logging.Logger, **_: Any) -> None:
    """For Celery's logging signals: JSON lines on the handlers Celery gave `logger`, when
    LOG_FORMAT=json."""
    if getattr(settings, "LOG_FORMAT", "text") != "json":
        return
    handlers = list(logger.handlers)
    if logger is logging.getLogger():
        # Set up with the root logger, and sent no signal of its own: the pool's logger (billiard),
        # which reports pool processes that exit.
        from celery.utils.log import get_multiprocessing_logger

        pool_logger = get_multiprocessing_logger()
        handlers += pool_logger.handlers if pool_logger is not None else []
    for handler in handlers:
        handler.setFormatter(json_formatter())
        if not any(isinstance(f, CurrentTask) for f in handler.filters):
            handler.addFilter(CurrentTask())
