"""The namespace codec: the one place that formats and parses namespace names.

    creator_{creator_id}                 creator-wide namespace (shared knowledge)
    creator_{creator_id}_twin_{twin_id}  one twin's vectors

Parsing is exact and total: every string gets one `NamespaceKind`. Ownership is decided by parsing,
never by string prefix: `creator_a.10` parses to creator `a.10`, so erasing creator `a.1` can never
match it. That works because ids cannot contain `_`: the first `_` after `creator_` ends the
creator id, and what follows must be exactly `_twin_{twin_id}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

CREATOR_PREFIX = "creator_"
TWIN_SEPARATOR = "_twin_"
DEFAULT_NAMESPACE = "__default__"
MAX_ID_LENGTH = 64
MAX_NAMESPACE_LENGTH = 512  # Pinecone's limit; our longest name is 8 + 64 + 6 + 64 = 142.

# Lowercase letters, digits, '.' and '-'; starts and ends with a letter or digit; no '_'.
ID_PATTERN = r"[a-z0-9](?:[a-z0-9.\-]{0,62}[a-z0-9])?"
_ID_RE = re.compile(rf"\A{ID_PATTERN}\Z")
_NAMESPACE_RE = re.compile(rf"\Acreator_(?P<creator>{ID_PATTERN})(?:_twin_(?P<twin>{ID_PATTERN}))?\Z")
_UUID_RE = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.IGNORECASE)

ID_RULES = (
    "1 to 64 characters: lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
)


class InvalidId(ValueError):
    """A creator or twin id that would make namespace names ambiguous or invalid."""


class NamespaceKind(StrEnum):
    CREATOR_WIDE = "creator-wide"
    TWIN = "twin"
    LEGACY_UUID = "legacy-uuid"
    DEFAULT = "default"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ParsedNamespace:
    name: str
    kind: NamespaceKind
    creator_id: str | None = None
    twin_id: str | None = None

    def is_owned_by(self, creator_id: str) -> bool:
        """True only when the parse attributes this namespace to exactly `creator_id`."""
        return self.creator_id is not None and self.creator_id == creator_id


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID_RE.match(value) is not None


def validate_creator_id(value: object) -> str:
    if not is_valid_id(value):
        raise InvalidId(f"Invalid creator id {value!r}: {ID_RULES}.")
    return value  # type: ignore[return-value]


def validate_twin_id(value: object) -> str:
    if not is_valid_id(value):
        raise InvalidId(f"Invalid twin id {value!r}: {ID_RULES}.")
    return value  # type: ignore[return-value]


def creator_namespace(creator_id: str) -> str:
    return CREATOR_PREFIX + validate_creator_id(creator_id)


def twin_namespace(creator_id: str, twin_id: str) -> str:
    return creator_namespace(creator_id) + TWIN_SEPARATOR + validate_twin_id(twin_id)


def parse_namespace(name: str) -> ParsedNamespace:
    """Classify any string. Never raises for a string; what is not ours is UNKNOWN."""
    if name in ("", DEFAULT_NAMESPACE):
        return ParsedNamespace(name=name, kind=NamespaceKind.DEFAULT)
    match = _NAMESPACE_RE.match(name)
    if match:
        creator, twin = match.group("creator"), match.group("twin")
        if twin is None:
            return ParsedNamespace(name=name, kind=NamespaceKind.CREATOR_WIDE, creator_id=creator)
        return ParsedNamespace(name=name, kind=NamespaceKind.TWIN, creator_id=creator, twin_id=twin)
    if _UUID_RE.match(name):
        return ParsedNamespace(name=name, kind=NamespaceKind.LEGACY_UUID)
    return ParsedNamespace(name=name, kind=NamespaceKind.UNKNOWN)


def format_namespace(parsed: ParsedNamespace) -> str:
    """Inverse of parse_namespace for the kinds we format (exact round trip)."""
    if parsed.kind is NamespaceKind.CREATOR_WIDE:
        return creator_namespace(parsed.creator_id or "")
    if parsed.kind is NamespaceKind.TWIN:
        return twin_namespace(parsed.creator_id or "", parsed.twin_id or "")
    return parsed.name


def namespaces_owned_by(names: object, creator_id: str) -> list[str]:
    """The names among `names` that parse to `creator_id` (exact, never by prefix)."""
    validate_creator_id(creator_id)
    return [n for n in names if parse_namespace(n).is_owned_by(creator_id)]  # type: ignore[attr-defined]
