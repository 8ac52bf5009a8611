"""An independent reader of the index, and the erasure flow as two people walk it."""

from __future__ import annotations

import json

from django.core.management import call_command

from migrations_app.checksums import vector_digest
from tests.support.seed import CREATOR
from twinadmin.erasure.models import ErasureRequest
from twinadmin.erasure.scope import erasure_scope_read
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file
from twinadmin.jobs.leases import resumable_job_run
from twinadmin.vectors import Vector, VectorIndex


def everything(index: VectorIndex) -> dict[str, dict[str, Vector]]:
    """Every vector of every namespace, read by listing ids and fetching them (no counts)."""
    out: dict[str, dict[str, Vector]] = {}
    for info in index.iter_namespaces():
        vectors: dict[str, Vector] = {}
        for ids in index.iter_id_pages(info.name):
            vectors.update(index.fetch(info.name, ids))
        if vectors:
            out[info.name] = vectors
    return out


def survivors(index: VectorIndex, originals: list[Vector]) -> list[tuple[str, str]]:
    """(namespace, id) of every stored vector equal to one of `originals`, wherever it is."""
    wanted = {vector_digest(v) for v in originals}
    found = []
    for name, vectors in everything(index).items():
        for vector_id, vector in vectors.items():
            if vector_digest(vector) in wanted:
                found.append((name, vector_id))
    return sorted(found)


def map_creator(capsys, *args: str, creator_id: str = CREATOR) -> dict:
    capsys.readouterr()  # what earlier commands printed
    call_command("map_to_test_creator", creator_id, "--json", *args)
    return json.loads(capsys.readouterr().out)


def erase(operator, approver, creator_id: str = CREATOR, *, before_run=None) -> ErasureRequest:
    """File as an operator, approve what the page shows as an approver, run the job here
    (`before_run()` first: faults that hit the job, not the approval)."""
    erasure = erasure_request_file(creator_id=creator_id, reason="DSAR", confirm=creator_id, actor=operator)
    digest = erasure_scope_read(creator_id=creator_id).digest
    erasure_request_approve(
        erasure=erasure, actor=approver, confirm=creator_id, scope_digest=digest, enqueue=False
    )
    erasure.refresh_from_db()
    if before_run is not None:
        before_run()
    resumable_job_run(job_id=erasure.job_id)
    erasure.refresh_from_db()
    return erasure
