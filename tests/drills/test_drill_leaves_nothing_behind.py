"""The drill goes through the real erasure path and leaves nothing of its scratch creator, both
when it passes and when the index fails under it midway."""

from __future__ import annotations

import pytest

from tests.support.drills import NOTHING, leftovers
from twinadmin.audit.models import AuditEntry
from twinadmin.drills.models import DrillRun
from twinadmin.drills.services import DrillError, erasure_drill_run
from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.jobs.models import Job
from twinadmin.registry import codec
from twinadmin.registry.services import creator_create

pytestmark = pytest.mark.django_db

STEPS = ["create", "delete_twin", "verify_twin", "erase_creator", "verify_creator", "cleanup"]


def test_a_passing_drill_leaves_nothing_and_is_marked_in_the_audit_log():
    run = erasure_drill_run(actor="cli:test_deletion", creator_id="drill-pass")

    assert run.status == DrillRun.Status.PASSED, run.error
    assert [s["name"] for s in run.steps] == STEPS
    assert all(s["ok"] and s["seconds"] >= 0 for s in run.steps)
    assert leftovers("drill-pass") == NOTHING
    assert run.job.status == Job.Status.SUCCEEDED
    # The erasure path really ran: a verified twin deletion and a completed erasure (kept as receipts).
    assert TwinDeletion.objects.get(creator_id="drill-pass").status == TwinDeletion.Status.VERIFIED
    assert ErasureRequest.objects.get(creator_id="drill-pass").status == ErasureRequest.Status.COMPLETED

    marked = AuditEntry.objects.filter(action__in=["drill.start", "drill.end"]).order_by("seq")
    assert [(e.action, e.details["drill"], e.correlation_id) for e in marked] == [
        ("drill.start", True, run.job.correlation_id),
        ("drill.end", True, run.job.correlation_id),
    ]
    assert marked[1].outcome == "success" and marked[1].details["passed"] is True


def test_a_drill_whose_erasure_fails_midway_still_leaves_nothing(index_server):
    """The index refuses to delete the creator-wide namespace for a few seconds, from the
    erasure's first try: the erasure cannot finish, the drill fails, and its cleanup, retrying
    until the outage is over, still removes it all."""
    wide = codec.creator_namespace("drill-fail")
    index_server.set_faults(
        outage_namespaces={wide}, outage_operations={"delete"}, outage_seconds=3, retry_after=0.01
    )

    run = erasure_drill_run(actor="cli:test_deletion", creator_id="drill-fail")

    assert run.status == DrillRun.Status.FAILED
    by_name = {s["name"]: s for s in run.steps}
    assert by_name["delete_twin"]["ok"] and by_name["verify_twin"]["ok"]
    assert by_name["erase_creator"]["ok"] is False
    assert wide in run.error
    assert by_name["cleanup"]["ok"] is True
    assert by_name["cleanup"]["detail"]["namespaces_deleted"] == [wide]  # the erasure had deleted the rest
    assert leftovers("drill-fail") == NOTHING
    assert index_server.store.describe_index_stats().namespaces == {}
    # The refusals happened on the server, to that namespace's deletes only.
    assert index_server.request_count(path=f"/namespaces/{wide}", status=503) > 0
    assert index_server.request_count(path="/vectors/upsert", status=503) == 0
    # No unfinished request is left in the approvers' queue for a creator that is gone.
    assert not ErasureRequest.objects.filter(creator_id="drill-fail").exists()
    assert run.job.status == Job.Status.FAILED
    end = AuditEntry.objects.get(action="drill.end", correlation_id=run.job.correlation_id)
    assert end.outcome == "failure" and end.details["drill"] is True and end.details["passed"] is False


def test_a_drill_that_fails_while_creating_still_leaves_nothing(index_server):
    twin_one = codec.twin_namespace("drill-early", "one")
    index_server.set_faults(outage_namespaces={twin_one}, outage_seconds=2, retry_after=0.01)

    run = erasure_drill_run(actor="cli:test_deletion", creator_id="drill-early")

    assert run.status == DrillRun.Status.FAILED
    assert [(s["name"], s["ok"]) for s in run.steps] == [("create", False), ("cleanup", True)]
    assert "unavailable for upserts" in run.steps[0]["detail"]["error"]
    assert leftovers("drill-early") == NOTHING
    assert index_server.store.describe_index_stats().namespaces == {}


def test_a_drill_whose_cleanup_cannot_finish_fails_and_names_what_is_left(index_server, settings):
    """An outage that outlasts the cleanup's patience: the drill fails and says what it left
    (and the drift report will show it); the registry rows are gone all the same."""
    settings.DRILL_CLEANUP_TIMEOUT_SECONDS = 0.5
    wide = codec.creator_namespace("drill-stuck")
    index_server.set_faults(outage_namespaces={wide}, outage_operations={"delete"}, retry_after=0.01)

    run = erasure_drill_run(actor="cli:test_deletion", creator_id="drill-stuck")

    assert run.status == DrillRun.Status.FAILED
    assert run.steps[-1]["name"] == "cleanup" and run.steps[-1]["ok"] is False
    assert f"cleanup could not remove ['{wide}']" in run.steps[-1]["detail"]["error"]
    assert leftovers("drill-stuck") == {"namespaces": [wide], "creators": 0, "twins": 0}


def test_the_drill_refuses_an_existing_creator():
    creator_create(creator_id="sainath.no.1")
    with pytest.raises(DrillError, match="already exists"):
        erasure_drill_run(actor="cli:test_deletion", creator_id="sainath.no.1")
    assert not DrillRun.objects.exists()


def test_a_random_scratch_id_is_valid_for_the_codec():
    run = erasure_drill_run(actor="cli:test_deletion")
    assert run.creator_id.startswith("drill-") and codec.is_valid_id(run.creator_id)
    assert run.passed
