"""Approvers hear of an erasure request when it is filed and when it fails verification: one
email to the approvers group's members (those with an address), after commit, with the request's
creator id, reason, requester and an absolute link, and nothing of the creator's data. Mail is
best effort: a mail server that refuses leaves the filing as it would be without mail."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import transaction

from tests.support.erasure import run_job
from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS
from twinadmin.erasure import notify
from twinadmin.erasure.models import ErasureRequest
from twinadmin.erasure.services import erasure_from_shell, erasure_request_approve, erasure_request_file

BASE = "https://twinadmin.example.org"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs, at the end of the block, the mail the block left for after
    commit, as a commit would. Other after-commit work (a job's Celery message, the audit
    checkpoint task) would reach a broker these tests do not have, so it is left out."""

    @contextmanager
    def block() -> Iterator[None]:
        with django_capture_on_commit_callbacks() as callbacks:
            yield
        for callback in callbacks:
            if getattr(callback, "__module__", None) == notify.__name__:
                callback()

    return block


@pytest.fixture
def people(make_user, settings):
    settings.TWINADMIN_BASE_URL = BASE
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    made = {
        "operator": make_user("op", OPERATORS),
        "approver": make_user("appr", APPROVERS),
        "approver2": make_user("appr2", APPROVERS),
        "no_address": make_user("appr3", APPROVERS),
        "auditor": make_user("aud", AUDITORS),
        "both": make_user("opappr", OPERATORS, APPROVERS),
    }
    for name, user in made.items():
        if name != "no_address":
            user.email = f"{user.username}@example.org"
            user.save(update_fields=["email"])
    return made


def _file(actor, **kw):
    return erasure_request_file(
        creator_id="a.1",
        reason=kw.pop("reason", "GDPR art. 17 request from the creator"),
        ticket_reference="T-1234",
        confirm="a.1",
        actor=actor,
        **kw,
    )


def test_filing_emails_every_approver_with_an_address(creator_a1, people, mailoutbox, committed):
    with committed():
        erasure = _file(people["operator"])

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert sorted(mail.to) == ["appr2@example.org", "appr@example.org", "opappr@example.org"]
    assert mail.subject == f"Erasure request #{erasure.pk} of a.1 awaits approval"
    assert "Creator id:   a.1" in mail.body
    assert "Reason:       GDPR art. 17 request from the creator" in mail.body
    assert "Ticket:       T-1234" in mail.body
    assert "Requested by: op" in mail.body
    assert f"{BASE}/erasure/requests/{erasure.pk}/" in mail.body
    assert erasure.get_absolute_url() == f"/erasure/requests/{erasure.pk}/"


def test_the_filer_is_not_asked_to_approve_their_own_request(creator_a1, people, mailoutbox, committed):
    with committed():
        _file(people["both"])

    assert sorted(mailoutbox[0].to) == ["appr2@example.org", "appr@example.org"]


def test_the_email_holds_nothing_of_the_creators_data(creator_a1, index, people, mailoutbox, committed):
    with committed():
        _file(people["operator"])

    body = mailoutbox[0].body
    # Namespace names, vector ids and the other creators' ids stay on the pages behind sign-in.
    for leak in ("creator_a.1", "_twin_", "a.10", "b.2", "vector"):
        assert leak not in body


def test_nothing_is_sent_when_the_filing_rolls_back(creator_a1, people, mailoutbox, committed):
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        _file(people["operator"], reason="rolled back")
        raise RuntimeError("the caller's transaction fails after filing")
    assert not ErasureRequest.objects.exists()
    with committed():
        _file(people["operator"], reason="committed")

    assert [m.body.count("Reason:       committed") for m in mailoutbox] == [1]


def test_filing_succeeds_when_the_mail_server_refuses(
    creator_a1, people, mailoutbox, committed, monkeypatch, caplog, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

    def refuse(self):
        raise smtplib.SMTPConnectError(421, b"mail.example.org: service not available")

    # The process boundary: the SMTP connection the backend opens.
    monkeypatch.setattr("django.core.mail.backends.smtp.EmailBackend.open", refuse)
    with committed():
        erasure = _file(people["operator"])

    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.PENDING
    assert mailoutbox == []
    assert "could not email the approvers" in caplog.text


def test_a_request_filed_and_approved_by_the_shell_asks_no_approver(
    creator_a1, index, people, mailoutbox, committed
):
    with committed():
        by_shell = erasure_from_shell(creator_id="a.1", reason="drill")
        by_operator = erasure_request_file(
            creator_id="a.10", reason="ticket", confirm="a.10", actor=people["operator"]
        )

    assert by_shell.status == ErasureRequest.Status.APPROVED
    assert [m.subject for m in mailoutbox] == [f"Erasure request #{by_operator.pk} of a.10 awaits approval"]


def test_a_failed_verification_emails_the_approvers(
    index_server, creator_a1, index, people, mailoutbox, settings, committed
):
    with committed():
        erasure = _file(people["operator"])
    erasure_request_approve(
        erasure=erasure, actor=people["approver"], confirm=erasure.creator_id, enqueue=False
    )
    erasure.refresh_from_db()
    mailoutbox.clear()
    index_server.set_faults(
        outage_namespaces={"creator_a.1_twin_t2"}, outage_operations={"delete"}, retry_after=0
    )
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 0.3
    with committed():
        run_job(erasure.job_id)

    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.FAILED
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert sorted(mail.to) == ["appr2@example.org", "appr@example.org", "opappr@example.org"]
    assert mail.subject == f"Erasure request #{erasure.pk} of a.1 failed verification"
    assert "creator_a.1_twin_t2" in mail.body  # what is left, as the request page shows it
    assert "Requested by: op" in mail.body
    assert f"{BASE}/erasure/requests/{erasure.pk}/" in mail.body


def test_a_verified_erasure_sends_no_failure_mail(creator_a1, index, people, mailoutbox, committed):
    with committed():
        erasure = _file(people["operator"])
        erasure_request_approve(
            erasure=erasure, actor=people["approver"], confirm=erasure.creator_id, enqueue=False
        )
    erasure.refresh_from_db()
    with committed():
        run_job(erasure.job_id)

    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.COMPLETED
    assert [m.subject for m in mailoutbox] == [f"Erasure request #{erasure.pk} of a.1 awaits approval"]
