"""Serve the local vector store over Pinecone's data-plane REST API (see vectors/server/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.vectors.errors import VectorError
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.server import WRITE_OPERATIONS, FaultConfig, LocalPineconeServer


class Command(BaseCommand):
    help = (
        "Serve the local vector store as a Pinecone index on http://HOST:PORT, for the pinecone SDK "
        "(any API key). Fault flags make it misbehave like the real service under load."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=5081)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--path", type=Path, default=None, help="store file (default VECTOR_LOCAL_PATH)")
        parser.add_argument("--dimension", type=int, default=None, help="default VECTOR_DIMENSION")
        parser.add_argument("--metric", choices=["cosine", "dotproduct", "euclidean"], default=None)
        parser.add_argument("--fail-429", type=float, default=0.0, help="share of requests answered 429")
        parser.add_argument("--fail-503", type=float, default=0.0, help="share of requests answered 503")
        parser.add_argument("--retry-after", type=float, default=1.0, help="seconds sent in Retry-After")
        parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
        parser.add_argument(
            "--count-lag-seconds", type=float, default=0.0, help="stats/namespace counts lag writes by this"
        )
        parser.add_argument("--seed", type=int, default=None, help="seed for the fault RNG")
        parser.add_argument(
            "--outage-namespace",
            action="append",
            default=[],
            metavar="NAMESPACE",
            help="answer writes to this namespace 503 (repeatable)",
        )
        parser.add_argument(
            "--outage-operations",
            default=",".join(sorted(WRITE_OPERATIONS)),
            help="which writes the outage refuses, comma-separated (default: all of them)",
        )
        parser.add_argument(
            "--outage-seconds",
            type=float,
            default=0.0,
            help="the outage ends this long after its first refused write (0: never)",
        )
        parser.add_argument("--request-log", type=Path, default=None, help="append one JSON line per request")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"] or Path(settings.VECTOR_LOCAL_PATH)
        try:
            faults = FaultConfig(
                fail_429=options["fail_429"],
                fail_503=options["fail_503"],
                latency_ms=options["latency_ms"],
                count_lag_seconds=options["count_lag_seconds"],
                retry_after=options["retry_after"],
                seed=options["seed"],
                outage_namespaces=frozenset(options["outage_namespace"]),
                outage_operations=frozenset(op.strip() for op in options["outage_operations"].split(",")),
                outage_seconds=options["outage_seconds"],
            )
            store = LocalStore(
                path,
                dimension=options["dimension"] or settings.VECTOR_DIMENSION,
                metric=options["metric"] or settings.VECTOR_METRIC,
            )
            server = LocalPineconeServer(
                store,
                host=options["host"],
                port=options["port"],
                faults=faults,
                request_log=options["request_log"],
            )
        except (ValueError, OSError, VectorError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"pinecone_local: serving {path} (dimension {store.dimension}, metric {store.metric}) "
            f"at {server.url}; Ctrl-C stops"
        )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
