"""gRPC messages to and from the REST API's shapes, so a gRPC call is answered by the same routes
(and so the same checks, store calls and errors) as the REST request it corresponds to.

Each method of `VectorService` is a Method: the REST (method, path) it is, how its request
message becomes that request's query parameters and JSON-shaped body, and how the route's JSON
payload becomes the response message. Vector values cross as float32 arrays both ways (packed
floats on the wire, numpy in the store), never as decimal text, so they stay bit-exact.

proto3 cannot tell an empty repeated field from an absent one: an empty `ids`, `values` or
`vector` is taken as not given, which is what the SDK means by sending none."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import Message

from ..errors import InvalidRequest
from .proto import db_data_pb2 as pb
from .protocol import NAMESPACES_PATH

Query = dict[str, list[str]]
Body = dict[str, Any] | None


@dataclass(frozen=True)
class Method:
    http_method: str
    path: Callable[[Any], str]
    decode: Callable[[Any], tuple[Query, Body]]
    encode: Callable[[Any], Message]


# -- pieces ---------------------------------------------------------------------------------------


def _struct_in(message: Any, field: str) -> dict[str, Any] | None:
    return json_format.MessageToDict(getattr(message, field)) if message.HasField(field) else None


def _sparse_in(sparse: Any) -> dict[str, Any]:
    return {"indices": list(sparse.indices), "values": list(sparse.values)}


def _floats(values: Any) -> list[float]:
    return np.asarray(values, dtype=np.float32).tolist()


def _vector_in(vector: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": vector.id, "values": np.array(vector.values, dtype=np.float32)}
    if vector.HasField("sparse_values"):
        raw["sparseValues"] = _sparse_in(vector.sparse_values)
    metadata = _struct_in(vector, "metadata")
    if metadata is not None:
        raw["metadata"] = metadata
    return raw


def _fill(target: Any, vector: Mapping[str, Any]) -> None:
    """Write a REST-shaped vector (or match) into a Vector or ScoredVector in place: building
    one and copying it into its response would copy every value a second time."""
    target.id = vector["id"]
    target.values.extend(_floats(vector.get("values", [])))
    sparse = vector.get("sparseValues")
    if sparse is not None:
        target.sparse_values.indices.extend(np.asarray(sparse["indices"]).tolist())
        target.sparse_values.values.extend(_floats(sparse["values"]))
    if vector.get("metadata") is not None:
        target.metadata.update(vector["metadata"])


def _optional(message: Any, fields: Mapping[str, str]) -> dict[str, Any]:
    """The optional fields that are set, under their REST names."""
    return {rest: getattr(message, name) for name, rest in fields.items() if message.HasField(name)}


def _params(message: Any, fields: Mapping[str, str]) -> Query:
    """Optional fields as query parameters (as strings, as a URL carries them)."""
    return {rest: [str(value)] for rest, value in _optional(message, fields).items()}


def _usage(payload: Mapping[str, Any]) -> pb.Usage | None:
    usage = payload.get("usage")
    return pb.Usage(read_units=usage["readUnits"]) if usage else None


def _pagination(payload: Mapping[str, Any]) -> pb.Pagination | None:
    page = payload.get("pagination")
    return pb.Pagination(next=page["next"]) if page else None


def _namespace_path(name: str) -> str:
    return NAMESPACES_PATH + quote(name, safe="")


def _schema_out(schema: Mapping[str, Any] | None) -> pb.MetadataSchema | None:
    if schema is None:
        return None
    return pb.MetadataSchema(
        fields={
            name: pb.MetadataFieldProperties(filterable=bool(props.get("filterable")))
            for name, props in schema.get("fields", {}).items()
        }
    )


def _description_out(item: Mapping[str, Any]) -> pb.NamespaceDescription:
    return pb.NamespaceDescription(
        name=item["name"], record_count=item["record_count"], schema=_schema_out(item.get("schema"))
    )


# -- requests -------------------------------------------------------------------------------------


def _upsert(r: Any) -> tuple[Query, Body]:
    return {}, {"namespace": r.namespace, "vectors": [_vector_in(v) for v in r.vectors]}


def _fetch(r: Any) -> tuple[Query, Body]:
    return {"ids": list(r.ids), "namespace": [r.namespace]}, None


def _fetch_by_metadata(r: Any) -> tuple[Query, Body]:
    body: dict[str, Any] = {"namespace": r.namespace, "filter": _struct_in(r, "filter")}
    body.update(_optional(r, {"limit": "limit", "pagination_token": "paginationToken"}))
    return {}, body


def _query(r: Any) -> tuple[Query, Body]:
    if len(r.queries):
        raise InvalidRequest("queries is deprecated and not supported: send vector, sparse_vector or id")
    body: dict[str, Any] = {
        "namespace": r.namespace,
        "topK": r.top_k,
        "includeValues": r.include_values,
        "includeMetadata": r.include_metadata,
    }
    if len(r.vector):
        body["vector"] = np.array(r.vector, dtype=np.float32)
    if r.id:
        body["id"] = r.id
    if r.HasField("sparse_vector"):
        body["sparseVector"] = _sparse_in(r.sparse_vector)
    if r.HasField("filter"):
        body["filter"] = _struct_in(r, "filter")
    body.update(_optional(r, {"scan_factor": "scanFactor", "max_candidates": "maxCandidates"}))
    return {}, body


def _delete(r: Any) -> tuple[Query, Body]:
    body: dict[str, Any] = {"namespace": r.namespace, "deleteAll": r.delete_all}
    if len(r.ids):
        body["ids"] = list(r.ids)
    if r.HasField("filter"):
        body["filter"] = _struct_in(r, "filter")
    return {}, body


def _update(r: Any) -> tuple[Query, Body]:
    body: dict[str, Any] = {"namespace": r.namespace}
    if r.id:
        body["id"] = r.id
    if len(r.values):
        body["values"] = np.array(r.values, dtype=np.float32)
    if r.HasField("sparse_values"):
        body["sparseValues"] = _sparse_in(r.sparse_values)
    for field, rest in (("set_metadata", "setMetadata"), ("filter", "filter")):
        if r.HasField(field):
            body[rest] = _struct_in(r, field)
    body.update(_optional(r, {"dry_run": "dryRun"}))
    return {}, body


def _list(r: Any) -> tuple[Query, Body]:
    query = {"namespace": [r.namespace]}
    query.update(_params(r, {"prefix": "prefix", "limit": "limit", "pagination_token": "paginationToken"}))
    return query, None


def _stats(r: Any) -> tuple[Query, Body]:
    return {}, {"filter": _struct_in(r, "filter")} if r.HasField("filter") else {}


def _list_namespaces(r: Any) -> tuple[Query, Body]:
    return _params(r, {"prefix": "prefix", "limit": "limit", "pagination_token": "paginationToken"}), None


def _create_namespace(r: Any) -> tuple[Query, Body]:
    body: dict[str, Any] = {"name": r.name}
    if r.HasField("schema"):
        body["schema"] = {
            "fields": {name: {"filterable": props.filterable} for name, props in r.schema.fields.items()}
        }
    return {}, body


def _no_body(r: Any) -> tuple[Query, Body]:
    return {}, None


# -- the service ----------------------------------------------------------------------------------


def _fixed(path: str) -> Callable[[Any], str]:
    return lambda _request: path


def _fetched(response: Any, payload: Mapping[str, Any]) -> Any:
    """A Fetch or FetchByMetadata response with the payload's vectors filled in."""
    for vector_id, vector in payload["vectors"].items():
        _fill(response.vectors[vector_id], vector)
    return response


