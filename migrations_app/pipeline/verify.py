"""Verify, without reading the source's values a second time: the target holds every id the
backup recorded, each with the digest recorded when it was read (the backup's checksum column),
and nothing else (its count is exactly theirs; it is listed only when the count disagrees or
something already failed); the source, listed again, still holds exactly those ids; the
(lagging) counts agree. Nothing is cut over otherwise.

What a writer that changed the source during the migration leaves, and what catches it:
- an id added to or deleted from the source after it was read: the source's ids, listed again,
  differ from the backup's (named in the report);
- a value or metadata changed in place while the source is about to be deleted (delete after
  backup, or a run deleting its sources): the source is then fetched again and every digest
  compared with the backup's, as exact as before: a source whose data would be lost is never
  trusted to a listing;
- a value or metadata changed in place in a source that is kept: not caught. The target holds
  what was read; the source keeps the newer value, and nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from migrations_app import backups, checksums
from migrations_app.models import MigrationItem
from migrations_app.pipeline.base import (
    EXAMPLES,
    ExecutorBase,
    Item,
    Step,
    VerificationFailed,
)
from twinadmin.vectors import VectorIndex

log = logging.getLogger(__name__)

# Vectors per fetch of the target's read-back at most: one REST GET holds about 240 ids of 20
# characters, a gRPC fetch 1,000; more units in flight, each of fewer vectors, keep memory where
# it was with units of 100 and the window the adaptive map climbs to.
VERIFY_UNIT_VECTORS = 250

# (id, digest recorded in the backup, target's digest or None, source's digest re-read or None)
Row = tuple[str, bytes, bytes | None, bytes | None]


class VerifyPhase(ExecutorBase):
    def verify_phase(self) -> None:
        todo = [item for item in self.items() if not item.verified]
        for item in todo:
            self.available_backup(item)
        started = time.monotonic()
        states = {item.pk: _Comparison(item, reread=self.rereads_source(item)) for item in todo}
        # Listing is sequential (pagination tokens): the sources' ids are listed on side threads
        # while the backups are compared with the targets, not after.
        side = ThreadPoolExecutor(max_workers=4, thread_name_prefix="migration-list")
        source_ids = {item.pk: side.submit(self.compare_ids, item, item.source_namespace) for item in todo}
        side.shutdown(wait=False)

        for item, rows in self.map(self.compare_unit, self.backup_units(todo)):
            state = states[item.pk]
            if not state.started:
                state.started = True
                self.start_step(item, Step.VERIFYING, done=0, total=item.total)
            if rows is None:
                continue
            state.add(rows)
            self.checkpoint(item, done=state.backup.count)

        for item in todo:
            state = states[item.pk]
            state.source_ids = source_ids[item.pk].result()
            if self.run.delete_source or item.action == Item.Action.DELETE:
                # The source will go: prove the backup restores exactly.
                state.file_check = backups.verify_files(item.backup.location)
            if state.missing.count or state.different.count:
                self.list_target(state)  # failing already: name whatever else the target holds
        counts = self.target_counts(todo, states)

        self.record_reports(todo, states, counts, started=started)

    def target_counts(self, todo: list[MigrationItem], states: dict[int, _Comparison]) -> dict[str, Any]:
        """Poll the counts: each source's against its listing again, each target's against the
        ids it was found to hold. A target that holds every id of the backup (fetched, digests
        compared) and counts exactly that many holds nothing else, so it is not listed: the
        third listing of every vector is spared (under a rate limit listing is what binds). Its
        ids are listed only when its count says otherwise - above (extras, named then, without
        waiting out the deadline) or short of it by the deadline - or when it already failed.

        A writer adding to the target during verification can hide behind a lagging count as
        it could behind a listing already past it; anything written before the copy's last
        write is counted by the time the copy's own writes are."""
        expected: dict[str, int] = {}
        for item in todo:
            state = states[item.pk]
            expected[item.source_namespace] = state.source_ids.listed
            if item.action == Item.Action.COPY:
                expected[item.target_namespace] = state.target_count
        unlisted = {i.target_namespace: states[i.pk] for i in todo if states[i.pk].unlisted_target}
        counts = self.poll_counts(expected, stop_above=unlisted)
        unsettled = [s for name, s in unlisted.items() if counts["observed"].get(name) != expected[name]]
        expected = dict(expected)  # the report keeps what the poll was against
        for state in unsettled:
            self.list_target(state)
            expected[state.item.target_namespace] = state.target_count
        if any(counts["observed"].get(s.item.target_namespace, 0) > s.backup.count for s in unsettled):
            # Stopped early: the other namespaces may not have been given their time yet.
            counts = self.poll_counts(expected)
        return counts

    def list_target(self, state: _Comparison) -> None:
        state.target_ids = self.compare_ids(state.item, state.item.target_namespace)
        state.target_listed = True

    def rereads_source(self, item: MigrationItem) -> bool:
        """A source about to be deleted is compared value by value, not only by its ids."""
        return self.run.delete_source or item.action == Item.Action.DELETE

    def backup_units(
        self, items: list[MigrationItem]
    ) -> Iterator[tuple[MigrationItem, list[str] | None, list[bytes]]]:
        """(item, ids, digests) in units of one fetch request each (a rate limit counts fetch
        requests, and the target's read-back is the pass that has nothing to overlap with), at
        most VERIFY_UNIT_VECTORS, then (item, None, []) once an item's backup is exhausted: one
        stream, so a pool works across namespaces."""
        for item in items:
            digests: list[bytes] = []
            pages = _id_pages(item.backup.location, digests)
            for ids in _request_groups(self.index, pages, most=VERIFY_UNIT_VECTORS):
                yield item, ids, digests[: len(ids)]
                del digests[: len(ids)]
            yield item, None, []

    def record_reports(
        self,
        todo: list[MigrationItem],
        states: dict[int, _Comparison],
        counts: dict[str, Any],
        *,
        started: float,
    ) -> None:
        """Store and audit each item's report; any failure stops the run before cut-over."""
        failed = []
        for item in todo:
            report = states[item.pk].report(counts, seconds=time.monotonic() - started)
            ok = report["ok"]
            self.save(item, verified=ok, verification=report, step=Step.VERIFIED if ok else Step.FAILED)
            self.audit(
                "migration.verify",
                target_type="namespace",
                target_id=item.target_namespace or item.source_namespace,
                outcome="success" if ok else "failure",
                details={"source": item.source_namespace, **_summary(report)},
            )
            if not ok:
                failed.append(item)
        if failed:
            detail = "; ".join(
                f"{i.source_namespace}: {i.verification.get('reason', '')}" for i in failed[:5]
            )
            raise VerificationFailed(
                f"verification failed for {len(failed)} namespace(s); nothing was cut over. {detail}"
            )

    def compare_ids(self, item: MigrationItem, namespace: str) -> IdDiff:
        """The namespace's ids listed now against the backup's, both in sorted order (listing
        is, and the backup was written in listing order): a merge, so memory does not grow
        with the namespace. A backup in another order is compared through sets instead."""
        location = item.backup.location

        def recorded() -> Iterator[str]:
            for ids, _ in backups.iter_id_digests(location):
                yield from ids

        def listed() -> Iterator[str]:
            for ids in self.index.iter_id_pages(namespace):
                yield from ids

        try:
            return compare_sorted(listed(), recorded())
        except _Unsorted:
            log.warning("backup of %s not in id order: %s compared by sets", item.source_namespace, namespace)
            return compare_sets(set(listed()), set(recorded()))

    def compare_unit(
        self, unit: tuple[MigrationItem, list[str] | None, list[bytes]]
    ) -> tuple[MigrationItem, list[Row] | None]:
        """For a batch of the backup's ids: the target's digests (a namespace deleted rather
        than copied has no target) and, where the source will be deleted, the source's."""
        item, ids, recorded = unit
        if ids is None:
            return item, None

        def digests_in(namespace: str) -> dict[str, bytes]:
            found = backups.hashed(list(self.index.fetch(namespace, ids).values()))
            return {v.id: d for v, d in zip(found.vectors, found.digests, strict=True)}

        theirs = digests_in(item.target_namespace) if item.action == Item.Action.COPY else {}
        source = digests_in(item.source_namespace) if self.rereads_source(item) else None
        rows = [
            (i, d, theirs.get(i), source.get(i) if source is not None else None)
            for i, d in zip(ids, recorded, strict=True)
        ]
        return item, rows


