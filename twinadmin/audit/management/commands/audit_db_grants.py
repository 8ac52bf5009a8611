from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from twinadmin.audit.dbguard import app_role_grants


class Command(BaseCommand):
    help = (
        "Print the PostgreSQL GRANTs for the role the web and worker processes use (run them as the "
        "tables' owner after migrate): DML on every table, only SELECT and INSERT on the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the application's database role (not the tables' owner)")

    def handle(self, *args: Any, **options: Any) -> None:
        tables = sorted(connection.introspection.table_names())
        for statement in app_role_grants(options["role"], tables):
            self.stdout.write(statement + ";")
