"""`test_deletion`: exit 0 only when the drill passed, --json, --creator refuses a taken id."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.support.drills import NOTHING, leftovers
from twinadmin.drills.models import DrillRun
from twinadmin.registry import codec
from twinadmin.registry.services import creator_create

pytestmark = pytest.mark.django_db


def test_json_reports_each_step_of_a_passing_drill():
    out = StringIO()
    call_command("test_deletion", "--creator", "drill-cmd", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["passed"] is True and report["status"] == "passed"
    assert report["creator_id"] == "drill-cmd"
    assert [s["name"] for s in report["steps"]][-1] == "cleanup"
    assert all(set(s) == {"name", "ok", "seconds", "detail"} for s in report["steps"])
    assert leftovers("drill-cmd") == NOTHING


def test_plain_output_lists_steps():
    out = StringIO()
    call_command("test_deletion", stdout=out)
    text = out.getvalue()
    assert "verify_creator" in text and ": passed" in text


def test_a_failed_drill_exits_non_zero(index_server):
    index_server.set_faults(
        outage_namespaces={codec.creator_namespace("drill-bad")}, outage_seconds=1, retry_after=0.01
    )
    out = StringIO()
    with pytest.raises(CommandError, match="unavailable for upserts"):
        call_command("test_deletion", "--creator", "drill-bad", "--json", stdout=out)
    assert json.loads(out.getvalue())["passed"] is False
    assert leftovers("drill-bad") == NOTHING


def test_an_existing_creator_is_refused_and_left_alone():
    creator_create(creator_id="real.creator")
    with pytest.raises(CommandError, match="already exists"):
        call_command("test_deletion", "--creator", "real.creator")
    assert leftovers("real.creator")["creators"] == 1
    assert not DrillRun.objects.exists()


def test_an_invalid_id_is_refused():
    with pytest.raises(CommandError, match="Invalid creator id"):
        call_command("test_deletion", "--creator", "Bad_Id")