def _query_out(payload: Mapping[str, Any]) -> pb.QueryResponse:
    response = pb.QueryResponse(namespace=payload["namespace"], usage=_usage(payload))
    for match in payload["matches"]:
        scored = response.matches.add()
        _fill(scored, match)
        scored.score = match["score"]
    return response


METHODS: dict[str, Method] = {
    "Upsert": Method(
        "POST",
        _fixed("/vectors/upsert"),
        _upsert,
        lambda p: pb.UpsertResponse(upserted_count=p["upsertedCount"]),
    ),
    "Fetch": Method(
        "GET",
        _fixed("/vectors/fetch"),
        _fetch,
        lambda p: _fetched(pb.FetchResponse(namespace=p["namespace"], usage=_usage(p)), p),
    ),
    "FetchByMetadata": Method(
        "POST",
        _fixed("/vectors/fetch_by_metadata"),
        _fetch_by_metadata,
        lambda p: _fetched(
            pb.FetchByMetadataResponse(namespace=p["namespace"], usage=_usage(p), pagination=_pagination(p)),
            p,
        ),
    ),
    "Query": Method("POST", _fixed("/query"), _query, _query_out),
    "Delete": Method("POST", _fixed("/vectors/delete"), _delete, lambda p: pb.DeleteResponse()),
    "Update": Method(
        "POST",
        _fixed("/vectors/update"),
        _update,
        lambda p: pb.UpdateResponse(matched_records=p.get("matchedRecords")),
    ),
    "List": Method(
        "GET",
        _fixed("/vectors/list"),
        _list,
        lambda p: pb.ListResponse(
            vectors=[pb.ListItem(id=item["id"]) for item in p["vectors"]],
            pagination=_pagination(p),
            namespace=p["namespace"],
            usage=_usage(p),
        ),
    ),
    "DescribeIndexStats": Method(
        "POST",
        _fixed("/describe_index_stats"),
        _stats,
        lambda p: pb.DescribeIndexStatsResponse(
            namespaces={
                name: pb.NamespaceSummary(vector_count=summary["vectorCount"])
                for name, summary in p["namespaces"].items()
            },
            dimension=p.get("dimension"),
            index_fullness=p["indexFullness"],
            total_vector_count=p["totalVectorCount"],
            metric=p["metric"],
            vector_type=p["vectorType"],
        ),
    ),
    "ListNamespaces": Method(
        "GET",
        _fixed("/namespaces"),
        _list_namespaces,
        lambda p: pb.ListNamespacesResponse(
            namespaces=[_description_out(item) for item in p["namespaces"]],
            pagination=_pagination(p),
            total_count=p["total_count"],
        ),
    ),
    "DescribeNamespace": Method("GET", lambda r: _namespace_path(r.namespace), _no_body, _description_out),
    "DeleteNamespace": Method(
        "DELETE", lambda r: _namespace_path(r.namespace), _no_body, lambda p: pb.DeleteResponse()
    ),
    "CreateNamespace": Method("POST", _fixed("/namespaces"), _create_namespace, _description_out),
}
