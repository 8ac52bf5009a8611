"""LOG_FORMAT=json in Celery workers: Celery sets up its own handlers on the root and task
loggers, and those write one JSON object per line too (level, logger, message; the task's id
and name inside a task)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from celery.signals import after_setup_logger

from twinadmin.celery import app as celery_app


@pytest.fixture
def restored_loggers() -> Iterator[None]:
    """The loggers these tests set up get their handlers, level and propagation back."""
    names = ("test-worker-root", "celery.task")
    saved = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level, logging.getLogger(n).propagate)
        for n in names
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)


def _worker_root_logger(stream: io.StringIO) -> logging.Logger:
    """A logger set up as the worker sets up the root logger: Celery's handler code, then the
    signal Celery sends after it."""
    logger = logging.getLogger("test-worker-root")
    logger.handlers, logger.propagate = [], False
    celery_app.log.setup_handlers(logger, stream, celery_app.log.format, colorize=False)
    logger.setLevel(logging.INFO)
    after_setup_logger.send(sender=None, logger=logger, loglevel=logging.INFO, logfile=stream, format="")
    return logger


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_worker_lines_are_json_objects(settings, restored_loggers) -> None:
    settings.LOG_FORMAT = "json"
    stream = io.StringIO()
    logger = _worker_root_logger(stream)
    logger.info("copied %d vectors", 5)
    logger.warning("second line\nwith a newline inside")
    lines = _lines(stream)
    assert len(lines) == 2
    assert lines[0]["level"] == "INFO"
    assert lines[0]["logger"] == "test-worker-root"
    assert lines[0]["message"] == "copied 5 vectors"
    assert lines[1]["level"] == "WARNING"
    assert lines[1]["message"] == "second line\nwith a newline inside"


def test_task_lines_carry_the_task(settings, restored_loggers) -> None:
    settings.LOG_FORMAT = "json"
    stream = io.StringIO()
    celery_app.log.setup_task_loggers(loglevel=logging.INFO, logfile=stream, colorize=False)

    @celery_app.task(name="tests.ops.log_something")
    def log_something() -> None:
        logging.getLogger("celery.task").info("inside the task")

    log_something.apply(task_id="task-123")
    [line] = [line for line in _lines(stream) if line["message"] == "inside the task"]
    assert line["task_id"] == "task-123"
    assert line["task_name"] == "tests.ops.log_something"
    assert line["logger"] == "celery.task"
    assert line["level"] == "INFO"


def test_text_stays_text_by_default(settings, restored_loggers) -> None:
    settings.LOG_FORMAT = "text"
    stream = io.StringIO()
    _worker_root_logger(stream).info("plain")
    assert "plain" in stream.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(stream.getvalue().splitlines()[0])


def test_the_pools_lines_are_json_objects_too(settings) -> None:
    """Celery configures billiard's logger (pool processes exiting) with the root logger and
    sends no signal for it."""
    from celery.utils.log import get_multiprocessing_logger

    settings.LOG_FORMAT = "json"
    pool_logger = get_multiprocessing_logger()
    root = logging.getLogger()
    saved = pool_logger.handlers[:], pool_logger.propagate, root.handlers[:]
    stream = io.StringIO()
    try:
        pool_logger.handlers, pool_logger.propagate = [], False
        celery_app.log.setup_handlers(pool_logger, stream, celery_app.log.format, colorize=False)
        root.handlers = []  # the signal is sent for the root logger: its own handlers do not matter here
        after_setup_logger.send(sender=None, logger=root, loglevel=logging.INFO, logfile=stream, format="")
        pool_logger.error("Process 'ForkPoolWorker-1' exited with 'signal 15 (SIGTERM)'")
    finally:
        pool_logger.handlers, pool_logger.propagate, root.handlers = saved
    [line] = _lines(stream)
    assert line["level"] == "ERROR"
    assert line["message"].startswith("Process 'ForkPoolWorker-1'")
