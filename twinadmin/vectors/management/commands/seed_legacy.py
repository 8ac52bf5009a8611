"""Recreate the seed's legacy index (bare-UUID namespaces plus __default__) through get_index()."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.vectors import VectorError, get_index
from twinadmin.vectors.seed import generate_legacy_seed, legacy_index_seed


class Command(BaseCommand):
    help = "Fill the vector index with the seed's legacy layout: deterministic for a given --seed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespaces", type=int, default=30, help="including __default__")
        parser.add_argument("--vectors", type=int, default=805, help="in all namespaces together")
        parser.add_argument("--default-vectors", type=int, default=376)
        parser.add_argument("--dimension", type=int, default=None, help="default VECTOR_DIMENSION (1536)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the index holds vectors")
        parser.add_argument("--json", action="store_true", help="print a JSON summary")

    def handle(self, *args: Any, **options: Any) -> None:
        dimension = options["dimension"] or settings.VECTOR_DIMENSION
        try:
            index = get_index()
            stats = index.describe_index_stats()
            if stats.dimension != dimension:
                raise CommandError(
                    f"--dimension {dimension} does not match the index's dimension {stats.dimension}; "
                    f"pass --dimension {stats.dimension} or point the settings at another index"
                )
            if options["if_empty"] and stats.total_vector_count > 0:
                self._report(
                    options, seeded=False, total=stats.total_vector_count, namespaces=stats.namespaces
                )
                return
            seed_data = generate_legacy_seed(
                namespaces=options["namespaces"],
                vectors=options["vectors"],
                default_vectors=options["default_vectors"],
                dimension=dimension,
                seed=options["seed"],
            )
            written = legacy_index_seed(index=index, seed_data=seed_data)
        except (ValueError, VectorError) as exc:
            raise CommandError(str(exc)) from exc
        self._report(options, seeded=True, total=sum(written.values()), namespaces=written)

    def _report(
        self, options: dict[str, Any], *, seeded: bool, total: int, namespaces: dict[str, int]
    ) -> None:
        if options["json"]:
            payload = {"seeded": seeded, "total_vector_count": total, "namespaces": namespaces}
            self.stdout.write(json.dumps(payload, sort_keys=True))
        elif seeded:
            self.stdout.write(
                f"Seeded {total} vectors in {len(namespaces)} namespaces (seed {options['seed']})."
            )
        else:
            self.stdout.write(f"Index already holds {total} vectors; nothing seeded (--if-empty).")
