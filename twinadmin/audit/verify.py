"""Verification that needs no trust in the database: the log, read from the database or from an
export, against signed checkpoints kept outside it.

For each checkpoint of size n with root r, the log must have at least n entries and the Merkle
root of its first n entries, recomputed from their content, must be r. That is exactly what a
consistency proof from the checkpoint to today's tree shows (RFC 9162 §2.1.4), computed here
from the entries themselves in one streaming pass for every checkpoint at once:

- rollback: the log is shorter than a checkpoint (entries cut, or an older copy restored);
- fork or rewrite: a prefix root differs (an entry edited, inserted, removed or re-hashed,
  the table truncated and rebuilt, or an older copy restored and written on again).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from twinadmin.audit.chain import HASHED_FIELDS
from twinadmin.audit.checkpoints import (
    Checkpoint,
    CheckpointError,
    checkpoint_consistent,
    checkpoint_files,
    checkpoint_read,
    unauthenticated_entries,
)
from twinadmin.audit.exports import EXPORT_FIELDS
from twinadmin.audit.services import ChainReport, audit_chain_verify
from twinadmin.audit.walk import BrokenEntry, LogWalk

ROLLBACK = "rollback"
FORK = "fork or rewrite"
INVALID = "invalid checkpoint"
UNAUTHENTICATED = "unauthenticated append"


@dataclass(frozen=True)
class CheckpointResult:
    name: str
    tree_size: int | None
    problem: str = ""  # "" when the log is consistent with it
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def as_dict(self) -> dict[str, Any]:
        return {
            "checkpoint": self.name,
            "tree_size": self.tree_size,
            "ok": self.ok,
            "problem": self.problem,
            "detail": self.detail,
        }


def checkpoints_load(
    paths: Iterable[Path], public_key: Ed25519PublicKey
) -> tuple[list[Checkpoint], list[CheckpointResult]]:
    """The valid checkpoints, and a failed result for each file that is not one."""
    loaded, invalid = [], []
    for path in paths:
        try:
            loaded.append(checkpoint_read(path, public_key))
        except CheckpointError as exc:
            invalid.append(CheckpointResult(path.name, None, INVALID, str(exc)))
    return loaded, invalid


def checkpoints_judge(
    checkpoints: Iterable[Checkpoint], tree_size: int, roots: dict[int, str]
) -> list[CheckpointResult]:
    results = []
    for c in sorted(checkpoints, key=lambda c: (c.tree_size, c.name)):
        if c.tree_size > tree_size:
            results.append(
                CheckpointResult(
                    c.name,
                    c.tree_size,
                    ROLLBACK,
                    f"{c} signed {c.tree_size} entries; the log has {tree_size}",
                )
            )
        elif roots.get(c.tree_size) != c.root_hash:
            results.append(
                CheckpointResult(
                    c.name,
                    c.tree_size,
                    FORK,
                    f"the root of the log's first {c.tree_size} entries is not the one {c} signed",
                )
            )
        else:
            results.append(CheckpointResult(c.name, c.tree_size))
    return results


def checkpoints_cross_check(checkpoints: Iterable[Checkpoint]) -> list[CheckpointResult]:
    """Checkpoints against each other, no log needed: each one's consistency proof from the
    checkpoint before it must verify, and no two may sign different roots for one size (a
    split view: the signer was shown two histories). Returns the problems only."""
    ordered = sorted(checkpoints, key=lambda c: (c.tree_size, c.name))
    roots: dict[int, Checkpoint] = {}
    problems = []
    for c in ordered:
        seen = roots.setdefault(c.tree_size, c)
        if seen.root_hash != c.root_hash:
            problems.append(
                CheckpointResult(c.name, c.tree_size, FORK, f"{seen} signed another root for this size")
            )
        claim = c.consistency
        if claim is None:
            continue
        if not checkpoint_consistent(c):
            detail = f"its consistency proof from {claim['from_size']} entries does not verify"
            problems.append(CheckpointResult(c.name, c.tree_size, FORK, detail))
        earlier = roots.get(claim["from_size"])
        if earlier is not None and earlier.root_hash != claim["from_root"]:
            detail = f"it extends a tree of {claim['from_size']} entries other than the one {earlier} signed"
            problems.append(CheckpointResult(c.name, c.tree_size, FORK, detail))
    return problems


def checkpoints_verify(paths: Iterable[Path], public_key: Ed25519PublicKey) -> list[CheckpointResult]:
    """Only the checkpoint files: signatures, and their consistency with each other."""
    loaded, invalid = checkpoints_load(paths, public_key)
    problems = invalid + checkpoints_cross_check(loaded)
    failed = {r.name for r in problems}
    return problems + [CheckpointResult(c.name, c.tree_size) for c in loaded if c.name not in failed]


def audit_verify_against(
    paths: Iterable[Path] | None, public_key: Ed25519PublicKey
) -> tuple[ChainReport, list[CheckpointResult]]:
    """The database's log: the chain walk (services.audit_chain_verify) and every checkpoint."""
    loaded, invalid = checkpoints_load(checkpoint_files() if paths is None else paths, public_key)
    report = audit_chain_verify(checkpoint_sizes={c.tree_size for c in loaded})
    judged = checkpoints_judge(loaded, report.tree_size, report.roots)
    results = invalid + checkpoints_cross_check(loaded) + judged
    consistent = {r.name for r in judged if r.ok}
    held = sorted((c for c in loaded if c.name in consistent), key=lambda c: c.tree_size)
    if held:
        # Entries after the newest checkpoint are bound by no signature yet: each must carry the
        # MAC only a holder of the key can write (skipped where this process has no key).
        newest = held[-1]
        forged = unauthenticated_entries(newest.tree_size)
        if forged:
            detail = (
                f"entries {', '.join(map(str, forged))} were not written with the signing key (no valid MAC)"
            )
            results.append(CheckpointResult(newest.name, newest.tree_size, UNAUTHENTICATED, detail))
    return report, results


