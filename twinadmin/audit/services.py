"""Writes to the audit log, and the chain walk that proves it untouched.

Other apps call exactly one function:

    from twinadmin.audit.services import audit_record
    audit_record(actor=request.user, action="twin.delete.start", target_type="twin",
                 target_id=twin.twin_id, creator_id=creator.creator_id, outcome="intent",
                 details={"vectors_before": 42}, correlation_id=job.correlation_id)
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from twinadmin.audit.chain import GENESIS_HASH, HASHED_FIELDS, entry_hash, normalize_details
from twinadmin.audit.keys import entry_mac, entry_mac_key
from twinadmin.audit.models import AuditEntry, AuditHead
from twinadmin.audit.walk import (
    CONTENT_CHANGED,
    HEAD_MISMATCH,
    LEAF_MISMATCH,
    REORDERED,
    SEQ_GAP,
    BrokenEntry,
    LogWalk,
)

ACTION_RE = re.compile(r"\A[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)*\Z")
SYSTEM_ACTOR = "system"


class AuditInputError(ValueError):
    """audit_record was given something the log cannot hold; nothing was written."""


def actor_name(actor: Any) -> str:
    """A User → its username; a string (`cli:delete_twin`, a username) → itself; None → system."""
    if actor is None:
        return SYSTEM_ACTOR
    if isinstance(actor, str):
        name = actor.strip()
        if not name:
            raise AuditInputError("actor must not be blank (pass None for the system)")
        return name
    if hasattr(actor, "get_username"):
        if not getattr(actor, "is_authenticated", True):
            return "anonymous"
        return actor.get_username()
    raise AuditInputError(f"actor must be a User, a string or None, not {type(actor).__name__}")


def audit_record(
    *,
    actor: Any,
    action: str,
    target_type: str,
    target_id: str,
    outcome: str = "info",
    details: dict[str, Any] | None = None,
    creator_id: str = "",
    correlation_id: str | uuid.UUID | None = None,
) -> AuditEntry:
    """Append one entry to the chain and return it.

    Concurrency: the append locks the head row, so writers queue and each extends the entry
    the previous one wrote. Called inside a transaction, the entry commits or rolls back with
    that transaction and the head stays locked until it ends, holding other writers back:
    record an `intent` entry before opening the transaction that does the work, so it survives
    the work failing, and keep such transactions short.
    """
    entry = AuditEntry(
        actor=actor_name(actor),
        action=_checked_action(action),
        target_type=target_type,
        target_id=str(target_id),
        creator_id=str(creator_id or ""),
        correlation_id=_checked_uuid(correlation_id),
        outcome=outcome,
        details=_checked_details(details),
    )
    try:
        entry.clean_fields(exclude=["seq", "at", "prev_hash", "entry_hash", "leaf_hash", "entry_mac"])
    except ValidationError as exc:
        raise AuditInputError(f"audit entry refused: {exc.message_dict}") from None

    mac_key = entry_mac_key()  # outside the lock: a file read, once per process
    with transaction.atomic():
        head = _lock_head()
        entry.seq = head.last_seq + 1
        entry.prev_hash = head.last_hash
        # Never earlier than the entry before: a clock stepped back (NTP) or a host whose clock
        # lags must not make time run backwards along the chain. Auditors read the log in time
        # order, and the date filters rely on it (selectors.audit_entry_filter).
        now = timezone.now()
        entry.at = max(now, head.last_at) if head.last_at else now
        entry.entry_hash, entry.leaf_hash = entry.compute_digests()
        entry.entry_mac = entry_mac(mac_key, entry.entry_hash) if mac_key else ""
        entry.save()
        AuditHead.objects.filter(pk=head.pk).update(
            last_seq=entry.seq, last_hash=entry.entry_hash, last_at=entry.at
        )
    return entry


def _lock_head() -> AuditHead:
    """The head row, locked until the surrounding transaction ends.

    PostgreSQL: SELECT ... FOR UPDATE makes a second writer wait here until the first commits,
    then read the head the first one wrote. SQLite ignores FOR UPDATE, but settings open every
    transaction with BEGIN IMMEDIATE, which takes the database's single write lock up front,
    so the same holds. The unique seq is the backstop: a fork would fail the insert.
    """
    head = AuditHead.objects.select_for_update().filter(pk=AuditHead.SINGLETON).first()
    if head is not None:
        return head
    # First append ever (or after a test flush). Two first writers may race here: the insert
    # ignores the conflict and both then queue on the row lock.
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "entry_hash", "at").first()
    seq, digest, at = last if last else (0, GENESIS_HASH, None)
    AuditHead.objects.bulk_create(
        [AuditHead(pk=AuditHead.SINGLETON, last_seq=seq, last_hash=digest, last_at=at)], ignore_conflicts=True
    )
    return AuditHead.objects.select_for_update().get(pk=AuditHead.SINGLETON)


def _checked_action(action: str) -> str:
    if not isinstance(action, str) or not ACTION_RE.match(action):
        raise AuditInputError(f"action {action!r} must be lowercase dotted words, e.g. 'twin.delete.start'")
    return action


def _checked_uuid(value: str | uuid.UUID | None) -> uuid.UUID:
    if value is None:
        return uuid.uuid4()
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise AuditInputError(f"correlation_id {value!r} is not a UUID") from None


def _checked_details(details: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return normalize_details(details)
    except ValueError as exc:
        raise AuditInputError(str(exc)) from None


# --- verification -------------------------------------------------------------------------

VERIFY_CHUNK_SIZE = 2000


@dataclass(frozen=True)
class ChainReport:
    """The result of one walk. `entries` counts the entries read: all of them when the chain is
    intact, those up to the first broken one otherwise. `tree_size` is every entry read, and
    `roots` the Merkle root (hex) of the first n of them for each n asked for that exists."""

    ok: bool
    entries: int
    head_hash: str
    first_broken: BrokenEntry | None
    seconds: float
    tree_size: int = 0
    roots: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "first_broken": asdict(self.first_broken) if self.first_broken else None,
        }


def audit_chain_verify(
    *, chunk_size: int = VERIFY_CHUNK_SIZE, checkpoint_sizes: Collection[int] = ()
) -> ChainReport:
    """Walk the chain in seq order, recomputing every hash and checking seq continuity, the
    prev links, the stored leaf hashes and the head row; and compute the Merkle root, from the
    entries' content, at each of `checkpoint_sizes` (see twinadmin.audit.walk). Streams rows
    (`iterator`), so memory stays flat at any size.

    Concurrent appends are fine: the head is read first, and every entry up to it has
    committed by then, so entries the walk misses can only be newer than the head it checks.
    """
    started = time.monotonic()
    head = AuditHead.objects.filter(pk=AuditHead.SINGLETON).values_list("last_seq", "last_hash").first()
    rows = (
        AuditEntry.objects.order_by("seq")
        .values_list(*HASHED_FIELDS, "entry_hash", "leaf_hash")
        .iterator(chunk_size=chunk_size)
    )
    walk = LogWalk(checkpoint_sizes)
    bad_leaf: BrokenEntry | None = None
    for row in rows:
        fields = dict(zip(HASHED_FIELDS, row[:-2], strict=True))
        stored, stored_leaf = row[-2], row[-1]
        if walk.broken is None:
            broken = walk.feed(fields, stored)
            seq = fields["seq"]
            if broken is not None and broken.reason == CONTENT_CHANGED:
                walk.broken = _classify_changed(fields, stored)
            elif broken is None and head is not None and seq == head[0] and stored != head[1]:
                walk.fail(BrokenEntry(seq, HEAD_MISMATCH, "entry hash differs from the recorded head"))
            elif broken is None and bad_leaf is None and walk.last_leaf.hex() != stored_leaf:
                # Reported only if the chain holds: a chain break says more about what happened.
                bad_leaf = BrokenEntry(seq, LEAF_MISMATCH, "proofs built from it would not verify")
        else:
            walk.feed(fields, stored)
        if walk.finished:
            break
    if walk.broken is None and head is None and walk.count:
        walk.fail(BrokenEntry(walk.count, HEAD_MISMATCH, "entries exist but the head row is missing"))
    if walk.broken is None and head is not None and walk.count < head[0]:
        walk.fail(BrokenEntry(walk.count + 1, SEQ_GAP, f"the head records {head[0]} entries"))
    if walk.broken is None and bad_leaf is not None:
        walk.fail(bad_leaf)
    return ChainReport(
        ok=walk.broken is None,
        entries=walk.count,
        head_hash=walk.prev,
        first_broken=walk.broken,
        seconds=time.monotonic() - started,
        tree_size=walk.tree.size,
        roots={size: root.hex() for size, root in walk.roots.items()},
    )


def _classify_changed(fields: dict[str, Any], stored: str) -> BrokenEntry:
    """The hash does not re-compute. If it would at another seq, the row was moved (seq values
    swapped), not edited: find where it came from through its neighbours' links or the head
    (only on failure, so these unindexed look-ups cost nothing on the normal path)."""
    seq = fields["seq"]
    candidates = []
    before = AuditEntry.objects.filter(entry_hash=fields["prev_hash"]).values_list("seq", flat=True).first()
    if before is not None:
        candidates.append(before + 1)
    if fields["prev_hash"] == GENESIS_HASH:
        candidates.append(1)
    after = AuditEntry.objects.filter(prev_hash=stored).values_list("seq", flat=True).first()
    if after is not None:
        candidates.append(after - 1)
    head = AuditHead.objects.filter(pk=AuditHead.SINGLETON, last_hash=stored).values_list(
        "last_seq", flat=True
    )
    candidates.extend(head)
    for original in candidates:
        if original != seq and entry_hash(**{**fields, "seq": original}) == stored:
            return BrokenEntry(seq, REORDERED, f"this entry was written as seq {original}")
    return BrokenEntry(seq, CONTENT_CHANGED, "stored hash does not match the entry's content")
