"""Exports hold exactly the filtered entries, oldest first, with hashes an outsider can check."""

import csv
import hashlib
import io
import json

import pytest
from django.urls import reverse

from twinadmin.audit.chain import canonical_json
from twinadmin.audit.exports import EXPORT_FIELDS
from twinadmin.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

EXPORT = reverse("audit-export-entries")


def download(client, **params):
    response = client.get(EXPORT, params)
    assert response.status_code == 200 and response.streaming
    assert "attachment" in response["Content-Disposition"]
    return b"".join(response.streaming_content).decode()


def db_rows(seqs):
    return {e.seq: e for e in AuditEntry.objects.filter(seq__in=seqs)}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["delete_start", "delete_done", "erase_start", "refresh", "approve", "erase_failed"]),
        ({"creator": "a.10"}, ["erase_start", "approve", "erase_failed"]),
        ({"action": "twin.delete.*", "outcome": "success"}, ["delete_done"]),
        ({"date_from": "2026-03-02"}, ["erase_failed"]),
        ({"actor": "nobody-at-all"}, []),
    ],
)
def test_csv_and_jsonl_hold_exactly_the_filtered_entries(auditor_client, log, params, expected):
    seqs = [log[name] for name in expected]
    entries = db_rows(seqs)

    rows = list(csv.DictReader(io.StringIO(download(auditor_client, format="csv", **params))))
    assert [int(r["seq"]) for r in rows] == seqs
    assert list(rows[0].keys()) == list(EXPORT_FIELDS) if rows else True
    for r in rows:
        entry = entries[int(r["seq"])]
        assert (r["entry_hash"], r["prev_hash"], r["actor"]) == (
            entry.entry_hash,
            entry.prev_hash,
            entry.actor,
        )
        assert json.loads(r["details"]) == entry.details

    lines = download(auditor_client, format="jsonl", **params).splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == seqs
    for r in records:
        assert (r["entry_hash"], r["prev_hash"]) == (
            entries[r["seq"]].entry_hash,
            entries[r["seq"]].prev_hash,
        )


def test_a_jsonl_export_can_be_reverified_with_sha256_alone(auditor_client, log):
    records = [json.loads(line) for line in download(auditor_client, format="jsonl").splitlines()]
    prev = "0" * 64
    for record in records:
        digest = record.pop("entry_hash")
        assert hashlib.sha256(canonical_json(record).encode()).hexdigest() == digest
        assert record["prev_hash"] == prev
        prev = digest


def test_export_streams_large_sets_in_pieces(auditor_client, many_entries):
    many_entries(1200)
    response = auditor_client.get(EXPORT, {"format": "jsonl"})
    chunks = list(response.streaming_content)
    assert len(chunks) > 2
    assert sum(chunk.count(b"\n") for chunk in chunks) == 1200


@pytest.mark.parametrize("params", [{"format": "xml"}, {}, {"format": "csv", "date_from": "soon"}])
def test_a_bad_export_request_is_refused(auditor_client, log, params):
    assert auditor_client.get(EXPORT, params).status_code == 400
