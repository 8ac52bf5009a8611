"""Rules for text that people type in: names shown to other people, and JSON pasted into a form
or given on a command line. One place, used by forms, commands and services alike."""

from __future__ import annotations

from typing import Any

import orjson
from django.core.exceptions import ValidationError

# Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they reorder
# the text around them when it is shown, so a name holding one reads differently from what is
# stored ("Trojan Source", CVE-2021-42574). The marks U+200E/U+200F only set a direction and
# cannot hide anything; they are left alone.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# Deeper than any filter or vector a person writes (Pinecone's filters nest a few levels), far
# below what would exhaust the interpreter's stack in code that walks the value.
MAX_JSON_DEPTH = 32


class UserJsonError(ValueError):
    """JSON from a person that cannot be used: the message says why, in words."""


def bidi_controls_refuse(value: str, *, what: str = "A name") -> str:
    """`value` unchanged, or ValidationError naming the first bidirectional control in it."""
    found = next((c for c in value if c in BIDI_CONTROLS), None)
    if found is not None:
        raise ValidationError(
            f"{what} may not contain bidirectional control characters (found U+{ord(found):04X}): "
            "they make the text read differently from what is stored.",
            code="bidi_control",
        )
    return value


def validate_display_text(value: str) -> None:
    """Django validator form of bidi_controls_refuse (for form and model fields)."""
    bidi_controls_refuse(value)


def json_parse(raw: str | bytes, *, what: str = "The value", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON typed by a person, or raise UserJsonError with a readable message.

    orjson, not the standard library: it refuses NaN/Infinity, lone surrogates and numbers
    that overflow a double, and it stops at a fixed depth with an error instead of raising
    RecursionError; the depth is then held to `max_depth`, so code that walks the value (or
    prints it in an error message) never recurses deeply either."""
    too_deep = UserJsonError(f"{what} is nested more than {max_depth} levels deep.")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own limit, far above ours
            raise too_deep from None
        raise UserJsonError(f"{what} is not valid JSON: {exc}.") from None
    if json_depth(value) > max_depth:
        raise too_deep
    return value


def json_depth(value: Any) -> int:
    """How many arrays/objects deep `value` nests (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest
