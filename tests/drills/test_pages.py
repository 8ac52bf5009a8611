"""Drill list (any role), the run button (operators, POST) and the decision point."""

from __future__ import annotations

import pytest
from django.urls import reverse

from migrations_app.models import NamespaceMigration
from twinadmin.audit.models import AuditEntry
from twinadmin.drills.models import DrillRun
from twinadmin.drills.services import erasure_drill_run
from twinadmin.erasure.models import ErasureRequest
from twinadmin.jobs.models import Job
from twinadmin.registry.models import Creator
from twinadmin.registry.services import creator_create

pytestmark = pytest.mark.django_db


def test_any_role_reads_the_drill_list_and_only_operators_see_the_button(auditor_client):
    run = erasure_drill_run(actor="cli:test_deletion", creator_id="drill-listed")
    response = auditor_client.get(reverse("drills-list-runs"))
    assert response.status_code == 200
    assert b"drill-listed" in response.content and b'data-status="passed"' in response.content
    assert reverse("drills-run-drill").encode() not in response.content
    assert run.pk


def test_signed_in_without_a_role_is_refused(client, nobody):
    client.force_login(nobody)
    assert client.get(reverse("drills-list-runs")).status_code == 403
    assert client.get(reverse("drills-decision")).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get(reverse("drills-list-runs")).status_code == 302


