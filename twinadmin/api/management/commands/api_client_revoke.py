"""Revoke an API client's token."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.api.services import ApiInputError, api_client_revoke


class Command(BaseCommand):
    help = "Revoke an API client's token (its calls answer 401 from now on)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client = api_client_revoke(name=options["name"], actor="cli:api_client_revoke")
        except ApiInputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"client {client.name} revoked at {client.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
