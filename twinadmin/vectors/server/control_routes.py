"""The control-plane subset: `describe_index` and `list_indexes` for the one index this server
serves, so `Pinecone(host=URL).describe_index(NAME)`, `list_indexes()` and `pc.Index(name=…)`
(which looks the host up) work against it, and a deployment learns dimension, metric and vector
type from the index instead of restating them.

The description carries the fields of both API versions in play: the 2026-04 spec's
(`dimension`, `metric`, `vector_type`, `spec`), and the 2026-07 `schema`/`deployment` the SDK
10.x reads its deprecated `dimension`/`metric`/`vector_type` accessors from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFound

if TYPE_CHECKING:
    from .app import LocalPineconeServer

Answer = tuple[int, Any]
DEFAULT_INDEX_NAME = "digital-twin-brain"
_CLOUD, _REGION = "aws", "us-east-1"


def index_model(app: LocalPineconeServer) -> dict[str, Any]:
    store = app.store
    if store.vector_type == "sparse":
        field: dict[str, Any] = {"type": "sparse_vector"}
    else:
        field = {"type": "dense_vector", "dimension": store.dimension, "metric": store.metric}
    model: dict[str, Any] = {
        "name": app.index_name,
        "metric": store.metric,
        "host": app.url,
        "vector_type": store.vector_type,
        "deletion_protection": "disabled",
        "spec": {
            "serverless": {
                "cloud": _CLOUD,
                "region": _REGION,
                "read_capacity": {"mode": "OnDemand", "status": {"state": "Ready"}},
            }
        },
        "status": {"ready": True, "state": "Ready"},
        "schema": {"fields": {store.vector_type + "_values": field}},
        "deployment": {"deployment_type": "managed", "cloud": _CLOUD, "region": _REGION},
    }
    if store.vector_type == "dense":
        model["dimension"] = store.dimension
    return model


def list_indexes(app: LocalPineconeServer, **_: Any) -> Answer:
    return 200, {"indexes": [index_model(app)]}


def describe_index(app: LocalPineconeServer, name: str) -> Answer:
    if name != app.index_name:
        raise NotFound(f"Resource {name} not found")
    return 200, index_model(app)
