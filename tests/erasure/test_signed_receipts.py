"""A signed receipt verifies with only its JSON and the public key, and any change to it — a
count, a status, a timestamp, an entry or a proof — makes receipt_verify fail."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.support.erasure import run_job
from twinadmin.audit.keys import public_key_path
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def erased(creator_a1, index, operator, approver):
    call_command("audit_keygen", stdout=io.StringIO(), stderr=io.StringIO())
    erasure = erasure_request_file(
        creator_id="a.1", reason="DSAR", ticket_reference="DSAR-7", confirm="a.1", actor=operator
    )
    erasure_request_approve(erasure=erasure, actor=approver, confirm="a.1", enqueue=False)
    erasure.refresh_from_db()
    assert run_job(erasure.job_id).status == Job.Status.SUCCEEDED
    erasure.refresh_from_db()
    return erasure


def signed(erasure) -> dict[str, Any]:
    out = io.StringIO()
    call_command("erasure_receipt", str(erasure.pk), "--json", stdout=out)
    return json.loads(out.getvalue())


def verify(document: dict[str, Any], tmp_path: Path, key: Path | None = None) -> str:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(document))
    out = io.StringIO()
    call_command("receipt_verify", str(path), "--public-key", str(key or public_key_path()), stdout=out)
    return out.getvalue()


def test_a_signed_receipt_verifies_with_only_its_json_and_the_public_key(erased, tmp_path, settings):
    document = signed(erased)
    key = tmp_path / "published.pem"
    key.write_bytes(public_key_path().read_bytes())
    # Nothing but the file and the key: the signing key and checkpoints are out of reach.
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "nowhere" / "key.pem"
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "nowhere"
    out = verify(document, tmp_path, key)
    assert f"receipt valid: request #{erased.pk} (a.1, completed)" in out
    body, entries = document["body"], document["audit_proof"]["entries"]
    assert body["status"] == "completed" and body["request_id"] == erased.pk
    actions = [e["entry"]["action"] for e in entries]
    assert any("approve" in a for a in actions) and "creator.erase.finish" in actions
    assert erased.audit_seq in [e["entry"]["seq"] for e in entries]


def _edits() -> dict[str, Callable[[dict[str, Any]], None]]:
    def first_namespace(d):
        return d["body"]["namespaces"][0]

    return {
        "count": lambda d: first_namespace(d).update(count_before=first_namespace(d)["count_before"] + 1),
        "total": lambda d: d["body"]["totals"].update(vectors_before=0),
        "status": lambda d: d["body"].update(status="failed"),
        "namespace status": lambda d: first_namespace(d).update(status="not_found"),
        "timestamp": lambda d: d["body"]["timestamps"].update(completed="2020-01-01T00:00:00+00:00"),
        "approver": lambda d: d["body"]["people"].update(approver="mallory"),
        "entry detail": lambda d: d["audit_proof"]["entries"][-1]["entry"].update(actor="mallory"),
        "proof": lambda d: d["audit_proof"]["entries"][0]["inclusion_proof"].append("00" * 32),
        "checkpoint size": lambda d: d["audit_proof"]["checkpoint"]["checkpoint"].update(tree_size=1),
        "dropped entry": lambda d: d["audit_proof"]["entries"].pop(),
        "signature": lambda d: d.update(signature=d["signature"][:-4] + "AAA="),
    }


@pytest.mark.parametrize("edit", list(_edits()))
def test_any_change_to_a_signed_receipt_fails(erased, tmp_path, edit):
    document = signed(erased)
    changed = copy.deepcopy(document)
    _edits()[edit](changed)
    assert changed != document
    with pytest.raises(CommandError, match="receipt NOT valid"):
        verify(changed, tmp_path)


def test_a_changed_proof_fails_on_its_own_merits_not_only_the_signature(erased, tmp_path):
    changed = signed(erased)
    changed["audit_proof"]["entries"][0]["inclusion_proof"][0] = "ab" * 32
    with pytest.raises(CommandError) as raised:
        verify(changed, tmp_path)
    assert "signature does not match" in str(raised.value)
    assert "inclusion proof fails" in str(raised.value)


def test_a_receipt_signed_by_another_key_fails(erased, tmp_path, settings):
    document = signed(erased)
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "other" / "key.pem"
    call_command("audit_keygen", stdout=io.StringIO(), stderr=io.StringIO())
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(document))
    other = tmp_path / "other" / "key.pem.pub"
    with pytest.raises(CommandError, match="signature does not match"):
        call_command("receipt_verify", str(path), "--public-key", str(other), stdout=io.StringIO())


@pytest.mark.parametrize(
    "content", [b"", b"not json", b"[1, 2]", b'{"body": NaN}', b"\xff\xfe", b'{"a": 1}', b"{" * 100_000]
)
def test_garbage_is_a_clear_error(db, tmp_path, content):
    call_command("audit_keygen", stdout=io.StringIO(), stderr=io.StringIO())
    path = tmp_path / "garbage.json"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="not a JSON document|not a signed receipt"):
        call_command("receipt_verify", str(path), stdout=io.StringIO())


# --- the pages: the public key for every role, and a receipt upload ---


@pytest.mark.parametrize("role", ["operator", "approver", "auditor"])
def test_every_role_reads_the_public_key(erased, client, request, role):
    client.force_login(request.getfixturevalue(role))
    page = client.get(reverse("audit-show-public-key"))
    assert page.status_code == 200
    assert public_key_path().read_text().strip() in page.content.decode().replace("&#x27;", "'")
    download = client.get(reverse("audit-show-public-key"), {"format": "pem"})
    assert download.status_code == 200 and download.content.decode() == public_key_path().read_text()


def test_the_public_key_page_says_when_there_is_no_key(db, auditor, client):
    client.force_login(auditor)
    page = client.get(reverse("audit-show-public-key"))
    assert page.status_code == 503 and b"audit_keygen" in page.content


def test_the_key_pages_need_a_role(db, nobody, client):
    client.force_login(nobody)
    assert client.get(reverse("audit-show-public-key")).status_code == 403
    assert client.get(reverse("audit-verify-receipt")).status_code == 403


def _upload(client, content: bytes):
    return client.post(reverse("audit-verify-receipt"), {"receipt": SimpleUploadedFile("r.json", content)})


def test_an_auditor_uploads_a_receipt_and_sees_it_hold(erased, auditor, client):
    client.force_login(auditor)
    assert client.get(reverse("audit-verify-receipt")).status_code == 200
    page = _upload(client, json.dumps(signed(erased)).encode())
    assert page.status_code == 200
    assert b'data-ok="true"' in page.content and f"request #{erased.pk}".encode() in page.content


def test_an_uploaded_receipt_with_a_changed_count_is_not_valid(erased, auditor, client):
    client.force_login(auditor)
    document = signed(erased)
    document["body"]["totals"]["vectors_before"] += 1
    page = _upload(client, json.dumps(document).encode())
    assert page.status_code == 200
    assert b'data-ok="false"' in page.content and b"signature does not match" in page.content


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x00\xff" * 10, b"[]", b'{"body": 1}'])
def test_a_garbage_upload_is_a_clear_400(erased, auditor, client, content):
    client.force_login(auditor)
    page = _upload(client, content)
    assert page.status_code == 400
    assert (
        b"not a JSON document" in page.content
        or b"not a signed receipt" in page.content
        or b"empty" in page.content
    )


def test_an_upload_without_a_file_is_a_400(erased, auditor, client):
    client.force_login(auditor)
    assert client.post(reverse("audit-verify-receipt"), {}).status_code == 400
