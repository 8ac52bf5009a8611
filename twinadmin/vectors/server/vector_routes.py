"""The vector endpoints: upsert, fetch (by ids and by metadata), query, delete, update, list.

Each takes the server (its store, lagging counts and faults) and the parsed request, and returns
(status, JSON payload); errors are raised as the vector layer's exceptions or ApiError. Every
write records a count snapshot, so lagging counts see it `count_lag_seconds` later."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import InvalidRequest, NotFound
from ..types import Vector
from .protocol import (
    bool_field,
    float32_values,
    int_param,
    last_param,
    namespace_from,
    require_fields,
    sparse_json,
    vector_json,
)

if TYPE_CHECKING:
    from .app import LocalPineconeServer

Query = dict[str, list[str]]
Body = dict[str, Any]
Answer = tuple[int, Any]


def _wrote(app: LocalPineconeServer) -> None:
    app.counts.record(app.faults.count_lag_seconds)


def upsert(app: LocalPineconeServer, *, body: Body, body_bytes: int, **_: Any) -> Answer:
    require_fields(body, {"vectors", "namespace"}, "upsert")
    raw_vectors = body.get("vectors")
    if not isinstance(raw_vectors, list):
        raise InvalidRequest("upsert: vectors must be an array")
    vectors = []
    for raw in raw_vectors:
        if not isinstance(raw, dict):
            raise InvalidRequest("upsert: each vector must be an object")
        require_fields(raw, {"id", "values", "metadata", "sparseValues"}, "vector")
        sparse = raw.get("sparseValues")
        values = float32_values(raw.get("values", []), "values")
        if values.size == 0 and sparse is None:
            raise InvalidRequest("Vector must have at least one of non-empty dense values or sparse values")
        limits.validate_id(raw.get("id"))
        sparse_values = limits.sparse_values(sparse) if sparse is not None else None
        vectors.append(Vector(raw["id"], values, raw.get("metadata"), sparse_values))
    count = app.store.upsert_request(namespace_from(body, None), vectors, request_bytes=body_bytes)
    _wrote(app)
    return 200, {"upsertedCount": count}


def fetch(app: LocalPineconeServer, *, query: Query, **_: Any) -> Answer:
    require_fields(query, {"ids", "namespace"}, "fetch")
    namespace = namespace_from(None, query)
    found = app.store.fetch_request(namespace, query.get("ids", []))
    return 200, {
        "vectors": {vector_id: vector_json(v) for vector_id, v in found.items()},
        "namespace": namespace,
        "usage": {"readUnits": max(1, len(found) // 10)},
    }


def fetch_by_metadata(app: LocalPineconeServer, *, body: Body, **_: Any) -> Answer:
    require_fields(body, {"filter", "namespace", "limit", "paginationToken"}, "fetch_by_metadata")
    namespace = namespace_from(body, None)
    found, token = app.store.fetch_by_metadata(
        namespace,
        body.get("filter") or {},
        limit=body.get("limit", 100),
        pagination_token=body.get("paginationToken"),
    )
    payload: dict[str, Any] = {
        "vectors": {vector_id: vector_json(v) for vector_id, v in found.items()},
        "namespace": namespace,
        "usage": {"readUnits": 1},
    }
    if token:
        payload["pagination"] = {"next": token}
    return 200, payload


def query(app: LocalPineconeServer, *, body: Body, **_: Any) -> Answer:
    allowed = {"topK", "includeValues", "includeMetadata", "namespace", "vector", "id", "filter"}
    require_fields(body, allowed | {"sparseVector", "scanFactor", "maxCandidates"}, "query")
    if body.get("scanFactor") is not None or body.get("maxCandidates") is not None:
        raise InvalidRequest("scanFactor and maxCandidates need dedicated read nodes")
    top_k = body.get("topK")
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise InvalidRequest("topK must be an integer")
    vector = body.get("vector")
    vector_id = body.get("id")
    if vector is not None and vector_id is not None:
        raise InvalidRequest("Cannot provide both 'ID' and 'vector' at the same time")
    if vector is not None:
        vector = float32_values(vector, "vector")
        if vector.size == 0:  # an empty dense part beside a sparse one (sparse-only index)
            vector = None
    sparse_vector = body.get("sparseVector")
    if sparse_vector is not None:
        sparse_vector = limits.sparse_values(sparse_vector, "sparseVector")
    filter_ = body.get("filter")
    if filter_ is not None and not isinstance(filter_, dict):
        raise InvalidRequest("filter must be an object")
    include_values = bool_field(body, "includeValues")
    include_metadata = bool_field(body, "includeMetadata")
    namespace = namespace_from(body, None)
    matches = app.store.query(
        namespace,
        vector=vector,
        id=vector_id,
        top_k=top_k,
        filter=filter_,
        include_values=include_values,
        include_metadata=include_metadata,
        sparse_vector=sparse_vector,
    )
    out = []
    for match in matches:
        item: dict[str, Any] = {"id": match.id, "score": match.score}
        if include_values:
            item["values"] = match.values
            if match.sparse_values is not None:
                item["sparseValues"] = sparse_json(match.sparse_values)
        if include_metadata and match.metadata is not None:
            item["metadata"] = match.metadata
        out.append(item)
    return 200, {"matches": out, "namespace": namespace, "usage": {"readUnits": 5}}


def delete(app: LocalPineconeServer, *, body: Body, **_: Any) -> Answer:
    require_fields(body, {"ids", "deleteAll", "filter", "namespace"}, "delete")
    namespace = namespace_from(body, None)
    ids, delete_all, filter_ = body.get("ids"), bool_field(body, "deleteAll"), body.get("filter")
    if sum([ids is not None, delete_all, filter_ is not None]) != 1:
        raise InvalidRequest("delete needs exactly one of ids, deleteAll or filter")
    if ids is not None and not isinstance(ids, list):
        raise InvalidRequest("ids must be an array of strings")
    if filter_ is not None and not isinstance(filter_, dict):
        raise InvalidRequest("filter must be an object")
    if not app.store.namespace_exists(namespace):
        # Serverless Pinecone: any delete in a namespace that does not exist is a 404.
        raise NotFound(f"Namespace {limits.normalize_namespace(namespace)!r} not found")
    if ids is not None:
        app.store.delete_request(namespace, ids)
    elif delete_all:
        app.store.delete_all(namespace)
    else:
        app.store.delete_by_filter(namespace, filter_ or {})
    _wrote(app)
    return 200, {}


def update(app: LocalPineconeServer, *, body: Body, **_: Any) -> Answer:
    require_fields(
        body, {"id", "values", "setMetadata", "namespace", "filter", "dryRun", "sparseValues"}, "update"
    )
    set_metadata = body.get("setMetadata")
    if set_metadata is not None and not isinstance(set_metadata, dict):
        raise InvalidRequest("setMetadata must be an object")
    values, sparse, filter_ = body.get("values"), body.get("sparseValues"), body.get("filter")
    dry_run = bool_field(body, "dryRun")
    namespace = namespace_from(body, None)
    if (body.get("id") is None) == (filter_ is None):
        raise InvalidRequest("update needs exactly one of id or filter")
    if filter_ is not None:
        # By filter: metadata only, across every matching record; dryRun only counts them.
        if not isinstance(filter_, dict) or not filter_:
            raise InvalidRequest("filter must be a non-empty object")
        if values is not None or sparse is not None:
            raise InvalidRequest("an update by filter sets metadata only, not values or sparseValues")
        if set_metadata is None:
            raise InvalidRequest("an update by filter needs setMetadata")
        matched = app.store.update_by_filter(namespace, filter_, set_metadata, dry_run=dry_run)
        if not dry_run:
            _wrote(app)
        return 200, {"matchedRecords": matched}
    app.store.update(
        namespace,
        limits.validate_id(body.get("id")),
        values=float32_values(values, "values") if values is not None else None,
        set_metadata=set_metadata,
        sparse_values=limits.sparse_values(sparse, "sparseValues") if sparse is not None else None,
    )
    _wrote(app)
    return 200, {}


def list_vectors(app: LocalPineconeServer, *, query: Query, **_: Any) -> Answer:
    require_fields(query, {"namespace", "prefix", "limit", "paginationToken"}, "list")
    namespace = namespace_from(None, query)
    limit = int_param(last_param(query, "limit"), "limit")
    page = app.store.list_ids(
        namespace,
        prefix=last_param(query, "prefix"),
        limit=100 if limit is None else limit,
        pagination_token=last_param(query, "paginationToken"),
    )
    payload: dict[str, Any] = {
        "vectors": [{"id": vector_id} for vector_id in page.ids],
        "namespace": namespace,
        "usage": {"readUnits": 1},
    }
    if page.next_token:
        payload["pagination"] = {"next": page.next_token}
    return 200, payload
