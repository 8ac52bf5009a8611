"""The Celery application. Broker and behaviour come from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinadmin.settings")

app = Celery("twinadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _quiet_routine_sweeps(logger, **kwargs):
    from twinadmin.jobs.logfilters import quiet_routine_sweeps

    quiet_routine_sweeps(logger, **kwargs)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _json_lines(logger, **kwargs):
    from twinadmin.ops.logformat import use_json_lines

    use_json_lines(logger, **kwargs)
