"""Pinecone's data-plane wire format as the SDK 10.x (API version 2026-07) sends it: camelCase
vector bodies, snake_case namespace bodies, Pinecone's error JSON (`{"code", "message",
"details"}`), and the checks every handler applies to a request's fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import numpy as np
import orjson

from .. import limits
from ..errors import InvalidRequest
from ..types import SparseValues, Vector, packed_float32

API_VERSION = "2026-07"
# gRPC status codes Pinecone's data plane puts in error bodies.
GRPC_CODES = {400: 3, 401: 16, 404: 5, 405: 12, 409: 6, 413: 3, 429: 8, 500: 13, 503: 14}
# The control plane names its error codes instead, in its own body shape.
CONTROL_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
NAMESPACES_PATH = "/namespaces/"
CONTROL_PATH = "/indexes"


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_body(status: int, message: str, path: str = "") -> dict[str, Any]:
    """Pinecone's error JSON: the data plane's `{"code": gRPC code, "message", "details"}`, or
    for a control-plane path (`/indexes...`) the control plane's `{"status", "error": {"code":
    NAME, "message"}}`."""
    if path == CONTROL_PATH or path.startswith(CONTROL_PATH + "/"):
        return {"status": status, "error": {"code": CONTROL_CODES.get(status, "UNKNOWN"), "message": message}}
    return {"code": GRPC_CODES.get(status, 2), "message": message, "details": []}


def parse_body(method: str, path: str, raw: bytes) -> dict[str, Any] | None:
    """The JSON object a POST/PUT/PATCH carries (None for other methods)."""
    if method not in ("POST", "PUT", "PATCH"):
        return None
    check_body_size(len(raw))
    try:
        parsed = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise InvalidRequest("request body must be a JSON object")
    return parsed


def check_body_size(size: int) -> None:
    """Pinecone refuses a request body over 2 MB with 400 and this message (not 413)."""
    if size > limits.MAX_UPSERT_BYTES:
        raise InvalidRequest(
            f"Request size {size / 1024 / 1024:.1f}MB exceeds the maximum supported size of "
            f"{limits.MAX_UPSERT_BYTES // 1024 // 1024}MB"
        )


def namespace_in_path(path: str) -> str | None:
    """`NAME` of `/namespaces/NAME` (URL-decoded), None for other paths."""
    if not path.startswith(NAMESPACES_PATH):
        return None
    return unquote(path[len(NAMESPACES_PATH) :])


def request_namespace(path: str, body: Mapping[str, Any] | None, query: Mapping[str, list[str]]) -> str:
    """The namespace a request names: in its path, its body, or (without a body) its query."""
    named = namespace_in_path(path)
    if named is not None:
        return named
    return namespace_from(body, query if body is None else None)


def namespace_from(body: Mapping[str, Any] | None, query: Mapping[str, list[str]] | None) -> str:
    if body is not None:
        value = body.get("namespace", "")
    elif query is not None:
        value = query.get("namespace", [""])[-1]
    else:
        value = ""
    if not isinstance(value, str):
        raise InvalidRequest("namespace must be a string")
    return value


def require_fields(body: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(f"{what}: unknown field(s) {', '.join(unknown)}")


def bool_field(body: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be a boolean")
    return value


def int_param(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer, got {value!r}") from None


def last_param(query: Mapping[str, list[str]], name: str) -> str | None:
    """A query parameter's last value, None when absent."""
    return query.get(name, [None])[-1]


def float32_values(raw: Any, what: str) -> np.ndarray:
    if isinstance(raw, np.ndarray) and raw.dtype == np.float32 and raw.ndim == 1:
        return raw  # gRPC's packed floats, decoded as they are
    if not isinstance(raw, list):
        raise InvalidRequest(f"{what} must be an array of numbers")
    if raw and type(raw[0]) is float:  # JSON's floats; a list of other things takes numpy's path
        packed = packed_float32(raw)
        if packed is not None:
            return packed
    array = np.array(raw) if raw else np.empty(0, dtype=np.float32)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "fiu"):
        raise InvalidRequest(f"{what} must be an array of numbers")
    with np.errstate(over="ignore"):  # beyond float32: infinite, refused by the finiteness checks
        return array.astype(np.float32)


def sparse_json(sparse: SparseValues) -> dict[str, Any]:
    return {"indices": sparse.indices, "values": sparse.values}


def vector_json(vector: Vector) -> dict[str, Any]:
    body: dict[str, Any] = {"id": vector.id, "values": vector.values}
    if vector.sparse_values is not None:
        body["sparseValues"] = sparse_json(vector.sparse_values)
    if vector.metadata is not None:
        body["metadata"] = vector.metadata
    return body
