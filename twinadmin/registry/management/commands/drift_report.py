import json

from django.core.management.base import BaseCommand, CommandError

from twinadmin.registry.drift import drift_report_run


class Command(BaseCommand):
    help = (
        "Compare the registry with the index: orphans, missing namespaces, stale counts, legacy "
        "namespaces, erased creators with data. Exits non-zero when an erased creator still has data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--no-refresh", action="store_true", help="use the stored snapshot as it is")

    def handle(self, *args, **options):
        report = drift_report_run(refresh=not options["no_refresh"])
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), sort_keys=True, default=str))
        else:
            self.stdout.write(f"index observed at {report.observed_at}")
            for kind, n in report.counts.items():
                self.stdout.write(f"{kind:<26} {n}")
            for row in report.erased_with_data:
                self.stdout.write(f"ERASED CREATOR HAS DATA: {row['name']} ({row['vector_count']} vectors)")
            self.stdout.write("clean" if report.is_clean else "drift found")
        if report.has_erasure_breach:
            raise CommandError(
                f"{len(report.erased_with_data)} namespace(s) of erased creators still hold data"
            )