class ExportError(ValueError):
    """The export file is not a JSON Lines audit export."""


@dataclass(frozen=True)
class OfflineReport:
    entries: int
    tree_size: int
    head_hash: str
    first_broken: BrokenEntry | None
    checkpoints: list[CheckpointResult]

    @property
    def ok(self) -> bool:
        return self.first_broken is None and all(r.ok for r in self.checkpoints)


def export_records(lines: Iterable[str | bytes]) -> Iterator[tuple[dict[str, Any], str]]:
    """(hashed fields, stored entry hash) per line of a JSON Lines export (exports.export_jsonl)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested past any record's depth
            raise ExportError(f"line {number}: not JSON") from None
        if not isinstance(record, dict) or set(record) != set(EXPORT_FIELDS):
            raise ExportError(
                f"line {number}: not an audit export record (fields {', '.join(EXPORT_FIELDS)})"
            )
        try:
            record["at"] = dt.datetime.strptime(record["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        except (TypeError, ValueError):
            raise ExportError(f"line {number}: `at` is not an ISO 8601 UTC time") from None
        if not isinstance(record["seq"], int):
            raise ExportError(f"line {number}: `seq` is not an integer")
        yield {f: record[f] for f in HASHED_FIELDS}, record["entry_hash"]


def offline_verify(
    export: Path, checkpoint_paths: Iterable[Path], public_key: Ed25519PublicKey
) -> OfflineReport:
    """What an external auditor runs: a whole-log export, checkpoint files and the public key;
    no database. ExportError when the file cannot be read as an export."""
    loaded, invalid = checkpoints_load(checkpoint_paths, public_key)
    walk = LogWalk({c.tree_size for c in loaded})
    try:
        with export.open("rb") as f:
            for fields, stored in export_records(f):
                try:
                    walk.feed(fields, stored)
                except (TypeError, ValueError, KeyError, AttributeError) as exc:
                    raise ExportError(f"entry {fields.get('seq')}: cannot be hashed: {exc}") from None
    except OSError as exc:
        raise ExportError(f"cannot read {export}: {exc.strerror}") from None
    roots = {size: root.hex() for size, root in walk.roots.items()}
    return OfflineReport(
        walk.count,
        walk.tree.size,
        walk.prev,
        walk.broken,
        invalid + checkpoints_cross_check(loaded) + checkpoints_judge(loaded, walk.tree.size, roots),
    )
