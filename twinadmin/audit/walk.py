"""One pass over audit entries in seq order, knowing nothing of where they come from (the
database, or an export an auditor holds): the hash chain's checks, and the RFC 9162 Merkle root
of every prefix a checkpoint names, with leaves recomputed from each entry's content — never
read from a stored hash the database could have been given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from twinadmin.audit import merkle
from twinadmin.audit.chain import GENESIS_HASH, entry_bytes

CONTENT_CHANGED = "content changed"
PREV_LINK_BROKEN = "prev link broken"
SEQ_GAP = "seq gap (deleted)"
REORDERED = "reordered"
HEAD_MISMATCH = "head mismatch"
LEAF_MISMATCH = "stored leaf hash differs from the content"


@dataclass(frozen=True)
class BrokenEntry:
    seq: int
    reason: str
    detail: str = ""


class LogWalk:
    """Feed entries in seq order. `count` is the number of intact entries before the first
    broken one (all of them when the chain holds); `roots[n]` the root of the first n entries
    read, for each n in `sizes` the walk reached. After a break the chain checks stop, but the
    leaves go on, so a checkpoint beyond the break is still checked."""

    def __init__(self, sizes: Collection[int] = ()) -> None:
        self.sizes = set(sizes)
        self.target = max(self.sizes, default=0)
        self.tree = merkle.TreeBuilder()
        self.roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT} if 0 in self.sizes else {}
        self.expected_seq = 1
        self.prev = GENESIS_HASH
        self.count = 0
        self.broken: BrokenEntry | None = None
        self.last_leaf = b""

    @property
    def finished(self) -> bool:
        """Nothing more to learn: the chain broke and every checkpoint size was reached."""
        return self.broken is not None and self.tree.size >= self.target

    def feed(self, fields: dict[str, Any], stored_hash: str) -> BrokenEntry | None:
        """Check one entry; returns the break it caused, if it is the first."""
        data = entry_bytes(**fields)
        self.last_leaf = merkle.leaf_hash(data)
        self.tree.append(self.last_leaf)
        if self.tree.size in self.sizes:
            self.roots[self.tree.size] = self.tree.root()
        if self.broken is not None:
            return None
        seq = fields["seq"]
        if seq != self.expected_seq:
            return self.fail(
                BrokenEntry(self.expected_seq, SEQ_GAP, f"entries {self.expected_seq}..{seq - 1} missing")
            )
        if hashlib.sha256(data).hexdigest() != stored_hash:
            return self.fail(
                BrokenEntry(seq, CONTENT_CHANGED, "stored hash does not match the entry's content")
            )
        if fields["prev_hash"] != self.prev:
            return self.fail(
                BrokenEntry(seq, PREV_LINK_BROKEN, f"prev_hash does not match entry {seq - 1}'s hash")
            )
        self.count += 1
        self.prev = stored_hash
        self.expected_seq = seq + 1
        return None

    def fail(self, broken: BrokenEntry) -> BrokenEntry:
        self.broken = broken
        return broken
