import json
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from twinadmin.erasure.services import ErasureError, creator_remnants


class Command(BaseCommand):
    help = (
        "Check that nothing of a creator remains: no namespace of the index parses to them with data "
        "in it, none of the ids copied from a legacy namespace or __default__ is still there, no "
        "backup of their data is left. Exit 0 only then."
    )

    def add_arguments(self, parser):
        parser.add_argument("creator_id")
        parser.add_argument("--json", action="store_true", help="list any namespace that still holds data")
        parser.add_argument(
            "--wait", type=float, default=0, help="seconds to keep checking (counts lag deletes)"
        )

    def handle(self, *args, creator_id, json=False, wait=0, **options):
        deadline = time.monotonic() + wait
        while True:
            try:
                report = creator_remnants(creator_id=creator_id)
            except ErasureError as exc:
                raise CommandError(str(exc)) from None
            if report["clean"] or time.monotonic() >= deadline:
                break
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        if json:
            self.stdout.write(_dumps(report))
        elif report["clean"]:
            self.stdout.write(f"clean: nothing of {creator_id} remains")
        else:
            for ns in report["namespaces"]:
                self.stdout.write(f"remains: {ns['namespace']} ({ns['vector_count']} vectors counted)")
            for source in report["lineage_sources"]:
                self.stdout.write(
                    f"remains: {source['copied_ids_present']} copied vectors in {source['namespace']}"
                )
            for backup in report["backups_remaining"]:
                self.stdout.write(f"backup not deleted: {backup}")
        if not report["clean"]:
            sys.exit(1)


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)
