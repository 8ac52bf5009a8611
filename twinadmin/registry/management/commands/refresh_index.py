import json

from django.core.management.base import BaseCommand, CommandError

from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_create, job_execute


class Command(BaseCommand):
    help = "Read the vector index's namespaces and counts into the registry's snapshot."

    def add_arguments(self, parser):
        parser.add_argument("--async", dest="run_async", action="store_true", help="hand it to the workers")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, run_async: bool = False, json: bool = False, **options):
        job = job_create(kind="refresh_index", enqueue=run_async)
        if not run_async:
            job = job_execute(job_id=job.pk)
        out = {"job": job.pk, "status": job.status, **job.result}
        self.stdout.write(_dumps(out) if json else " ".join(f"{k}={v}" for k, v in out.items()))
        if job.status == Job.Status.FAILED:
            raise CommandError(job.error.splitlines()[0] if job.error else "refresh failed")


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)
