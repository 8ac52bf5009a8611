"""The daily beat entry runs a drill through the task."""

from __future__ import annotations

import pytest
from django.conf import settings

from twinadmin.drills.models import DrillRun
from twinadmin.drills.tasks import scheduled_erasure_drill

pytestmark = pytest.mark.django_db


def test_the_drill_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["erasure-drill-daily"]
    assert entry == {"task": "drills.scheduled_erasure_drill", "schedule": 24 * 3600}
    assert scheduled_erasure_drill.name == "drills.scheduled_erasure_drill"


def test_the_scheduled_task_runs_a_drill_that_passes():
    assert scheduled_erasure_drill() == DrillRun.Status.PASSED
    assert DrillRun.objects.get().actor == "celery:erasure_drill"
