"""Print the index's vector counts, each namespace classified by the namespace codec."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.vectors import VectorError, get_index


class Command(BaseCommand):
    help = "Total and per-namespace vector counts, each namespace classified (creator-wide, twin, ...)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        # Imported here: the codec belongs to the registry app and the vector layer must not
        # depend on it at import time.
        from twinadmin.registry.codec import parse_namespace

        try:
            stats = get_index().describe_index_stats()
        except VectorError as exc:
            raise CommandError(str(exc)) from exc
        rows = {
            name: {"vector_count": count, "class": str(parse_namespace(name).kind.value)}
            for name, count in sorted(stats.namespaces.items())
        }
        if options["json"]:
            payload = {
                "dimension": stats.dimension,
                "total_vector_count": stats.total_vector_count,
                "namespaces": rows,
            }
            self.stdout.write(json.dumps(payload, sort_keys=False))
            return
        self.stdout.write(
            f"{stats.total_vector_count} vectors in {len(rows)} namespaces "
            f"(dimension {stats.dimension}, metric {stats.metric})"
        )
        width = max((len(name) for name in rows), default=9)
        for name, row in rows.items():
            self.stdout.write(f"  {name:<{width}}  {row['vector_count']:>8}  {row['class']}")
