"""JSON typed by a person is parsed to the same value the standard library gives, or refused
with UserJsonError and a message: never RecursionError, never a value nested past the limit."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from twinadmin.lib.text import MAX_JSON_DEPTH, UserJsonError, json_depth, json_parse

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=20,
)


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@settings(max_examples=200, deadline=None, derandomize=True)
@given(value=VALUES)
def test_valid_json_parses_to_what_was_written(value):
    assert json_depth(value) == _depth(value)
    assert json_parse(json.dumps(value)) == value


@settings(max_examples=200, deadline=None, derandomize=True)
@given(raw=st.binary(max_size=60) | st.text(max_size=60), depth=st.integers(0, 3000))
def test_anything_else_is_refused_with_a_message(raw, depth):
    for text in (raw, "[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        try:
            value = json_parse(text, what="The filter")
        except UserJsonError as exc:
            assert str(exc).startswith("The filter is ")
        else:
            assert json_depth(value) <= MAX_JSON_DEPTH