def test_an_operator_starts_a_drill_and_lands_on_its_job(operator_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = operator_client.post(reverse("drills-run-drill"))
    run = DrillRun.objects.get()
    assert response.status_code == 302 and response.url == run.job.get_absolute_url()
    assert run.job.kind == "erasure_drill" and run.job.status == Job.Status.PENDING
    assert run.creator_id.startswith("drill-")


def test_only_operators_start_drills(auditor_client):
    assert auditor_client.post(reverse("drills-run-drill")).status_code == 403
    assert auditor_client.get(reverse("drills-run-drill")).status_code == 405
    assert not DrillRun.objects.exists()


def test_the_decision_page_shows_what_was_verified(auditor_client):
    creator_create(creator_id="sainath.no.1")
    NamespaceMigration.objects.create(
        creator_id="sainath.no.1", status=NamespaceMigration.Status.SUCCEEDED, requested_by_name="op"
    )
    erasure_drill_run(actor="cli:test_deletion")

    response = auditor_client.get(reverse("drills-decision"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "sainath.no.1" in html
    assert 'id="migration" data-verified="yes"' in html
    assert 'id="drill" data-passed="yes"' in html
    assert "no latency reports for this creator" in html
    assert reverse("drills-decision-keep") not in html  # read-only for auditors


def test_the_decision_page_without_migration_or_drill(operator_client):
    creator_create(creator_id="nobody.yet")
    html = operator_client.get(reverse("drills-decision") + "?creator=nobody.yet").content.decode()
    assert 'data-verified="no"' in html and 'data-passed="no"' in html
    assert reverse("drills-decision-keep") in html


def test_keep_records_the_decision_in_the_audit_log(operator_client, operator):
    creator_create(creator_id="sainath.no.1")
    response = operator_client.post(reverse("drills-decision-keep"), {"creator": "sainath.no.1"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="decision.keep")
    assert entry.actor == operator.username and entry.creator_id == "sainath.no.1"
    assert entry.details["decision"] == "keep-migrated-data"
    assert entry.details["migration_verified"] is False


def test_start_fresh_files_an_erasure_request_awaiting_approval(operator_client):
    creator_create(creator_id="sainath.no.1")
    response = operator_client.post(
        reverse("drills-decision-start-fresh"), {"creator": "sainath.no.1", "confirm": "sainath.no.1"}
    )
    erasure = ErasureRequest.objects.get(creator_id="sainath.no.1")
    assert response.status_code == 302 and response.url == erasure.get_absolute_url()
    assert erasure.status == ErasureRequest.Status.PENDING  # four eyes: another approver decides


@pytest.mark.parametrize("confirm", [None, "", "  ", "sainath.no.2", "SAINATH.NO.1"])
def test_start_fresh_without_the_typed_creator_id_files_nothing(operator_client, confirm):
    creator_create(creator_id="sainath.no.1")
    data = {"creator": "sainath.no.1"} if confirm is None else {"creator": "sainath.no.1", "confirm": confirm}

    response = operator_client.post(reverse("drills-decision-start-fresh"), data, follow=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert "To confirm, type the creator id &#x27;sainath.no.1&#x27;" in html and "Nothing was filed." in html
    assert not ErasureRequest.objects.exists()
    assert not AuditEntry.objects.filter(action="creator.erase.request").exists()


def test_the_decision_page_asks_for_the_creator_id_to_start_fresh(operator_client):
    creator_create(creator_id="sainath.no.1")
    html = operator_client.get(reverse("drills-decision") + "?creator=sainath.no.1").content.decode()
    assert 'name="confirm"' in html and "<code>sainath.no.1</code> to confirm" in html


def test_only_operators_decide(auditor_client):
    creator_create(creator_id="sainath.no.1")
    for name in ("drills-decision-keep", "drills-decision-start-fresh"):
        assert auditor_client.post(reverse(name), {"creator": "sainath.no.1"}).status_code == 403
    assert not AuditEntry.objects.filter(action="decision.keep").exists()
    assert not ErasureRequest.objects.exists()


def test_an_invalid_creator_is_refused_not_replaced_by_another(operator_client):
    creator_create(creator_id="sainath.no.1")

    response = operator_client.get(reverse("drills-decision") + "?creator=Bad_Id")

    html = response.content.decode()
    assert response.status_code == 400 and "Invalid creator id" in html
    assert "sainath.no.1" not in html and reverse("drills-decision-keep") not in html


def test_an_unregistered_or_erased_creator_offers_no_decision(operator_client):
    html = operator_client.get(reverse("drills-decision") + "?creator=ghost.1").content.decode()
    assert "not registered" in html and reverse("drills-decision-keep") not in html
    assert reverse("drills-decision-start-fresh") not in html

    creator = creator_create(creator_id="gone.2")
    Creator.objects.filter(pk=creator.pk).update(status=Creator.Status.ERASED)
    html = operator_client.get(reverse("drills-decision") + "?creator=gone.2").content.decode()
    assert 'data-status="erased"' in html and reverse("drills-decision-keep") not in html

    response = operator_client.post(reverse("drills-decision-keep"), {"creator": "gone.2"}, follow=True)
    assert "no migrated data to keep" in response.content.decode()
    assert not AuditEntry.objects.filter(action="decision.keep").exists()


def test_a_recorded_keep_is_shown_when_you_come_back(operator_client):
    creator_create(creator_id="sainath.no.1")
    operator_client.post(reverse("drills-decision-keep"), {"creator": "sainath.no.1"})

    html = operator_client.get(reverse("drills-decision") + "?creator=sainath.no.1").content.decode()

    assert "keep the migrated data</strong>, recorded by op" in html


def test_a_drill_started_on_the_page_is_attributed_to_the_operator(
    operator_client, django_capture_on_commit_callbacks
):
    from twinadmin.jobs.leases import resumable_job_run

    with django_capture_on_commit_callbacks(execute=False):
        operator_client.post(reverse("drills-run-drill"))
    run = DrillRun.objects.get()

    resumable_job_run(job_id=run.job_id)  # what the worker does with it

    run.refresh_from_db()
    assert run.status == DrillRun.Status.PASSED, run.error
    by = dict(
        AuditEntry.objects.filter(
            creator_id=run.creator_id,
            action__in=["twin.delete.request", "creator.erase.request", "creator.erase.approve"],
        ).values_list("action", "actor")
    )
    assert by["twin.delete.request"] == by["creator.erase.request"] == "op"
    assert by["creator.erase.approve"] == "cli:test_deletion"  # the drill approves its own scratch erasure
