"""Pages: operators plan, preview (a dry run), start, cancel, resume and roll back; auditors and
approvers read; destructive endpoints are POST-only; the run page polls until the run ends."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from migrations_app.models import NamespaceMigration
from migrations_app.services import migration_create, migration_execute
from tests.migrations_app.helpers import legacy_sources
from tests.support.seed import CREATOR
from twinadmin.audit.models import AuditEntry
from twinadmin.jobs.models import Job, JobLease
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import index_refresh

pytestmark = pytest.mark.django_db
Status = NamespaceMigration.Status


@pytest.fixture
def run(seeded, creator):
    return migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:2])


def _form(**extra):
    return {"creator_id": CREATOR, "default_policy": "creator", "naming": "uuid", **extra}


def test_anonymous_is_sent_to_login_and_nobody_gets_403(client, nobody, run):
    assert client.get(reverse("migrations-list-runs")).status_code == 302
    assert client.post(reverse("migrations-cancel-run", args=[run.pk])).status_code == 403
    client.force_login(nobody)
    assert client.get(reverse("migrations-run-detail", args=[run.pk])).status_code == 403


@pytest.mark.parametrize("role", ["auditor", "approver"])
def test_auditors_and_approvers_read_but_cannot_act(client, request, run, role):
    client.force_login(request.getfixturevalue(role))
    for name, args in [
        ("migrations-list-runs", []),
        ("migrations-discover-namespaces", []),
        ("migrations-run-detail", [run.pk]),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200
        assert b"migrations-create-run" not in response.content
        assert b">Cancel<" not in response.content
    assert client.get(reverse("migrations-create-run")).status_code == 403
    for name in ("migrations-cancel-run", "migrations-resume-run", "migrations-rollback-run"):
        assert client.post(reverse(name, args=[run.pk])).status_code == 403
    assert client.post(reverse("migrations-create-run"), _form(action="start")).status_code == 403
    run.refresh_from_db()
    assert run.status == Status.QUEUED


def test_destructive_endpoints_are_post_only(operator_client, run):
    for name in ("migrations-cancel-run", "migrations-resume-run", "migrations-rollback-run"):
        assert operator_client.get(reverse(name, args=[run.pk])).status_code == 405


def test_preview_lists_every_source_and_target_and_writes_nothing(operator_client, seeded, creator):
    response = operator_client.post(reverse("migrations-create-run"), _form(action="preview"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Preview: 30 namespaces, 805 vectors, 29 twins" in body
    assert body.count('data-source="') == 30
    assert f"creator_{CREATOR}_twin_" in body and 'value="start"' in body
    assert NamespaceMigration.objects.count() == 0


def test_preview_shows_conflicts_and_start_is_refused(operator_client, seeded, creator):
    source = legacy_sources(seeded)[0]
    Twin.objects.create(creator=creator, twin_id=source)

    preview = operator_client.post(reverse("migrations-create-run"), _form(action="preview"))
    start = operator_client.post(reverse("migrations-create-run"), _form(action="start"))

    assert 'data-conflict="1"' in preview.content.decode() and 'value="start"' not in preview.content.decode()
    assert start.status_code == 400 and b"already registered" in start.content
    assert NamespaceMigration.objects.count() == 0


def test_a_missing_creator_needs_the_confirmation_box(operator_client, seeded):
    refused = operator_client.post(reverse("migrations-create-run"), _form(action="start"))
    assert refused.status_code == 400 and b"confirm that it should be created" in refused.content

    started = operator_client.post(
        reverse("migrations-create-run"), _form(action="start", create_creator="on")
    )
    assert started.status_code == 302
    assert Creator.objects.filter(creator_id=CREATOR).exists()


def test_done_when_from_the_page_29_twins_and_the_creator_namespace_verified(
    operator_client, seeded, creator
):
    response = operator_client.post(reverse("migrations-create-run"), _form(action="start"))
    run = NamespaceMigration.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert run.requested_by_name == "op" and run.status == Status.QUEUED
    polling = operator_client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert polling.status_code == 200 and b'hx-trigger="every 1s"' in polling.content

    migration_execute(
        run_id=run.pk
    )  # what the worker's chain does (tests/migrations_app/integration runs it for real)

    page = operator_client.get(run.get_absolute_url())
    body = page.content.decode()
    assert 'data-status="succeeded"' in body and 'data-verified="true"' in body
    assert body.count('data-step="cut-over"') == 30
    assert Twin.objects.filter(creator=creator).count() == 29
    final = operator_client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert final.status_code == 286  # htmx: swap this last fragment in and stop polling
    assert b"<html" not in final.content and b"hx-trigger" not in final.content
    index_refresh()
    discover = operator_client.get(
        reverse("migrations-discover-namespaces") + "?kind=legacy-uuid"
    ).content.decode()
    assert discover.count(f"creator_{CREATOR}_twin_") == 29


def test_cancel_resume_and_rollback_buttons(operator_client, run):
    detail = operator_client.get(run.get_absolute_url()).content.decode()
    assert reverse("migrations-cancel-run", args=[run.pk]) in detail

    response = operator_client.post(
        reverse("migrations-cancel-run", args=[run.pk]), {"reason": " "}, follow=True
    )
    run.refresh_from_db()
    assert run.status == Status.QUEUED and b"Give a reason" in response.content  # nothing changed

    operator_client.post(reverse("migrations-cancel-run", args=[run.pk]), {"reason": "wrong plan"})
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    cancel = AuditEntry.objects.get(action="migration.run.cancel", target_id=str(run.pk))
    assert (cancel.actor, cancel.details["reason"]) == ("op", "wrong plan")

    operator_client.post(reverse("migrations-resume-run", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == Status.QUEUED and run.attempt == 2
    migration_execute(run_id=run.pk)

    response = operator_client.post(reverse("migrations-rollback-run", args=[run.pk]), follow=True)
    run.refresh_from_db()
    assert run.status == Status.ROLLING_BACK
    assert b"Rollback queued" in response.content


def test_an_impossible_action_shows_why(operator_client, run):
    response = operator_client.post(reverse("migrations-rollback-run", args=[run.pk]), follow=True)
    assert b"only finished, failed or cancelled runs roll back" in response.content


def test_verification_report_names_differing_ids(operator_client, seeded, creator):
    import numpy as np

    from tests.migrations_app.helpers import run_phases
    from twinadmin.vectors import Vector

    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    run_phases(run, "backup", "copy")
    item = run.items.get()
    seeded.upsert(item.target_namespace, [Vector("tampered-id", np.ones(8, np.float32))])
    run_phases(run, "verify")

    body = operator_client.get(run.get_absolute_url()).content.decode()
    assert 'data-status="failed"' in body and "tampered-id" in body and "1 extra in the target" in body
    assert "checked by</th><td>listing the target" in body.replace("&#x27;", "'")


def test_verification_report_says_how_the_target_was_checked(operator_client, seeded, creator):
    from tests.migrations_app.helpers import run_phases

    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    assert run_phases(run, "backup", "copy", "verify")

    body = operator_client.get(run.get_absolute_url()).content.decode()
    assert "every backed-up id fetched, and its count exactly theirs" in body
    assert "not read again: the source is kept" in body  # not an empty checksum cell


def test_a_run_whose_worker_died_says_it_is_being_continued(operator_client, run):
    page = operator_client.get(run.get_absolute_url()).content.decode()
    assert "worker lost" not in page
    NamespaceMigration.objects.filter(pk=run.pk).update(status=Status.RUNNING)
    Job.objects.filter(pk=run.job_id).update(status=Job.Status.RUNNING)
    JobLease.objects.filter(job_id=run.job_id).update(
        owner="worker@other-host:1:1", expires_at=timezone.now() - timezone.timedelta(seconds=60)
    )
    page = operator_client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="worker-lost"' in page and "worker lost — continuing" in page


def test_the_last_poll_renders_the_actions_of_the_finished_run(operator_client, run):
    poll = operator_client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and 'id="cancel-run"' in poll.content.decode()  # queued

    migration_execute(run_id=run.pk)
    last = operator_client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true")

    body = last.content.decode()
    assert last.status_code == 286  # htmx swaps this fragment in and stops polling
    assert 'id="cancel-run"' not in body and "Roll back" in body and ">Resume<" not in body


def test_a_queued_rollback_offers_neither_resume_nor_cancel(operator_client, run):
    migration_execute(run_id=run.pk)
    operator_client.post(reverse("migrations-rollback-run", args=[run.pk]))

    body = operator_client.get(run.get_absolute_url()).content.decode()

    assert 'data-status="rolling-back"' in body
    assert ">Resume<" not in body and 'id="cancel-run"' not in body and "Roll back</button>" not in body


def test_counts_of_one_read_as_one(operator_client, seeded, creator):
    source = legacy_sources(seeded)[0]
    index_refresh()  # the form offers the sources the snapshot knows
    form = _form(namespaces=[source], action="preview")

    html = operator_client.post(reverse("migrations-create-run"), form).content.decode()

    assert re.search(r"Preview: 1 namespace, \d+ vectors?, 1 twin<", html), html
    run = migration_execute(
        run_id=migration_create(actor="cli:test", creator_id=CREATOR, namespaces=[source]).pk
    )
    polls = run.items.get().verification["counts"]["polls"]
    page = operator_client.get(run.get_absolute_url()).content.decode()
    assert f"{polls} poll{'s' if polls != 1 else ''} in" in page and "1 polls" not in page


def test_one_overall_bar_while_running_and_a_summary_line_when_done(operator_client, seeded, creator):
    from tests.migrations_app.helpers import run_phases

    sources = legacy_sources(seeded)[:3]
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=sources)
    vectors = sum(seeded.describe_namespace(s).vector_count for s in sources)
    two_seconds_ago = timezone.now() - timezone.timedelta(seconds=2)
    NamespaceMigration.objects.filter(pk=run.pk).update(started_at=two_seconds_ago)
    run_phases(run, "backup")  # paused after the pass that backs up and copies: verify next

    body = operator_client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    counts = re.search(r'<span id="run-counts">([^<]*)</span>', body)
    assert counts and counts.group(1) == f"66% · 3/3 namespaces copied · {vectors}/{vectors} vectors"
    rate = re.search(r'<span class="muted" id="run-rate">· (\d+) vectors/s · about (\d+) s left</span>', body)
    assert rate and int(rate.group(1)) > 0 and int(rate.group(2)) > 0, body
    assert body.count("<progress") == 1  # one bar: no per-namespace bar for finished steps
    assert 'id="run-summary"' not in body

    migration_execute(run_id=run.pk)
    body = operator_client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    summary = re.search(r'<p id="run-summary"><strong>([^<]*)</strong>', body)
    assert summary and summary.group(1) == f"3/3 namespaces verified, {vectors}/{vectors} vectors"
    assert "<progress" not in body and "verifying" not in body.lower().replace('data-step="', "")


def test_a_run_s_story_in_the_audit_log_reads_as_what_happened(operator_client, run):
    from tests.migrations_app.helpers import run_phases

    assert run_phases(run, "backup", "copy", "verify")
    migration_execute(run_id=run.pk)  # the cut-over and the end
    page = operator_client.get(run.get_absolute_url()).content.decode()
    story_url = reverse("audit-show-story", args=[str(run.correlation_id)])
    assert f'id="audit-story" href="{story_url}"' in page

    body = operator_client.get(story_url).content.decode()

    summaries = [s.strip() for s in re.findall(r'class="summary">([^<]+)<', body)]
    assert summaries[0].startswith(f"Migration run {run.pk} planned")
    for line in (
        "2 × Backup written — all succeeded",
        "2 × Copy verified — all succeeded",
        f"Run {run.pk} cut over",
        f"Migration run {run.pk} finished",
    ):
        assert any(s.startswith(line) for s in summaries), (line, summaries)
    assert "no outcome recorded yet" not in body  # the cut-over's intent is closed by its outcome
