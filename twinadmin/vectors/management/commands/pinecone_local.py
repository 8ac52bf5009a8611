"""Serve the local vector store over Pinecone's data-plane REST and gRPC APIs (see vectors/server/)."""

from __future__ import annotations

import ipaddress
import signal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.vectors.errors import VectorError
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.server import WRITE_OPERATIONS, FaultConfig, LocalPineconeServer
from twinadmin.vectors.server.control_routes import DEFAULT_INDEX_NAME
from twinadmin.vectors.server.rate_limits import PRESETS, RateLimits


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _grpc_port(port: int, grpc_port: int | None) -> int | None:
    """The server's gRPC port option: by default the REST port + 1 (a free port when REST takes
    a free one); 0 on the command line turns gRPC off."""
    if grpc_port is None:
        return port + 1 if port else 0
    return grpc_port or None


class Command(BaseCommand):
    help = (
        "Serve the local vector store as a Pinecone index on http://HOST:PORT (REST) and, for the "
        "SDK's gRPC client, on HOST:GRPC_PORT (plaintext), for the pinecone SDK (any API key). Fault "
        "flags make it misbehave like the real service under load; --rate-limits holds it to "
        "Pinecone's rate limits."
    )
    # A stand-in for Pinecone: it touches neither the database nor the backups, so it starts
    # where their checks would fail (no backup key-encryption key on a machine that only serves).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=5081)
        parser.add_argument(
            "--grpc-port",
            type=int,
            default=None,
            help="serve Pinecone's gRPC data plane (plaintext) on this port; default the REST port + 1 "
            "(a free port with --port 0); 0 turns gRPC off. Clients: "
            'Pinecone(api_key=..., grpc_scheme="http").index(host="http://HOST:GRPC_PORT", grpc=True)',
        )
        parser.add_argument(
            "--rate-limits",
            default=None,
            metavar="PRESET|FILE",
            help=f"enforce rate limits: {', '.join(PRESETS)} (Pinecone serverless: query/upsert/delete/"
            "update 100 req/s per namespace, fetch 100 and list 200 req/s per index, "
            "describe_index_stats 100 req/s, upsert 50 MB/s per namespace), or a JSON/TOML file of "
            "the same keys with other numbers; over a limit: 429 with Retry-After (gRPC: "
            "RESOURCE_EXHAUSTED). Default: none",
        )
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
        parser.add_argument(
            "--index-name", default=DEFAULT_INDEX_NAME, help="the index describe_index/list_indexes report"
        )
        parser.add_argument(
            "--vector-type", choices=["dense", "sparse"], default=None, help="for a new store (default dense)"
        )
        parser.add_argument(
            "--api-key", default=None, help="accept only this API key (default: any non-empty key)"
        )

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
            rate_limits = RateLimits.load(options["rate_limits"]) if options["rate_limits"] else None
            sparse = options["vector_type"] == "sparse"
            store = LocalStore(
                path,
                dimension=None if sparse else options["dimension"] or settings.VECTOR_DIMENSION,
                metric=options["metric"] or (None if sparse else settings.VECTOR_METRIC),
                vector_type=options["vector_type"],
            )
            server = LocalPineconeServer(
                store,
                host=options["host"],
                port=options["port"],
                faults=faults,
                request_log=options["request_log"],
                index_name=options["index_name"],
                api_key=options["api_key"],
                grpc_port=_grpc_port(options["port"], options["grpc_port"]),
                rate_limits=rate_limits,
            )
        except (ValueError, OSError, VectorError) as exc:
            raise CommandError(str(exc)) from exc
        if not _is_loopback(options["host"]):
            self.stderr.write(
                f"pinecone_local: WARNING: listening on {options['host']}, not loopback: anyone who "
                "reaches this address can read and change the store"
                + ("" if options["api_key"] else " (with any API key; pass --api-key to require one)")
            )
        # Ctrl-C, and the SIGTERM a process manager sends, stop it, even where SIGINT was ignored
        # at start (a background job of a shell without job control inherits that); installed
        # before the line that says it serves, which is what a caller waits for.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupt)
        try:
            self.stdout.write(
                f"pinecone_local: serving {path} as {options['index_name']} ({store.vector_type}, "
                f"dimension {store.dimension}, metric {store.metric}) "
                f"at {server.url}; "
                + (f"gRPC at {server.grpc_url}; " if server.grpc_url else "")
                + (f"rate limits {options['rate_limits']}; " if rate_limits else "")
                + "Ctrl-C stops"
            )
            self.stdout.flush()
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
