"""Streamed exports of a filtered set of entries, hashes included, oldest first.

Each JSON Lines record, without its `entry_hash` key, is exactly the canonical payload that was
hashed (see twinadmin.audit.chain), so an auditor can re-verify an export with sha256 alone:

    sha256(canonical_json({k: v for k, v in record.items() if k != "entry_hash"}))
        == record["entry_hash"]

CSV carries the same fields, with `details` as its canonical JSON text, for people to read in a
spreadsheet: a text cell that a spreadsheet would run as a formula (one beginning with `=`, `+`,
`-`, `@`, a tab or a carriage return: OWASP's CSV injection rule) gets a leading `'`. So CSV is
not for re-verifying hashes; JSON Lines is, and stays exact.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from twinadmin.audit.chain import CONTENT_FIELDS, canonical_json, format_at
from twinadmin.audit.models import AuditEntry

EXPORT_FIELDS = (*CONTENT_FIELDS, "prev_hash", "entry_hash")
CHUNK_SIZE = 2000
# Rows per chunk handed to the response: one yield per row would spend more time in the
# WSGI machinery than in formatting.
ROWS_PER_WRITE = 500


def export_record(row: tuple[Any, ...]) -> dict[str, Any]:
    """One entry (values in EXPORT_FIELDS order) as exported: the hashed payload + entry_hash."""
    record = dict(zip(EXPORT_FIELDS, row, strict=True))
    record["at"] = format_at(record["at"])
    record["correlation_id"] = str(record["correlation_id"])
    return record


def _records(qs: QuerySet[AuditEntry]) -> Iterator[dict[str, Any]]:
    rows = qs.order_by("seq").values_list(*EXPORT_FIELDS).iterator(chunk_size=CHUNK_SIZE)
    for row in rows:
        yield export_record(row)


# What a spreadsheet (Excel, LibreOffice, Google Sheets) reads as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell that a spreadsheet shows as text instead of evaluating: an actor
    named `=HYPERLINK(...)` or a target id `@SUM(...)` must not run in an auditor's spreadsheet."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_csv(qs: QuerySet[AuditEntry]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_FIELDS)
    for n, record in enumerate(_records(qs), start=1):
        record["details"] = canonical_json(record["details"])
        writer.writerow([csv_cell(value) for value in record.values()])
        if n % ROWS_PER_WRITE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_jsonl(qs: QuerySet[AuditEntry]) -> Iterator[str]:
    lines: list[str] = []
    for record in _records(qs):
        lines.append(canonical_json(record))
        if len(lines) == ROWS_PER_WRITE:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"


EXPORTERS = {
    "csv": (export_csv, "text/csv; charset=utf-8"),
    "jsonl": (export_jsonl, "application/x-ndjson"),
}
