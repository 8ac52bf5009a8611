import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.audit.services import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Walk the audit chain in seq order, recomputing every hash. Exits 0 when intact; "
        "otherwise non-zero, naming the first broken entry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")

    def handle(self, *args: object, **options: object) -> None:
        report = audit_chain_verify()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.ok:
            self.stdout.write(
                f"audit chain intact: {report.entries} entries, head {report.head_hash} "
                f"({report.seconds:.1f} s)"
            )
        if not report.ok:
            broken = report.first_broken
            assert broken is not None  # not ok: some entry broke the chain
            raise CommandError(
                f"audit chain broken at seq {broken.seq}: {broken.reason}"
                + (f" ({broken.detail})" if broken.detail else "")
                + f"; {report.entries} entries verified before it"
            )
