import json

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from twinadmin.erasure.models import ErasureNamespace, ErasureRequest
from twinadmin.erasure.selectors import erasure_status_counts
from twinadmin.erasure.services import ErasureError, erasure_from_shell
from twinadmin.jobs.leases import job_enqueue, resumable_job_run

ACTOR = "cli:delete_creator"


class Command(BaseCommand):
    help = (
        "Erase a creator (GDPR): every namespace of theirs, their migration backups; verify and "
        "mark them erased. Shell access counts as approval; audited as cli:delete_creator. Carries "
        "on with the creator's open request when there is one."
    )

    def add_arguments(self, parser):
        parser.add_argument("creator_id")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--ticket", default="", help="external ticket reference")
        parser.add_argument("--async", dest="run_async", action="store_true", help="hand it to the workers")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, creator_id, reason, ticket, run_async=False, json=False, **options):
        try:
            erasure = erasure_from_shell(creator_id=creator_id, reason=reason, ticket_reference=ticket)
        except ErasureError as exc:
            raise CommandError(str(exc)) from None
        assert erasure.job is not None  # a request or deletion always has its job here
        if run_async:
            job_enqueue(erasure.job)
        else:
            resumable_job_run(job_id=erasure.job.pk, runner=ACTOR)
        erasure.refresh_from_db()
        counts = erasure_status_counts(erasure)
        out = {
            "request": erasure.pk,
            "job": erasure.job_id,
            "creator_id": erasure.creator_id,
            "status": erasure.status,
            "namespaces": counts["total"],
            "deleted": counts.get("deleted", 0),
            "not_found": counts.get("not_found", 0),
            "failed": counts.get("failed", 0),
            # Of the namespaces: legacy sources and __default__, where copies of theirs were.
            "lineage_sources": erasure.namespaces.filter(kind__in=ErasureNamespace.LINEAGE_KINDS).count(),
            "verified": erasure.status == ErasureRequest.Status.COMPLETED,
            "receipt": reverse("erasure-download-receipt", args=[erasure.pk]),
        }
        self.stdout.write(_dumps(out) if json else " ".join(f"{k}={v}" for k, v in out.items()))
        if not run_async and erasure.status != ErasureRequest.Status.COMPLETED:
            raise CommandError(
                erasure.last_error or f"request #{erasure.pk} is {erasure.status} (job {erasure.job_id})"
            )


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)
