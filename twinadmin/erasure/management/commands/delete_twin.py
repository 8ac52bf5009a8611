import json

from django.core.management.base import BaseCommand, CommandError

from twinadmin.erasure.models import TwinDeletion
from twinadmin.erasure.services import ErasureError, TwinAlreadyDeleted, twin_deletion_request
from twinadmin.jobs.leases import job_enqueue, resumable_job_run

ACTOR = "cli:delete_twin"


class Command(BaseCommand):
    help = (
        "Delete one twin's namespace, verify it gone and mark the twin deleted (audited as cli:delete_twin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("creator_id")
        parser.add_argument("twin_id")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--async", dest="run_async", action="store_true", help="hand it to the workers")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, creator_id, twin_id, reason, run_async=False, json=False, **options):
        try:
            deletion = twin_deletion_request(
                creator_id=creator_id,
                twin_id=twin_id,
                reason=reason,
                confirm=twin_id,
                actor=ACTOR,
                enqueue=False,
            )
        except TwinAlreadyDeleted as exc:
            if exc.deletion is None:
                raise CommandError(str(exc)) from None
            deletion = exc.deletion  # idempotent: report the deletion that holds, file nothing
        except ErasureError as exc:
            raise CommandError(str(exc)) from None
        assert deletion.job is not None  # a request or deletion always has its job here
        if run_async:
            job_enqueue(deletion.job)
        else:
            resumable_job_run(job_id=deletion.job.pk, runner=ACTOR)
        deletion.refresh_from_db()
        out = {
            "deletion": deletion.pk,
            "job": deletion.job_id,
            "namespace": deletion.namespace,
            "status": deletion.status,
            "vectors_before": deletion.count_before,
            "delete": deletion.delete_outcome,
            "vectors_after": deletion.count_after,
            "verified": deletion.status == TwinDeletion.Status.VERIFIED,
        }
        self.stdout.write(_dumps(out) if json else " ".join(f"{k}={v}" for k, v in out.items()))
        if not run_async and deletion.status != TwinDeletion.Status.VERIFIED:
            raise CommandError(deletion.error or f"deletion #{deletion.pk} is {deletion.status}")


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)
