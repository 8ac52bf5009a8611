"""Creator a.1 and its neighbours, as the erasure tests lay them out, and running a job here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from migrations_app import storage
from migrations_app.models import MigrationItem, NamespaceBackup, NamespaceMigration
from twinadmin.erasure.models import ErasureRequest
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.jobs.leases import resumable_job_run
from twinadmin.jobs.models import Job
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin

# What erasing a.1 must leave alone: neighbours whose ids start with `a.1`, another creator's
# twins whose ids start with `a.1`, a name the codec attributes to no one, and __default__.
NEIGHBOURS = {
    "creator_a.10": 6,
    "creator_a.10_twin_t1": 7,
    "creator_a.1x": 1,
    "creator_b.2_twin_a.1": 2,
    "creator_b.2_twin_a.1-x": 2,
    "creator_a.1_scratch": 1,
    "__default__": 3,
}
# What erasing a.1 must remove: its own namespace, its twins' and an orphan twin namespace.
A1_NAMESPACES = {
    "creator_a.1": 4,
    "creator_a.1_twin_t1": 3,
    "creator_a.1_twin_t2": 2,
    "creator_a.1_twin_orphan-9": 5,
}


def make_creator(creator_id: str, twin_ids: Iterable[str] = ()) -> Creator:
    creator = Creator.objects.create(creator_id=creator_id)
    for twin_id in twin_ids:
        Twin.objects.create(creator=creator, twin_id=twin_id)
    return creator


def run_job(job_id: int, runner: str | None = None) -> Job | None:
    """What the worker task does with a delivery, in this process."""
    return resumable_job_run(job_id=job_id, runner=runner)


def backup_of(tmp_path: Any, run: NamespaceMigration, source: str, *, stuck: bool = False) -> NamespaceBackup:
    """A backup of one of a.1's namespaces on disk; a stuck one is a file the deletion cannot remove."""
    item = MigrationItem.objects.create(run=run, position=run.items.count() + 1, source_namespace=source)
    path = tmp_path / "backups" / source
    path.parent.mkdir(parents=True, exist_ok=True)
    if stuck:
        path.write_text("not a directory")
    else:
        path.mkdir()
        (path / "data.parquet").write_bytes(b"PAR1")
    return NamespaceBackup.objects.create(
        run=run,
        item=item,
        creator_id="a.1",
        source_namespace=source,
        location=storage.location_of(path).url,
        status="available",
        complete=True,
        size_bytes=4,
        checksum="sha256:abc",
    )


def erase_a1_with_backups(
    tmp_path: Any, operator: Any, approver: Any, *, stuck: int | None = None
) -> ErasureRequest:
    """a.1 with six twins, a backup of each twin's namespace (the `stuck`-th one undeletable), erased."""
    for twin_id in ("t3", "t4", "t5", "t6"):
        Twin.objects.create(creator=Creator.objects.get(creator_id="a.1"), twin_id=twin_id)
    run = NamespaceMigration.objects.create(creator_id="a.1", requested_by_name="op")
    for i, twin_id in enumerate(("t1", "t2", "t3", "t4", "t5", "t6")):
        backup_of(tmp_path, run, codec.twin_namespace("a.1", twin_id), stuck=i == stuck)
    erasure = erasure_request_file(creator_id="a.1", actor=operator, reason="DSAR", confirm="a.1")
    erasure_request_approve(erasure=erasure, actor=approver, confirm="a.1", enqueue=False)
    erasure.refresh_from_db()
    run_job(erasure.job_id)
    return erasure
