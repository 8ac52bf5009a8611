"""What every erasure phase agrees on: the job kinds, the errors a caller can tell apart, and how
an actor (a user, or the `cli:<command>` that stands in for one) is recorded.

It lives apart from the phases so that a twin deletion and a creator erasure record their actor
and refuse bad ids in one and the same way, and so no phase module imports another for them.
"""

from __future__ import annotations

from typing import Any

from twinadmin.jobs.leases import lease_prepare
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_create
from twinadmin.registry import codec

KIND_DELETE_TWIN = "delete_twin"
KIND_ERASE_CREATOR = "erase_creator"
# New namespaces of the creator turning up during verification (written meanwhile) are erased
# and verification runs again, at most this many times per job.
MAX_VERIFY_PASSES = 3


class ErasureError(ValueError):
    """Bad input or a refused step: a clear message, nothing changed."""


class ErasureForbidden(ErasureError):
    """The step is not this person's to take (four eyes)."""


class ErasureIncomplete(RuntimeError):
    """The job ran but could not verify everything gone; the rows say what is left."""


def _actor_parts(actor: Any) -> tuple[Any, str]:
    """(User or None, name as recorded): a User, or a `cli:<command>` string."""
    if isinstance(actor, str):
        return None, actor
    return actor, actor.get_username()


def _job_actor(job: Job) -> Any:
    """Whom a job's audit entries name: the user who started it, or the command."""
    return job.created_by or job.params.get("actor") or None


def _validated(creator_id: str, twin_id: str | None = None) -> None:
    try:
        codec.validate_creator_id(creator_id)
        if twin_id is not None:
            codec.validate_twin_id(twin_id)
    except codec.InvalidId as exc:
        raise ErasureError(str(exc)) from None


def _required(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ErasureError(f"Give a {what}.")
    return text


def _new_job(kind: str, actor: Any) -> Job:
    user, name = _actor_parts(actor)
    job = job_create(kind=kind, params={"actor": name}, user=user, enqueue=False)
    lease_prepare(job)
    return job
