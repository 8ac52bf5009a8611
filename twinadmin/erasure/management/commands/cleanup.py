import json

from django.core.management.base import BaseCommand, CommandError

from twinadmin.erasure.cleanup import CleanupError, index_cleanup


class Command(BaseCommand):
    help = (
        "Delete EVERY namespace in the configured index and every registry row (creators, twins, "
        "index snapshot). Audited. Refuses unless given both --all and --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", dest="everything", action="store_true", help="really everything")
        parser.add_argument("--yes", action="store_true", help="no question asked")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, everything=False, yes=False, json=False, **options):
        if not (everything and yes):
            raise CommandError(
                "cleanup deletes every namespace in the index and every registry row; "
                "pass both --all and --yes to do it."
            )
        try:
            result = index_cleanup(actor="cli:cleanup")
        except CleanupError as exc:
            raise CommandError(str(exc)) from None
        if json:
            self.stdout.write(_dumps(result))
        else:
            self.stdout.write(
                f"deleted {result['namespaces_deleted']} namespaces "
                f"({result['before']['vectors']} vectors), "
                f"{result['registry_rows_deleted']['creators']} creators, "
                f"{result['registry_rows_deleted']['twins']} twins; verified empty: {result['verified']}"
            )
        if not result["verified"]:
            raise CommandError(f"the index is not verified empty: {result['after']} {result['failed']}")


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)
