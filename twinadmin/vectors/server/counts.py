"""Lagging namespace counts: Pinecone's stats and namespace descriptions are eventually
consistent, and the server can make its own counts lag writes by N seconds to match."""

from __future__ import annotations

import threading
import time
from collections import deque

from ..local import LocalStore


class LaggedCounts:
    """Namespace counts as a reader would see them `lag` seconds ago (explicitly created empty
    namespaces included, with count 0).

    After every write the server records a snapshot of the exact counts; a read returns the
    newest snapshot at least `lag` seconds old (or the oldest one kept, taken when lag began)."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._snapshots: deque[tuple[float, dict[str, int]]] = deque()

    def reset(self) -> None:
        with self._lock:
            self._snapshots.clear()
            self._snapshots.append((time.monotonic(), self._store.counts(include_created=True)))

    def record(self, lag: float) -> None:
        """After a write. Without lag, reads see the store itself: nothing to keep (and nothing
        to pay: a snapshot counts every namespace). `reset()` starts the history when lag does."""
        if lag <= 0:
            return
        counts = self._store.counts(include_created=True)
        with self._lock:
            self._snapshots.append((time.monotonic(), counts))

    def view(self, lag: float) -> dict[str, int]:
        if lag <= 0:
            return self._store.counts(include_created=True)
        cutoff = time.monotonic() - lag
        with self._lock:
            # Drop snapshots superseded by a newer one that is already old enough.
            while len(self._snapshots) > 1 and self._snapshots[1][0] <= cutoff:
                self._snapshots.popleft()
            return (
                dict(self._snapshots[0][1]) if self._snapshots else self._store.counts(include_created=True)
            )
