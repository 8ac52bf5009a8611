"""Pinecone's metadata filter language: one validator/evaluator used by the local store (and so
by the local server).

Supported: `$eq $ne $gt $gte $lt $lte $in $nin $exists $and $or`, several operators on one field
(all must hold), several fields at one level (all must hold), and `{"field": value}` as `$eq`.

Semantics follow Pinecone's (MongoDB-derived) rules:
- numbers compare as doubles; booleans never equal numbers; range operators only match numbers;
- a list-of-strings field matches `$eq`/`$in` when any element does, `$ne`/`$nin` when none does;
- a record without the field matches `$exists: false` only: `$ne` and `$nin` match records that
  carry the field with another value, as on Pinecone (not records that lack it, as in MongoDB).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import InvalidRequest

Predicate = Callable[[Mapping[str, Any] | None], bool]

_MISSING = object()
_RANGE_OPS = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}
_FIELD_OPS = {"$eq", "$ne", "$in", "$nin", "$exists", *_RANGE_OPS}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar(value: Any, where: str) -> Any:
    """A filter operand as stored metadata would hold it (numbers as floats)."""
    if isinstance(value, bool | str):
        return value
    if _is_number(value):
        return float(value)
    raise InvalidRequest(f"{where}: expected a string, number or boolean, got {_describe(value)}")


def _describe(value: Any) -> str:
    """An operand for an error message. Never repr() of a container: a deeply nested one would
    recurse past the interpreter's limit while the message is being built."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _key(value: Any) -> tuple[str, Any]:
    """A hashable key that keeps booleans apart from numbers (True != 1.0 here)."""
    if isinstance(value, bool):
        return ("b", value)
    if _is_number(value):
        return ("n", float(value))
    return ("s", value)


def _any_element(value: Any, keys: frozenset[tuple[str, Any]]) -> bool:
    if isinstance(value, list):
        return any(isinstance(item, str) and _key(item) in keys for item in value)
    if isinstance(value, bool | str) or _is_number(value):
        return _key(value) in keys
    return False


def _get(metadata: Mapping[str, Any] | None, key: str) -> Any:
    return _MISSING if metadata is None else metadata.get(key, _MISSING)


def _field_predicate(field: str, op: str, operand: Any) -> Callable[[Any], bool]:
    where = f"filter on {field!r} with {op}"
    if op in ("$eq", "$ne"):
        keys = frozenset([_key(_scalar(operand, where))])
        if op == "$eq":
            return lambda v: v is not _MISSING and _any_element(v, keys)
        return lambda v: v is not _MISSING and not _any_element(v, keys)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list) or not operand:
            raise InvalidRequest(f"{where}: expected a non-empty array")
        keys = frozenset(_key(_scalar(item, where)) for item in operand)
        if op == "$in":
            return lambda v: v is not _MISSING and _any_element(v, keys)
        return lambda v: v is not _MISSING and not _any_element(v, keys)
    if op == "$exists":
        if not isinstance(operand, bool):
            raise InvalidRequest(f"{where}: expected true or false")
        return (lambda v: v is not _MISSING) if operand else (lambda v: v is _MISSING)
    if op in _RANGE_OPS:
        if not _is_number(operand):
            raise InvalidRequest(f"{where}: expected a number")
        bound, compare = float(operand), _RANGE_OPS[op]
        return lambda v: _is_number(v) and compare(v, bound)
    raise InvalidRequest(f"filter on {field!r}: unknown operator {op!r}")


def _all_of(predicates: list[Predicate]) -> Predicate:
    return lambda m: all(p(m) for p in predicates)


def _any_of(predicates: list[Predicate]) -> Predicate:
    return lambda m: any(p(m) for p in predicates)


def _field_matches(key: str, tests: list[Callable[[Any], bool]]) -> Predicate:
    return lambda m: all(t(_get(m, key)) for t in tests)


def _compile(expr: Any, depth: int = 0) -> Predicate:
    if depth > 32:
        raise InvalidRequest("filter is nested too deeply")
    if not isinstance(expr, Mapping):
        raise InvalidRequest(f"a filter must be an object, got {type(expr).__name__}")
    parts: list[Predicate] = []
    for key, value in expr.items():
        if not isinstance(key, str) or not key:
            raise InvalidRequest(f"filter keys must be non-empty strings, got {key!r}")
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise InvalidRequest(f"{key} expects a non-empty array of filters")
            subs = [_compile(item, depth + 1) for item in value]
            if key == "$and":
                parts.append(_all_of(subs))
            else:
                parts.append(_any_of(subs))
            continue
        if key.startswith("$"):
            raise InvalidRequest(f"unknown filter operator {key!r} at the top level")
        if isinstance(value, Mapping):
            if not value:
                raise InvalidRequest(f"filter on {key!r} has no operator")
            bad = [op for op in value if op not in _FIELD_OPS]
            if bad:
                raise InvalidRequest(f"filter on {key!r}: unknown operator {bad[0]!r}")
            tests = [_field_predicate(key, op, operand) for op, operand in value.items()]
        else:
            tests = [_field_predicate(key, "$eq", value)]
        parts.append(_field_matches(key, tests))
    if not parts:
        return lambda m: True
    if len(parts) == 1:
        return parts[0]
    return lambda m: all(p(m) for p in parts)


def compile_filter(expr: Mapping[str, Any] | None) -> Predicate | None:
    """Validate `expr` and return a predicate over a record's metadata, or None when there is
    nothing to filter (no filter or an empty one). Raises InvalidRequest for a malformed filter."""
    if expr is None:
        return None
    if not isinstance(expr, Mapping):
        raise InvalidRequest(f"a filter must be an object, got {type(expr).__name__}")
    if not expr:
        return None
    return _compile(expr)


def matches(expr: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None) -> bool:
    predicate = compile_filter(expr)
    return True if predicate is None else predicate(metadata)