def _id_pages(location: str, digests: list[bytes]) -> Iterator[list[str]]:
    """The backup's ids per row group; each group's digests are appended to `digests` before
    its ids are handed on."""
    for ids, group_digests in backups.iter_id_digests(location):
        digests.extend(group_digests)
        yield ids


def _request_groups(index: VectorIndex, pages: Iterator[list[str]], *, most: int) -> Iterator[list[str]]:
    """The ids of `pages`, in order, regrouped into one fetch request's worth each (as many as
    the index takes in one request, at most `most`)."""
    pending: list[str] = []

    def take() -> list[str]:
        size = index.fetch_request_size(pending[:most])
        group = pending[:size]
        del pending[:size]
        return group

    for page in pages:
        pending.extend(page)
        while len(pending) >= most:
            yield take()
    while pending:
        yield take()


class _Examples:
    """A count of ids of one kind, with the first EXAMPLES of them."""

    def __init__(self) -> None:
        self.count = 0
        self.ids: list[str] = []

    def add(self, vector_id: str) -> None:
        self.count += 1
        if len(self.ids) < EXAMPLES:
            self.ids.append(vector_id)


class _Unsorted(Exception):
    """A stream compared by merge was not in ascending order."""


class IdDiff:
    """Ids listed in a namespace now against the ids the backup recorded."""

    def __init__(self) -> None:
        self.listed = 0
        self.only_listed = _Examples()  # e.g. added to the source, extra in the target
        self.only_recorded = _Examples()  # e.g. deleted from the source


