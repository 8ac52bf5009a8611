"""An export opened in a spreadsheet runs nothing: a CSV cell that a spreadsheet would read as a
formula (OWASP's CSV injection rule: it begins with =, +, -, @, a tab or a carriage return) is
written with a leading apostrophe. JSON Lines stays exact: each record is the stored value, and
the chain verifies offline from it."""

import csv
import io
import json

import pytest
from django.urls import reverse

from twinadmin.audit.keys import key_generate
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.services import audit_record
from twinadmin.audit.verify import offline_verify

pytestmark = pytest.mark.django_db

EXPORT = reverse("audit-export-entries")
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A9)", "\tx", "\r=1"]
PLAIN = ["op", "a.1", "t-1", "x=1", " =1"]  # a formula only at the very start counts
STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile_log(db) -> list[str]:
    for value in FORMULAS + PLAIN:
        audit_record(
            actor=value,
            action="twin.delete.start",
            target_type="twin",
            target_id=value,
            creator_id=value,
            outcome="intent",
            details={"note": value},
        )
    return FORMULAS + PLAIN


def _export(client, fmt: str) -> str:
    response = client.get(EXPORT, {"format": fmt})
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_csv_cells_that_would_run_as_formulas_start_with_an_apostrophe(auditor_client, hostile_log):
    rows = list(csv.DictReader(io.StringIO(_export(auditor_client, "csv"), newline="")))
    assert [row["target_id"] for row in rows] == ["'" + v for v in FORMULAS] + PLAIN
    stored = {e.seq: e for e in AuditEntry.objects.all()}
    for row in rows:
        entry = stored[int(row["seq"])]
        for field in ("actor", "target_id", "creator_id"):  # the actor is stored stripped
            value = getattr(entry, field)
            assert row[field] == ("'" + value if value.startswith(STARTS) else value)
        assert json.loads(row["details"]) == entry.details  # a JSON object starts with {
        assert not any(cell.startswith(STARTS) for cell in row.values()), row


def test_jsonl_keeps_every_value_exactly_and_the_chain_verifies_from_it(
    auditor_client, hostile_log, tmp_path
):
    text = _export(auditor_client, "jsonl")
    records = [json.loads(line) for line in text.splitlines()]
    stored = {e.seq: e for e in AuditEntry.objects.all()}
    for record in records:
        entry = stored[record["seq"]]
        assert (record["actor"], record["target_id"], record["details"]) == (
            entry.actor,
            entry.target_id,
            entry.details,
        )
    assert [r["target_id"] for r in records] == hostile_log

    path = tmp_path / "export.jsonl"
    path.write_text(text)
    public_key, _ = key_generate()
    report = offline_verify(path, [], public_key)
    assert report.first_broken is None and report.entries == len(hostile_log)
