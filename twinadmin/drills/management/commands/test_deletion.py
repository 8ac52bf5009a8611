import json

from django.core.management.base import BaseCommand, CommandError

from twinadmin.drills.services import DRILL_COMMAND, DrillError, erasure_drill_run


class Command(BaseCommand):
    help = (
        "Erasure drill: create a scratch creator with two twins and vectors, delete one twin, verify, "
        "erase the creator, verify, clean up; report each step. Exit 0 only when the drill passed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--creator", default=None, help="scratch creator id (must not exist)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, creator=None, json=False, **options):
        try:
            run = erasure_drill_run(actor=f"cli:{DRILL_COMMAND}", creator_id=creator)
        except DrillError as exc:
            raise CommandError(str(exc)) from None
        out = {
            "run": run.pk,
            "job": run.job_id,
            "creator_id": run.creator_id,
            "status": run.status,
            "passed": run.passed,
            "seconds": run.seconds,
            "steps": run.steps,
            "error": run.error,
        }
        if json:
            self.stdout.write(_dumps(out))
        else:
            for step in run.steps:
                mark = "ok  " if step["ok"] else "FAIL"
                self.stdout.write(f"{mark} {step['name']:<15} {step['seconds']:.3f}s {step['detail']}")
            self.stdout.write(f"drill #{run.pk} {run.creator_id}: {run.status}")
        if not run.passed:
            raise CommandError(run.error or f"drill #{run.pk} {run.status}")


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)
