"""The index and namespace endpoints: stats, namespace listing, description and deletion. Counts
come from the server's lagging view (eventually consistent, as on Pinecone)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import InvalidRequest, NotFound
from .protocol import int_param, last_param, require_fields

if TYPE_CHECKING:
    from .app import LocalPineconeServer

Answer = tuple[int, Any]


def _counts(app: LocalPineconeServer) -> dict[str, int]:
    return app.counts.view(app.faults.count_lag_seconds)


def stats(app: LocalPineconeServer, *, body: dict[str, Any], **_: Any) -> Answer:
    require_fields(body, {"filter"}, "describe_index_stats")
    if body.get("filter"):
        raise InvalidRequest("describe_index_stats does not support a metadata filter on this index")
    counts = {name: count for name, count in _counts(app).items() if count > 0}
    payload: dict[str, Any] = {
        "namespaces": {name: {"vectorCount": count} for name, count in sorted(counts.items())},
        "indexFullness": 0.0,
        "totalVectorCount": sum(counts.values()),
        "metric": app.store.metric,
        "vectorType": app.store.vector_type,
    }
    if app.store.vector_type == "dense":  # a sparse index has no dimension
        payload["dimension"] = app.store.dimension
    return 200, payload


def list_namespaces(app: LocalPineconeServer, *, query: dict[str, list[str]], **_: Any) -> Answer:
    require_fields(query, {"prefix", "limit", "paginationToken"}, "list_namespaces")
    counts = _counts(app)
    limit = int_param(last_param(query, "limit"), "limit")
    page, token = limits.page_namespaces(
        counts,
        prefix=last_param(query, "prefix"),
        limit=100 if limit is None else limit,
        pagination_token=last_param(query, "paginationToken"),
    )
    payload: dict[str, Any] = {
        "namespaces": [{"name": name, "record_count": count} for name, count in page],
        "total_count": len(counts),
    }
    if token:
        payload["pagination"] = {"next": token}
    return 200, payload


def describe_namespace(app: LocalPineconeServer, name: str) -> Answer:
    name = limits.normalize_namespace(name)
    info = limits.namespace_info(name, _counts(app).get(name))
    return 200, {"name": info.name, "record_count": info.vector_count}


def create_namespace(app: LocalPineconeServer, *, body: dict[str, Any], **_: Any) -> Answer:
    """POST /namespaces: the namespace exists from now on, empty (409 when it exists)."""
    require_fields(body, {"name", "schema"}, "create_namespace")
    name, schema = body.get("name"), body.get("schema")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("create_namespace: name must be a non-empty string")
    if schema is not None and not (isinstance(schema, dict) and isinstance(schema.get("fields"), dict)):
        raise InvalidRequest("create_namespace: schema must be an object with fields")
    info = app.store.create_namespace(name, schema)
    app.counts.record(app.faults.count_lag_seconds)
    payload: dict[str, Any] = {"name": info.name, "record_count": 0}
    if schema is not None:
        payload["schema"] = schema
    return 200, payload


def delete_namespace(app: LocalPineconeServer, name: str) -> Answer:
    # 404 for an absent (or, for the default namespace, empty) one: "deleted something"
    # and "nothing to delete" must stay distinguishable to callers, as on Pinecone.
    name = limits.normalize_namespace(name)
    if not app.store.delete_namespace(name):
        raise NotFound(f"Namespace {name!r} not found")
    app.counts.record(app.faults.count_lag_seconds)
    return 200, {}  # the 2026-04 spec documents 200 (with an empty DeleteResponse), not 202
