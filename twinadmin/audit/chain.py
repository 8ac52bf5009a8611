"""The hash chain's canonical form, in one place: the writer, the verifier, the exports and the
bench all hash through `entry_hash`, so they can never disagree about what was signed.

    entry_hash = sha256(canonical JSON of the content fields and prev_hash)

Canonical JSON: sorted keys, no whitespace, ASCII only (`ensure_ascii`), no NaN/Infinity.
`at` is written as ISO 8601 UTC with exactly six fractional digits and a `Z`, whatever the
microseconds are (`datetime.isoformat()` drops them when they are zero), and `correlation_id` as
the hyphenated lowercase UUID. An outsider can re-verify an exported JSON Lines file with only
this recipe.

The same bytes are the entries of the Merkle tree (RFC 9162): leaf_hash = sha256(0x00 || bytes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import uuid
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

GENESIS_HASH = "0" * 64

# The fields covered by the hash, besides prev_hash. `seq` is included, so moving an entry to
# another position (swapping seq values) changes its hash.
CONTENT_FIELDS = (
    "seq",
    "at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "creator_id",
    "correlation_id",
    "outcome",
    "details",
)
HASHED_FIELDS = (*CONTENT_FIELDS, "prev_hash")


def format_at(value: dt.datetime) -> str:
    """ISO 8601 UTC with microseconds, e.g. 2026-01-31T09:15:00.000000Z."""
    if value.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def hash_payload(
    *,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    creator_id: str,
    correlation_id: uuid.UUID | str,
    outcome: str,
    details: Any,
    prev_hash: str,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": format_at(at),
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "creator_id": creator_id,
        "correlation_id": str(
            correlation_id if isinstance(correlation_id, uuid.UUID) else uuid.UUID(correlation_id)
        ),
        "outcome": outcome,
        "details": details,
        "prev_hash": prev_hash,
    }


def entry_bytes(**fields: Any) -> bytes:
    """The canonical JSON of the hashed fields, as bytes: what the chain hashes, and the entry
    a Merkle leaf stands for (twinadmin.audit.merkle)."""
    return canonical_json(hash_payload(**fields)).encode("ascii")


def entry_hash(**fields: Any) -> str:
    """SHA-256 hex of the canonical JSON of the hashed fields (see the module docstring)."""
    return hashlib.sha256(entry_bytes(**fields)).hexdigest()


def entry_digests(**fields: Any) -> tuple[str, str]:
    """(entry_hash, leaf_hash) in hex, from one canonical encoding: the chain link and the
    RFC 9162 leaf hash, SHA-256(0x00 || entry bytes)."""
    data = entry_bytes(**fields)
    return hashlib.sha256(data).hexdigest(), hashlib.sha256(b"\x00" + data).hexdigest()


def normalize_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """The details exactly as the database will give them back, so the hash computed before the
    insert re-computes after a round trip on SQLite (JSON text) and PostgreSQL (jsonb).

    - Non-JSON values (UUID, datetime, Decimal) become strings, as DjangoJSONEncoder writes them.
    - NaN, infinities and NUL characters are refused: PostgreSQL's jsonb accepts none of them.
    - jsonb stores numbers as `numeric` and prints them without an exponent, so a float like
      1e16 comes back as the integer 10000000000000000, and -0.0 as 0.0: such floats are
      stored as what jsonb would return, on both databases.
    """
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise ValueError(f"audit details must be a dict, not {type(details).__name__}")
    try:
        plain = json.loads(json.dumps(details, cls=DjangoJSONEncoder, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details are not JSON-serialisable: {exc}") from None
    return _jsonb_numbers(plain)


def _jsonb_numbers(value: Any) -> Any:
    if isinstance(value, float):
        if value == 0:
            return 0.0
        if value.is_integer() and abs(value) >= 1e16:
            return int(Decimal(repr(value)))  # 1.5e+300 -> 15 and 299 zeros, as jsonb prints it
        if not math.isfinite(value):  # pragma: no cover - refused by allow_nan above
            raise ValueError("audit details must not contain NaN or infinity")
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("audit details must not contain NUL characters (PostgreSQL refuses them)")
        return value
    if isinstance(value, dict):
        return {_jsonb_numbers(k): _jsonb_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonb_numbers(v) for v in value]
    return value