def _ascending(ids: Iterator[str]) -> Iterator[str]:
    previous: str | None = None
    for vector_id in ids:
        if previous is not None and vector_id <= previous:
            raise _Unsorted(vector_id)
        previous = vector_id
        yield vector_id


def compare_sorted(listed: Iterator[str], recorded: Iterator[str]) -> IdDiff:
    """Merge two ascending id streams: what only one of them holds."""
    diff = IdDiff()
    listed, recorded = _ascending(listed), _ascending(recorded)
    a, b = next(listed, None), next(recorded, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a < b):
            diff.listed += 1
            diff.only_listed.add(a)  # type: ignore[arg-type]
            a = next(listed, None)
        elif a is None or b < a:
            diff.only_recorded.add(b)
            b = next(recorded, None)
        else:
            diff.listed += 1
            a, b = next(listed, None), next(recorded, None)
    return diff


def compare_sets(listed: set[str], recorded: set[str]) -> IdDiff:
    diff = IdDiff()
    diff.listed = len(listed)
    for vector_id in sorted(listed - recorded):
        diff.only_listed.add(vector_id)
    for vector_id in sorted(recorded - listed):
        diff.only_recorded.add(vector_id)
    return diff


class _Comparison:
    """What verification found for one item so far (accumulated batch by batch)."""

    def __init__(self, item: MigrationItem, *, reread: bool) -> None:
        self.item = item
        self.reread = reread
        self.started = False
        self.backup = checksums.NamespaceChecksum()
        self.target = checksums.NamespaceChecksum()
        self.source = checksums.NamespaceChecksum()  # of the source re-read (reread only)
        self.missing = _Examples()
        self.different = _Examples()
        self.changed = _Examples()  # in the source since it was read (reread only)
        self.source_ids = IdDiff()  # the source listed again against the backup
        self.target_ids = IdDiff()  # the target listed against the backup (if it was listed)
        self.target_listed = False
        self.file_check: backups.FileCheck | None = None

    def add(self, rows: list[Row]) -> None:
        copy = self.item.action == Item.Action.COPY
        for vector_id, recorded, target_digest, source_digest in rows:
            self.backup.add(recorded)
            if self.reread and source_digest is not None:
                self.source.add(source_digest)
                if source_digest != recorded:
                    self.changed.add(vector_id)
            if not copy:
                continue
            if target_digest is None:
                self.missing.add(vector_id)
                continue
            self.target.add(target_digest)
            if target_digest != recorded:
                self.different.add(vector_id)

    @property
    def unlisted_target(self) -> bool:
        return self.item.action == Item.Action.COPY and not self.target_listed

    @property
    def target_count(self) -> int:
        """Ids the target holds: as listed, or (not listed) every id the backup recorded."""
        return self.target_ids.listed if self.target_listed else self.backup.count

    def report(self, counts: dict[str, Any], *, seconds: float) -> dict[str, Any]:
        item, backup = self.item, self.item.backup
        names = [item.source_namespace] + ([item.target_namespace] if item.target_namespace else [])
        mine = {
            "converged": all(counts["observed"].get(n) == counts["expected"][n] for n in names),
            "expected": {n: counts["expected"][n] for n in names},
            "observed": {n: counts["observed"].get(n) for n in names},
            "polls": counts["polls"],
            "seconds": counts["seconds"],
        }
        added, removed = self.source_ids.only_listed, self.source_ids.only_recorded
        extra = self.target_ids.only_listed
        # Missing: not found by the fetch, or (listed later) no longer listed.
        not_listed = self.target_ids.only_recorded
        missing = not_listed if not_listed.count > self.missing.count else self.missing
        reason = ""
        if missing.count or self.different.count or extra.count:
            reason = (
                f"{missing.count} missing, {self.different.count} different, "
                f"{extra.count} extra in the target"
            )
        elif added.count or removed.count or self.changed.count:
            reason = (
                f"the source changed after its backup was taken: {added.count} added, "
                f"{removed.count} deleted, {self.changed.count} changed"
            )
        elif self.backup.hexdigest() != backup.checksum or self.backup.count != backup.vector_count:
            reason = "the backup's rows do not add up to its recorded checksum"
        elif self.file_check is not None and not self.file_check.ok:
            reason = f"backup files do not verify: {self.file_check.problem}"
        elif not mine["converged"]:
            reason = f"counts did not agree within the deadline: {mine['observed']} != {mine['expected']}"
        return {
            "ok": not reason,
            "reason": reason,
            "source_count": self.source_ids.listed,
            "target_count": self.target_count if item.target_namespace else 0,
            # How the target's ids were found to be the backup's: by its count once every id
            # was fetched, or by listing it (a count that disagreed, or a failure to name).
            "target_ids_by": ("listing" if self.target_listed else "count") if item.target_namespace else "",
            "backup_count": backup.vector_count,
            "missing": missing.count,
            "different": self.different.count,
            "extra": extra.count,
            "source_added": added.count,
            "source_deleted": removed.count,
            "source_changed": self.changed.count,
            "source_reread": self.reread,
            "examples": {
                "missing": missing.ids,
                "different": self.different.ids,
                "extra": extra.ids,
                "source_added": added.ids,
                "source_deleted": removed.ids,
                "source_changed": self.changed.ids,
            },
            # The source's own checksum only where its values were read again; its ids and
            # count always.
            "source_checksum": self.source.hexdigest() if self.reread else "",
            "target_checksum": self.target.hexdigest() if item.target_namespace else "",
            "backup_checksum": backup.checksum,
            "checksum_algorithm": checksums.ALGORITHM,
            "backup_files_ok": None if self.file_check is None else self.file_check.ok,
            "counts": mine,
            "duration_seconds": round(seconds, 3),
        }


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("source_count", "target_count", "missing", "different", "extra", "source_checksum", "reason")
    summary = {k: report.get(k) for k in keys}
    summary["examples"] = {k: v[:10] for k, v in report.get("examples", {}).items()}
    return summary
