"""Pinecone's per-request limits and input rules, in one place.

The local store applies them at its request level and the local server through the store, so a
script that works here does not fail for a limit on Pinecone (and the other way round)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import orjson

from .errors import InvalidRequest, NotFound
from .types import DEFAULT_NAMESPACE, NamespaceInfo, SparseValues, Vector, as_float32

T = TypeVar("T")

MAX_ID_LENGTH = 512
MAX_NAMESPACE_LENGTH = 512
MAX_LIST_LIMIT = 100
MAX_NAMESPACE_LIST_LIMIT = 100
MAX_TOP_K = 10_000
MAX_METADATA_BYTES = 40 * 1024
MAX_UPSERT_VECTORS = 1_000
MAX_UPSERT_BYTES = 2 * 1024 * 1024
MAX_FETCH_IDS = 1_000
MAX_DIMENSION = 20_000
MAX_SPARSE_VALUES = 2_048  # non-zero entries of one sparse vector
METRICS = ("cosine", "dotproduct", "euclidean")
VECTOR_TYPES = ("dense", "sparse")

# JSON around one vector in an upsert body beyond its values and metadata:
# {"id":"","values":[],"metadata":{}}, plus the separating comma.
_VECTOR_ENVELOPE_BYTES = 40
# {"vectors":[],"namespace":""}
_REQUEST_ENVELOPE_BYTES = 32


def normalize_namespace(namespace: str | None) -> str:
    """The Pinecone name of `namespace`: "" and None mean the default namespace, which stats and
    namespace APIs call `__default__`."""
    if namespace is None or namespace == "":
        return DEFAULT_NAMESPACE
    if not isinstance(namespace, str):
        raise InvalidRequest(f"namespace must be a string, got {type(namespace).__name__}")
    if len(namespace) > MAX_NAMESPACE_LENGTH:
        raise InvalidRequest(
            f"namespace name is {len(namespace)} characters; the limit is {MAX_NAMESPACE_LENGTH}"
        )
    if not namespace.isascii() or "\x00" in namespace:
        raise InvalidRequest(f"namespace name must be ASCII without NUL, got {namespace[:64]!r}")
    return namespace


def validate_id(vector_id: Any, what: str = "vector id") -> str:
    if not isinstance(vector_id, str):
        raise InvalidRequest(f"{what} must be a string, got {type(vector_id).__name__}")
    if not 1 <= len(vector_id) <= MAX_ID_LENGTH:
        raise InvalidRequest(f"{what} must be 1-{MAX_ID_LENGTH} characters, got {len(vector_id)}")
    if not vector_id.isascii() or "\x00" in vector_id:
        raise InvalidRequest(f"{what} must be ASCII without NUL, got {vector_id[:64]!r}")
    return vector_id


def validate_prefix(prefix: Any, what: str = "prefix") -> str:
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise InvalidRequest(f"{what} must be a string, got {type(prefix).__name__}")
    if len(prefix) > MAX_ID_LENGTH or not prefix.isascii() or "\x00" in prefix:
        raise InvalidRequest(f"{what} must be ASCII without NUL and at most {MAX_ID_LENGTH} characters")
    return prefix


def validate_limit(limit: Any, maximum: int, what: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidRequest(f"{what} must be an integer, got {limit!r}")
    if not 1 <= limit <= maximum:
        raise InvalidRequest(f"{what} must be between 1 and {maximum}, got {limit}")
    return limit


def validate_top_k(top_k: Any) -> int:
    return validate_limit(top_k, MAX_TOP_K, "top_k")


def validate_values(values: np.ndarray, dimension: int, metric: str, vector_id: str = "") -> None:
    if values.shape != (dimension,):
        where = f" (vector {vector_id!r})" if vector_id else ""
        raise InvalidRequest(
            f"Vector dimension {values.shape[0] if values.ndim == 1 else values.shape} does not match "
            f"the dimension of the index {dimension}{where}"
        )
    if not np.isfinite(values).all():
        raise InvalidRequest(f"vector {vector_id!r} has NaN or infinite values")
    if metric == "cosine" and not values.any():
        raise InvalidRequest(
            f"vector {vector_id!r} is all zeros, which has no direction for the cosine metric"
        )


def sparse_values(raw: Any, what: str = "sparse values") -> SparseValues:
    """A SparseValues from the wire (`{"indices": [...], "values": [...]}`) or as given,
    checked as Pinecone checks it: same lengths, at least one and at most MAX_SPARSE_VALUES
    entries, indices unique and in uint32 range, weights finite."""
    if isinstance(raw, SparseValues):
        sparse = raw
    else:
        if not isinstance(raw, Mapping) or set(raw) - {"indices", "values"}:
            raise InvalidRequest(f"{what} must be an object with indices and values")
        indices, values = raw.get("indices"), raw.get("values")
        if not isinstance(indices, list) or not isinstance(values, list):
            raise InvalidRequest(f"{what}: indices and values must be arrays")
        if any(isinstance(i, bool) or not isinstance(i, int) for i in indices):
            raise InvalidRequest(f"{what}: indices must be integers")
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            raise InvalidRequest(f"{what}: values must be numbers")
        try:
            sparse = SparseValues(np.array(indices, dtype=np.int64), as_float32(values))
        except (ValueError, OverflowError) as exc:
            raise InvalidRequest(f"{what}: {exc}") from exc
    if not 1 <= len(sparse) <= MAX_SPARSE_VALUES:
        raise InvalidRequest(f"{what} must have 1-{MAX_SPARSE_VALUES} entries, got {len(sparse)}")
    if np.unique(sparse.indices).size != len(sparse):
        raise InvalidRequest(f"{what}: indices must be unique")
    if not np.isfinite(sparse.values).all():
        raise InvalidRequest(f"{what} has NaN or infinite values")
    return sparse


def validate_vector(vector: Vector, dimension: int, metric: str, vector_type: str = "dense") -> None:
    """A vector as the index takes it: a dense index wants `dimension` dense values and, with
    the dotproduct metric only, an optional sparse part (hybrid); a sparse index wants a sparse
    part and no dense values."""
    if vector.sparse_values is not None:
        sparse_values(vector.sparse_values, f"sparse values of vector {vector.id!r}")
        if vector_type == "dense" and metric != "dotproduct":
            raise InvalidRequest(
                f"vector {vector.id!r} has sparse values; sparse values need an index with the "
                f"dotproduct metric, this one uses {metric}"
            )
    if vector_type == "sparse":
        if vector.values.size:
            raise InvalidRequest(f"vector {vector.id!r} has dense values; this index is sparse-only")
        if vector.sparse_values is None:
            raise InvalidRequest(f"vector {vector.id!r} has no sparse values; this index is sparse-only")
        return
    validate_values(vector.values, dimension, metric, vector.id)


def _normalize_metadata_value(key: str, value: Any) -> Any:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        number = float(value)  # Pinecone keeps every metadata number as a double.
        if not math.isfinite(number):
            raise InvalidRequest(f"metadata field {key!r} must be a finite number")
        return number
    if isinstance(value, list | tuple):
        if not all(isinstance(item, str) for item in value):
            raise InvalidRequest(f"metadata field {key!r}: a list may only hold strings")
        return list(value)
    raise InvalidRequest(
        f"metadata field {key!r} must be a string, number, boolean or list of strings, "
        f"got {type(value).__name__}"
    )


def normalize_metadata(metadata: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Validate metadata as Pinecone does and return (metadata, canonical JSON).

    Null values are dropped (Pinecone strips them on write), numbers become floats, and an empty
    result is stored as no metadata."""
    if metadata is None:
        return None, None
    if not isinstance(metadata, Mapping):
        raise InvalidRequest(f"metadata must be an object, got {type(metadata).__name__}")
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or key.startswith("$"):
            raise InvalidRequest(f"metadata keys must be non-empty strings not starting with '$': {key!r}")
        if value is None:
            continue
        clean[key] = _normalize_metadata_value(key, value)
    if not clean:
        return None, None
    text = canonical_json(clean)
    size = len(text.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InvalidRequest(f"Metadata size is {size} bytes; the limit is {MAX_METADATA_BYTES} per vector")
    return clean, text


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def vector_wire_bytes(vector: Vector, metadata_json: str | None = None) -> int:
    """Bytes this vector takes in a JSON upsert body, values written as shortest float32 text
    (as our adapter and the local server write them)."""
    size = _VECTOR_ENVELOPE_BYTES + len(vector.id)
    size += len(orjson.dumps(vector.values, option=orjson.OPT_SERIALIZE_NUMPY))
    if vector.sparse_values is not None:
        sparse = vector.sparse_values
        size += 40 + len(orjson.dumps(sparse.indices.astype(np.int64), option=orjson.OPT_SERIALIZE_NUMPY))
        size += len(orjson.dumps(sparse.values, option=orjson.OPT_SERIALIZE_NUMPY))
    if metadata_json is None and vector.metadata is not None:
        metadata_json = canonical_json(vector.metadata)
    if metadata_json is not None:
        size += len(metadata_json.encode("utf-8"))
    return size


# The longest JSON text of a float32 widened to a double (what the SDK sends: shortest repr of
# the double), e.g. "-1.1754943508222875e-38", plus its comma; a uint32 index plus its comma.
JSON_FLOAT32_MAX_BYTES = 24
JSON_INDEX_MAX_BYTES = 11


def json_vector_bytes_bound(
    *, id_bytes: int, dimension: int, metadata_bytes: int = 0, sparse_entries: int = 0
) -> int:
    """An upper bound on a vector's bytes in a JSON upsert body, from its shape alone: sizing a
    batch must not encode every vector a second time (the SDK encodes it once to send it)."""
    size = _VECTOR_ENVELOPE_BYTES + id_bytes + dimension * JSON_FLOAT32_MAX_BYTES + metadata_bytes
    if sparse_entries:
        size += 40 + sparse_entries * (JSON_INDEX_MAX_BYTES + JSON_FLOAT32_MAX_BYTES)
    return size


def grpc_vector_bytes_bound(
    *, id_bytes: int, dimension: int, metadata_bytes: int = 0, sparse_entries: int = 0
) -> int:
    """An upper bound on a vector's bytes in a gRPC upsert message: values packed as float32,
    sparse indices as uint32 varints (at most 5 bytes), metadata as a protobuf Struct (never more
    than twice its JSON text plus a little: each field's tags and lengths)."""
    return 32 + id_bytes + dimension * 4 + 2 * metadata_bytes + 16 + sparse_entries * 9


def check_upsert_request(count: int, request_bytes: int) -> None:
    if count > MAX_UPSERT_VECTORS:
        raise InvalidRequest(
            f"upsert request has {count} vectors; the limit is {MAX_UPSERT_VECTORS} per request"
        )
    if request_bytes > MAX_UPSERT_BYTES:
        raise InvalidRequest(
            f"upsert request is {request_bytes} bytes; the limit is {MAX_UPSERT_BYTES} bytes per request"
        )


def plan_upsert_batches(items: Sequence[T], sizes: Sequence[int]) -> Iterator[Sequence[T]]:
    """Split `items` (with their wire sizes) greedily into requests within the vector-count and
    byte limits."""
    start, used = 0, _REQUEST_ENVELOPE_BYTES
    for i, size in enumerate(sizes):
        if i > start and (i - start >= MAX_UPSERT_VECTORS or used + size > MAX_UPSERT_BYTES):
            yield items[start:i]
            start, used = i, _REQUEST_ENVELOPE_BYTES
        used += size
    if start < len(items):
        yield items[start:]


def page_namespaces(
    counts: Mapping[str, int], *, prefix: str | None, limit: int, pagination_token: str | None
) -> tuple[list[tuple[str, int]], str | None]:
    """One page of the namespaces of a name -> count mapping (pass the ones to list: the store
    lists non-empty ones, the server explicitly created empty ones too), in name order. Shared
    by the store and the server's lagged view, so both page identically."""
    prefix = validate_prefix(prefix)
    limit = validate_limit(limit, MAX_NAMESPACE_LIST_LIMIT)
    after = decode_token("ns", pagination_token)
    names = sorted(
        name
        for name, count in counts.items()
        if count >= 0 and name.startswith(prefix) and (after is None or name > after)
    )
    page = [(name, counts[name]) for name in names[:limit]]
    token = encode_token("ns", page[-1][0]) if len(names) > limit else None
    return page, token


def namespace_info(name: str, count: int | None) -> NamespaceInfo:
    """Describe `name` given its count: None when it does not exist. The default namespace
    always exists; another namespace exists while it holds vectors or after it was created
    explicitly (then with count 0)."""
    if count is None:
        if name == DEFAULT_NAMESPACE:
            return NamespaceInfo(name, 0)
        raise NotFound(f"Namespace {name!r} not found")
    return NamespaceInfo(name, count)


def chunked(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Pagination tokens are opaque to callers: base64 of the last key returned. They carry a kind so
# a namespace token handed to list_ids is refused instead of silently skipping ids.
def encode_token(kind: str, last_key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([kind, last_key])).decode("ascii").rstrip("=")


def decode_token(kind: str, token: str | None) -> str | None:
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise InvalidRequest("pagination token must be a string")
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError, orjson.JSONDecodeError) as exc:
        raise InvalidRequest("pagination token is not valid") from exc
    valid = isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[1], str)
    if not valid or decoded[0] != kind:
        raise InvalidRequest("pagination token is not valid for this listing")
    return decoded[1]
