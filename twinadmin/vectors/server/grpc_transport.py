"""Pinecone's gRPC data plane (`VectorService`, proto/db_data.proto) on grpcio, beside REST.

A call is answered as the REST request it corresponds to (grpc_codec.METHODS): the same API-key
check (the `api-key` metadata the SDK sends), injected faults, outage, rate limits, routes and
request log as REST, through `LocalPineconeServer.serve`. Errors become gRPC status codes as
Pinecone's own error bodies number them (400 INVALID_ARGUMENT, 404 NOT_FOUND, 429
RESOURCE_EXHAUSTED, 503 UNAVAILABLE, ...); a 429 or 503 carries its Retry-After as trailing
metadata, both as `retry-after` and as gRPC's own `grpc-retry-pushback-ms`, which the SDK's
retries honour.

Plaintext only (`add_insecure_port`): this is a loopback test double and single-machine server;
the SDK dials it with `grpc_scheme="http"`."""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import message_factory

from .grpc_codec import METHODS, Method
from .proto import db_data_pb2
from .protocol import GRPC_CODES, check_body_size

if TYPE_CHECKING:
    from .app import Decoded, LocalPineconeServer

logger = logging.getLogger(__package__)
SERVICE = db_data_pb2.DESCRIPTOR.services_by_name["VectorService"]
# Over grpcio's own 4 MB default, so a request over Pinecone's 2 MB gets Pinecone's 400-style
# INVALID_ARGUMENT naming the limit, as over REST, rather than grpcio's bare refusal.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}
_EXTRA_CODES = {408: grpc.StatusCode.DEADLINE_EXCEEDED}
_IN_USE = ": in use? (pinecone_local --grpc-port N serves it on another port, 0 not at all)"


def status_code(http_status: int) -> grpc.StatusCode:
    """The gRPC status of an answer with this HTTP status (UNKNOWN for one Pinecone never uses)."""
    if http_status in _EXTRA_CODES:
        return _EXTRA_CODES[http_status]
    return _STATUS_CODES.get(GRPC_CODES.get(http_status, 2), grpc.StatusCode.UNKNOWN)


def retry_metadata(headers: dict[str, str]) -> tuple[tuple[str, str], ...]:
    retry_after = headers.get("Retry-After")
    if retry_after is None:
        return ()
    millis = max(0, math.ceil(float(retry_after) * 1000))
    return (("retry-after", retry_after), ("grpc-retry-pushback-ms", str(millis)))


class GrpcTransport:
    """grpcio's server for one LocalPineconeServer, bound at construction (so its port is known
    before it starts), serving until `stop()`."""

    def __init__(self, app: LocalPineconeServer, host: str, port: int, *, workers: int = 16) -> None:
        self.app = app
        self._started = False
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pinecone-local-grpc"),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),  # a port in use is an error, not a second listener
            ],
        )
        handlers = {}
        for method in SERVICE.methods:
            request_class = message_factory.GetMessageClass(method.input_type)
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                self._handler(method.name, METHODS[method.name]),
                request_deserializer=request_class.FromString,
                response_serializer=lambda response: response.SerializeToString(),
            )
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.name, handlers),))
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError as exc:  # grpcio's way of saying the address cannot be bound
            raise OSError(f"cannot serve gRPC on {address}{_IN_USE} ({exc})") from exc
        if not self.port:
            raise OSError(f"cannot serve gRPC on {address}{_IN_USE}")

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None).wait(timeout=5)

    def _handler(self, name: str, method: Method) -> Any:
        log_path = f"/{SERVICE.name}/{name}"

        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            metadata = dict(context.invocation_metadata())

            def receive() -> None:
                self.app.check_api_key(metadata.get("api-key"))

            def decode() -> Decoded:
                size = request.ByteSize()
                check_body_size(size)
                query, body = method.decode(request)
                return query, body, size

            path = method.path(request)
            reply = self.app.serve(
                method.http_method, path, receive=receive, decode=decode, transport="grpc", log_path=log_path
            )
            if reply.error is not None:
                context.set_trailing_metadata(retry_metadata(dict(reply.headers)))
                context.abort(status_code(reply.status), reply.error)
            try:
                return method.encode(reply.payload)
            except Exception as exc:  # a bug: INTERNAL with its message, as REST answers 500
                logger.exception("pinecone_local: cannot encode the answer to %s", log_path)
                context.abort(grpc.StatusCode.INTERNAL, f"internal error: {exc}")

        return handle
