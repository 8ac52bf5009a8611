"""A Pinecone-compatible data-plane server over the local store.

It speaks the REST API exactly as the pinecone SDK 10.x (API version 2026-07) sends it: camelCase
vector bodies, snake_case namespace bodies, Pinecone's error JSON (`{"code", "message",
"details"}`) and status codes. Any script written for Pinecone works unchanged when pointed at
`http://127.0.0.1:PORT` with any API key.

Beside REST it serves Pinecone's gRPC data plane (`VectorService`, for the SDK's
`pc.index(host=..., grpc=True)`), plaintext on a port of its own, from the same store and through
the same pipeline: API key, faults, rate limits, routes and request log are one for both.

Fault injection makes it a test double for the hard parts of the real service: a share of
requests answered 429 (with Retry-After) or 503, added latency, stats/namespace counts that lag
writes by N seconds (Pinecone's counts are eventually consistent), and an outage refusing writes
to chosen namespaces for a while. Faults are decided before a request touches the store, so a
failed request never half-applies.

Modules, by concern:

- `app`: LocalPineconeServer (lifecycle, routes, and the one pipeline every request of either
  transport goes through: key, faults, outage, rate limits, route, request log);
- `transport`: HTTP (ThreadingHTTPServer, the request handler, errors answered as Pinecone does);
- `grpc_transport`, `grpc_codec`, `proto/`: gRPC (grpcio; messages to and from the REST shapes;
  the project's wire-compatible db_data.proto and its generated modules);
- `rate_limits`: Pinecone's serverless rate limits as token buckets (`--rate-limits`);
- `protocol`: the wire format (error bodies, request bodies, field checks);
- `vector_routes`, `namespace_routes`: the endpoints;
- `faults`: FaultConfig and its injection; `counts`: lagging counts; `request_log`: the log.
"""

from .app import LocalPineconeServer
from .counts import LaggedCounts
from .faults import WRITE_OPERATIONS, FaultConfig
from .protocol import API_VERSION, ApiError

__all__ = [
    "API_VERSION",
    "WRITE_OPERATIONS",
    "ApiError",
    "FaultConfig",
    "LaggedCounts",
    "LocalPineconeServer",
]
