"""Creator a.1 and its neighbours, as the erasure tests lay them out, and running a job here."""

from __future__ import annotations

from collections.abc import Iterable

from twinadmin.jobs.leases import resumable_job_run
from twinadmin.jobs.models import Job
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
