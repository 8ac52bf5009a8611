"""The story page (/audit/story/<correlation id>/): one correlation id's entries as steps an
auditor can read, each intent folded with its outcome and coloured by it; malformed ids are a
400 with a message, never a 500."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.urls import reverse

from tests.erasure.conftest import creator_a1, index  # noqa: F401 (the erasure layout's fixtures)
from tests.support.audit import JOB_A
from tests.support.erasure import erase_a1_with_backups, run_job
from twinadmin.audit import selectors
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.services import audit_record
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file

pytestmark = pytest.mark.django_db


def story_url(correlation: object) -> str:
    return reverse("audit-show-story", args=[str(correlation)])


def steps_of(body: str) -> list[tuple[str, str]]:
    """(state, summary) of each step, in page order."""
    found = re.findall(r'data-state="(\w+)".*?<span class="summary">(.*?)</span>', body, re.S)
    return [(state, html.unescape(summary)) for state, summary in found]


def member_steps(body: str) -> list[str]:
    """The state of each step, groups left out (a group's <li> also has the class `group`)."""
    return re.findall(r'<li class="(\w+)" data-state="\w+" data-seq=', body)


def groups_of(body: str) -> list[tuple[str, str, str]]:
    """(state, count, summary) of each group of steps, in page order."""
    found = re.findall(
        r'<li class="group (\w+)" data-state="\w+" data-seq="\d+" data-count="(\d+)".*?'
        r'<span class="summary">(.*?)</span>',
        body,
        re.S,
    )
    return [(state, count, html.unescape(summary)) for state, count, summary in found]


def record(action: str, outcome: str, *, details: dict | None = None, target_id: str = "t1") -> AuditEntry:
    return audit_record(
        actor="op",
        action=action,
        target_type="twin",
        target_id=target_id,
        creator_id="a.1",
        outcome=outcome,
        correlation_id=JOB_A,
        details=details,
    )


def test_an_erasure_reads_from_request_to_verified_deletion_with_a_link_to_its_receipt(
    auditor_client,
    creator_a1,  # noqa: F811
    index,  # noqa: F811
    operator,
    approver,
):
    erasure = erasure_request_file(
        creator_id="a.1", actor=operator, reason="DSAR", ticket_reference="DSAR-7", confirm="a.1"
    )
    erasure_request_approve(erasure=erasure, actor=approver, confirm="a.1", enqueue=False)
    erasure.refresh_from_db()
    run_job(erasure.job_id)

    response = auditor_client.get(story_url(erasure.correlation_id))
    body = response.content.decode()
    assert response.status_code == 200
    assert steps_of(body) == [
        ("info", "Erasure of creator a.1 requested (ticket DSAR-7, reason: DSAR)"),
        ("info", "Erasure of creator a.1 approved (ticket DSAR-7)"),
        ("succeeded", "Migrations of creator a.1 cancelled before the erasure"),
        (
            "succeeded",
            "Creator a.1 erased: namespaces deleted and verified "
            "(14 vectors before, namespaces: 4, orphans: 1, verification passes: 1, verified)",
        ),
        (
            "succeeded",
            "Backup key of creator a.1 destroyed: no copy of its backups can be read again "
            f"(reason: erasure request #{erasure.pk})",
        ),
    ]
    # The start and the finish are one step, each linked; who acted and when is on every step.
    start, finish = AuditEntry.objects.filter(
        correlation_id=erasure.correlation_id, action__startswith="creator.erase."
    ).order_by("-seq")[:2][::-1]
    assert f"#{start.seq} creator.erase.start" in body and f"#{finish.seq} creator.erase.finish" in body
    assert "op ·" in body and "appr ·" in body and body.count("<time ") >= 5
    assert reverse("erasure-request-receipt", args=[erasure.pk]) in body


def test_a_failure_is_red_and_an_intent_without_outcome_is_amber(auditor_client):
    record("twin.delete.start", "intent", target_id="t1")
    record("twin.delete.finish", "failure", target_id="t1", details={"error": "index unreachable"})
    record("twin.delete.start", "intent", target_id="t2")
    body = auditor_client.get(story_url(JOB_A)).content.decode()
    assert steps_of(body) == [
        ("failed", "2 × Twin deleted — 1 failed, 1 pending"),  # two deletions in a row: one group
        ("failed", "Deletion of twin t1 — failed (error: index unreachable)"),
        ("pending", "Deletion of twin t2 — started, no outcome recorded yet"),
    ]
    assert '<span class="badge failed">failed</span>' in body
    assert '<span class="badge pending">pending</span>' in body


def test_long_details_are_folded_pretty_printed_and_escaped(auditor_client):
    hostile = "<script>alert(1)</script>"
    record("twin.delete.request", "info", details={"z": 1, "a": hostile, **{f"k{i}": i for i in range(20)}})
    record("twin.create", "info", details={"b": 2, "a": 1})
    body = auditor_client.get(story_url(JOB_A)).content.decode()
    assert hostile not in body and html.escape(hostile) in body
    assert body.count('<details class="json">') == 1 and body.count('<pre class="mono json">') == 2
    assert '{\n  "a": 1,\n  "b": 2\n}' in html.unescape(body)  # indent 2, keys sorted


@pytest.mark.parametrize(
    "bad",
    ["nope", "1" * 5000, "11111111-1111-4111-8111-11111111111z", "%3Cscript%3E", "' OR 1=1 --"],
)
def test_a_malformed_correlation_id_is_a_400_with_a_message(auditor_client, bad):
    response = auditor_client.get(f"/audit/story/{bad}/")
    assert response.status_code == 400
    assert (
        'id="story-error"' in response.content.decode()
        and "is not a correlation id" in response.content.decode()
    )


def test_an_unknown_correlation_id_says_nothing_carries_it(auditor_client):
    response = auditor_client.get(story_url(uuid.uuid4()))
    assert response.status_code == 404 and 'id="story-empty"' in response.content.decode()


def test_a_story_longer_than_a_page_says_it_is_cut(auditor_client, monkeypatch):
    monkeypatch.setattr(selectors, "STORY_LIMIT", 3)
    for i in range(5):
        record("twin.create", "info", target_id=f"t{i}")
    body = auditor_client.get(story_url(JOB_A)).content.decode()
    assert len(member_steps(body)) == 3 and "the first 3 are here" in body  # in one group of 3


def test_the_story_is_for_audit_readers_only_and_read_only(client, nobody, auditor):
    record("twin.create", "info")
    url = story_url(JOB_A)
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(nobody)
    assert client.get(url).status_code == 403
    client.force_login(auditor)
    assert client.post(url).status_code == 405


@pytest.mark.parametrize("role", ["auditor", "operator", "approver"])
def test_every_audit_role_may_read_a_story(client, role, request):
    record("twin.create", "info")
    client.force_login(request.getfixturevalue(role))
    assert client.get(story_url(JOB_A)).status_code == 200


# --- runs of one action read as one group ---------------------------------------------------------


def test_an_erasure_of_a_creator_with_several_twins_reads_as_grouped_steps_with_counts(
    auditor_client,
    creator_a1,  # noqa: F811
    index,  # noqa: F811
    operator,
    approver,
    tmp_path,
):
    erasure = erase_a1_with_backups(tmp_path, operator, approver)
    body = auditor_client.get(story_url(erasure.correlation_id)).content.decode()

    # Six backup deletions in a row are one closed group; the steps around it stay as they were.
    assert groups_of(body) == [("succeeded", "6", "6 × Backup deleted — all succeeded")]
    assert '<details class="step-group">' in body and '<details class="step-group" open>' not in body
    shown = steps_of(body)
    assert [summary.split(" (")[0] for _, summary in shown[:5]] == [
        "Erasure of creator a.1 requested",
        "Erasure of creator a.1 approved",
        "Cancel of migration run 1 requested",
        "Migrations of creator a.1 cancelled before the erasure",
        "Creator a.1 erased: namespaces deleted and verified",
    ]
    # The creator's backup key goes first (issue 17: every copy unreadable before any object
    # is deleted), a step of its own; then the group and its six members.
    assert shown[5][0] == "succeeded" and shown[5][1].startswith("Backup key of creator a.1 destroyed")
    members = shown[7:]
    assert len(members) == 6 and all(s == "succeeded" and "Backup" in t for s, t in members)
    assert re.search(r'id="story-count">7 steps \(12 in all\) from 20 entries', body)


def test_a_group_with_one_failed_member_is_red_and_open(
    auditor_client,
    creator_a1,  # noqa: F811
    index,  # noqa: F811
    operator,
    approver,
    tmp_path,
):
    erasure = erase_a1_with_backups(tmp_path, operator, approver, stuck=2)
    body = auditor_client.get(story_url(erasure.correlation_id)).content.decode()
    assert groups_of(body) == [("failed", "6", "6 × Backup deleted — 5 succeeded, 1 failed")]
    start = body.index('<li class="group failed"')
    group = body[start : body.index("</ol>", start)]  # the group's members end its own list
    assert (
        '<details class="step-group" open>' in group and '<span class="badge failed">failed</span>' in group
    )
    assert member_steps(group).count("failed") == 1 and member_steps(group).count("succeeded") == 5


def test_a_single_step_is_not_grouped(auditor_client):
    record("twin.delete.start", "intent", target_id="t1")
    record("twin.delete.finish", "success", target_id="t1")
    record("twin.delete.start", "intent", target_id="t2")
    record("twin.delete.finish", "success", target_id="t2")
    lone = record("twin.create", "info", target_id="t3")
    body = auditor_client.get(story_url(JOB_A)).content.decode()
    assert groups_of(body) == [("succeeded", "2", "2 × Twin deleted — all succeeded")]
    after_group = body[body.index("</ol>", body.index('<li class="group ')) :]
    assert f'<li class="info" data-state="info" data-seq="{lone.seq}">' in after_group
    assert body.count('class="group ') == 1
    assert re.search(r'id="story-count">2 steps \(3 in all\) from 5 entries', body)
