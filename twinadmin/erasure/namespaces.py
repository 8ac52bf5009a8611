"""What erasure asks of the vector index: find a creator's namespaces, delete them, and watch
them disappear. Every call goes through the vector layer; nothing here knows Pinecone.

Finding: every name the codec attributes to creator X is exactly `creator_X` or
`creator_X_twin_Y`, and ids cannot contain `_`. So one listing with the prefix `creator_X_twin_`
(no other creator's names start with it) plus one description of `creator_X` sees all of them,
in ceil(n/100) + 1 requests however large the index is. Each listed name is still parsed, and
only exact owners are kept: a prefix narrows the listing, it never decides ownership.

Verifying: counts lag deletes (they are eventually consistent), so one look proves nothing.
Rounds repeat with backoff until a deadline; a namespace counts as gone when the count-based
view (the listing and the description) no longer shows it AND an id listing returns no ids.
Each round costs the listing's pages; the id check costs one request per namespace, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.utils import timezone

from twinadmin.lib.concurrency import bounded_map
from twinadmin.lib.polling import poll_until
from twinadmin.registry import codec
from twinadmin.vectors.base import VectorIndex

T = TypeVar("T")
R = TypeVar("R")


def verify_timeout() -> float:
    return float(settings.ERASURE_VERIFY_TIMEOUT_SECONDS)


def concurrency(index: VectorIndex) -> int:
    """Requests in flight at once (ERASURE_CONCURRENCY, else the index's hint). Over HTTP the
    round trips (and the adapter's retry waits under 429/503) overlap; the local store has one
    writer, so more threads would only queue."""
    configured = settings.ERASURE_CONCURRENCY
    return max(1, int(configured)) if configured else index.concurrency_hint


def concurrently(index: VectorIndex, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """`map(fn, items)` with up to `concurrency(index)` calls in flight, results in order. The
    window is bounded, so calls never run far ahead of the caller's checkpoints: a worker killed
    mid-way leaves at most that many finished calls unrecorded, and the one it was recording
    (the window is refilled before a result is handed over)."""
    return bounded_map(fn, items, workers=concurrency(index), thread_name_prefix="erasure")


def _now() -> str:
    return timezone.now().isoformat()


def owned_namespaces(index: VectorIndex, creator_id: str) -> dict[str, int]:
    """Every non-empty namespace the index holds that parses to `creator_id`, with its count."""
    shared = codec.creator_namespace(creator_id)
    found = {}
    count = index.namespace_count(shared)
    if count:
        found[shared] = count
    for info in index.iter_namespaces(prefix=shared + codec.TWIN_SEPARATOR):
        if info.vector_count and codec.parse_namespace(info.name).is_owned_by(creator_id):
            found[info.name] = info.vector_count
    return found


@dataclass
class Verification:
    """What the rounds saw. `verified` maps each namespace seen gone to its evidence; `remaining`
    maps the others to the last count seen (None: absent from the counts but ids listed);
    `unexpected` holds namespaces of the creator that were not asked about (written meanwhile)."""

    verified: dict[str, dict[str, Any]] = field(default_factory=dict)
    remaining: dict[str, int | None] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""

    @property
    def ok(self) -> bool:
        return not self.remaining and not self.unexpected

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "rounds": self.rounds,
            "remaining": self.remaining,
            "unexpected": self.unexpected,
        }


def verify_creator_gone(
    index: VectorIndex,
    creator_id: str,
    names: Iterable[str],
    *,
    known_failed: Iterable[str] = (),
    timeout: float | None = None,
    on_round: Callable[[], None] | None = None,
) -> Verification:
    """Poll until none of `names` and no other namespace of the creator holds data.
    `known_failed` are namespaces whose delete failed: not waited for, not unexpected."""
    result = Verification(started_at=_now())
    pending = set(names)
    skip = set(known_failed)

    def check(round_no: int) -> bool:
        listed = owned_namespaces(index, creator_id)
        # Listed again after being seen gone, with ids: written to meanwhile.
        result.unexpected = {
            n: c
            for n, c in listed.items()
            if n not in pending and n not in skip and (n not in result.verified or index.has_ids(n))
        }
        candidates = sorted(pending - listed.keys())
        for name, ids_left in zip(candidates, concurrently(index, index.has_ids, candidates), strict=True):
            if ids_left:
                result.remaining[name] = None
                continue
            pending.discard(name)
            result.remaining.pop(name, None)
            result.verified[name] = {"absent_from_counts_at": _now(), "ids_listed": 0, "round": round_no}
        for name in pending & listed.keys():
            result.remaining[name] = listed[name]
        result.rounds.append(
            {"round": round_no, "at": _now(), "still_listed": len(listed), "verified": len(result.verified)}
        )
        # Stop early on unexpected namespaces: the caller deletes them and verifies again.
        return not pending or bool(result.unexpected)

    poll_until(check, timeout=verify_timeout() if timeout is None else timeout, on_round=on_round)
    result.finished_at = _now()
    return result


def verify_namespace_gone(
    index: VectorIndex,
    name: str,
    *,
    timeout: float | None = None,
    on_round: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Poll one namespace's description (then its id listing) until it reports nothing."""
    evidence: dict[str, Any] = {"namespace": name, "started_at": _now(), "rounds": []}

    def check(round_no: int) -> bool:
        count = index.namespace_count(name)
        ids = index.has_ids(name) if count == 0 else None
        evidence["rounds"].append({"round": round_no, "at": _now(), "count": count, "ids_listed": ids})
        return count == 0 and not ids

    poll_until(check, timeout=verify_timeout() if timeout is None else timeout, on_round=on_round)
    last = evidence["rounds"][-1]
    evidence["ok"] = last["count"] == 0 and not last["ids_listed"]
    evidence["finished_at"] = _now()
    return evidence
