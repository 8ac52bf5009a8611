"""Verify: the target holds exactly the source's ids with equal per-vector digests, the source
still matches the backup, and the (lagging) counts agree. Nothing is cut over otherwise."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from migrations_app import backups, checksums
from migrations_app.models import MigrationItem
from migrations_app.pipeline.base import (
    EXAMPLES,
    ExecutorBase,
    Item,
    Step,
    VerificationFailed,
    ordered_map,
)

log = logging.getLogger(__name__)


class VerifyPhase(ExecutorBase):
    def verify_phase(self) -> None:
        todo = [item for item in self.items() if not item.verified]
        for item in todo:
            self.available_backup(item)
        started = time.monotonic()
        states = {item.pk: _Comparison(item) for item in todo}
        # Listing is sequential (pagination tokens): the targets' ids are counted on side
        # threads while the sources are listed and compared, not after.
        side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="migration-list")
        target_counts = {
            item.pk: side.submit(self.count_ids, item.target_namespace)
            for item in todo
            if item.action == Item.Action.COPY
        }
        side.shutdown(wait=False)

        for item, rows in ordered_map(self.compare_unit, self.source_units(todo), workers=self.workers):
            state = states[item.pk]
            if not state.started:
                state.started = True
                self.start_step(item, Step.VERIFYING, done=0, total=item.total)
            if rows is None:
                continue
            state.add(rows)
            self.checkpoint(item, done=state.source.count)

        for item in todo:
            state = states[item.pk]
            if item.pk in target_counts:
                state.target_listed = target_counts[item.pk].result()
                if state.target_listed != state.target.count:
                    state.extra_examples, state.extra = self.extra_ids(
                        item.source_namespace, item.target_namespace
                    )
            if self.run.delete_source or item.action == Item.Action.DELETE:
                # The source will go: prove the backup restores exactly.
                state.file_check = backups.verify_files(Path(item.backup.path))
        expected: dict[str, int] = {}
        for item in todo:
            expected[item.source_namespace] = states[item.pk].source.count
            if item.action == Item.Action.COPY:
                expected[item.target_namespace] = states[item.pk].target_listed
        counts = self.poll_counts(expected)

        self.record_reports(todo, states, counts, started=started)

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

    def count_ids(self, namespace: str) -> int:
        return sum(len(ids) for ids in self.index.iter_id_pages(namespace))

    def compare_unit(
        self, unit: tuple[MigrationItem, list[str] | None]
    ) -> tuple[MigrationItem, list[tuple[str, bytes, bytes | None]] | None]:
        """(id, source digest, target digest or None) for a batch of source ids; a namespace
        that is deleted rather than copied has no target to compare."""
        item, ids = unit
        if ids is None:
            return item, None
        ours = backups.hashed(list(self.index.fetch(item.source_namespace, ids).values()))
        theirs: dict[str, bytes] = {}
        if item.action == Item.Action.COPY:
            copies = backups.hashed(list(self.index.fetch(item.target_namespace, ids).values()))
            theirs = {v.id: d for v, d in zip(copies.vectors, copies.digests, strict=True)}
        rows = [(v.id, d, theirs.get(v.id)) for v, d in zip(ours.vectors, ours.digests, strict=True)]
        return item, rows

    def extra_ids(self, source: str, target: str) -> tuple[list[str], int]:
        """Ids in the target that the source does not hold (only looked for when the counts
        say there are some)."""
        examples: list[str] = []
        count = 0
        for ids in self.index.iter_id_pages(target):
            present = self.index.fetch(source, ids)
            for vector_id in ids:
                if vector_id not in present:
                    count += 1
                    if len(examples) < EXAMPLES:
                        examples.append(vector_id)
        return examples, count


class _Comparison:
    """What verification found for one item so far (accumulated batch by batch)."""

    def __init__(self, item: MigrationItem) -> None:
        self.item = item
        self.started = False
        self.source = checksums.NamespaceChecksum()
        self.target = checksums.NamespaceChecksum()
        self.missing: list[str] = []
        self.different: list[str] = []
        self.n_missing = 0
        self.n_different = 0
        self.target_listed = 0
        self.extra = 0
        self.extra_examples: list[str] = []
        self.file_check: backups.FileCheck | None = None

    def add(self, rows: list[tuple[str, bytes, bytes | None]]) -> None:
        copy = self.item.action == Item.Action.COPY
        for vector_id, source_digest, target_digest in rows:
            self.source.add(source_digest)
            if not copy:
                continue
            if target_digest is None:
                self.n_missing += 1
                if len(self.missing) < EXAMPLES:
                    self.missing.append(vector_id)
                continue
            self.target.add(target_digest)
            if target_digest != source_digest:
                self.n_different += 1
                if len(self.different) < EXAMPLES:
                    self.different.append(vector_id)

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
        reason = ""
        if self.n_missing or self.n_different or self.extra:
            reason = (
                f"{self.n_missing} missing, {self.n_different} different, {self.extra} extra in the target"
            )
        elif self.source.hexdigest() != backup.checksum or self.source.count != backup.vector_count:
            reason = "the source changed after its backup was taken"
        elif self.file_check is not None and not self.file_check.ok:
            reason = f"backup files do not verify: {self.file_check.problem}"
        elif not mine["converged"]:
            reason = f"counts did not agree within the deadline: {mine['observed']} != {mine['expected']}"
        return {
            "ok": not reason,
            "reason": reason,
            "source_count": self.source.count,
            "target_count": self.target_listed,
            "backup_count": backup.vector_count,
            "missing": self.n_missing,
            "different": self.n_different,
            "extra": self.extra,
            "examples": {"missing": self.missing, "different": self.different, "extra": self.extra_examples},
            "source_checksum": self.source.hexdigest(),
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
