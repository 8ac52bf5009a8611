"""Create an API client and print its token, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.api.models import SCOPE_NAMES
from twinadmin.api.services import ApiInputError, api_client_create


class Command(BaseCommand):
    help = "Create an API client with scopes; prints its token once (store it now)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--scope", action="append", required=True, choices=SCOPE_NAMES, dest="scopes")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client, token = api_client_create(
                name=options["name"], scopes=options["scopes"], actor="cli:api_client_create"
            )
        except ApiInputError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(
            f"client {client.name} ({', '.join(client.scopes)}); the token follows, shown once:"
        )
        self.stdout.write(token)
