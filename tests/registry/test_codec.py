"""The codec: exact round trips, total classification, ownership by parse (never by prefix)."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twinadmin.registry import codec
from twinadmin.registry.codec import NamespaceKind, parse_namespace

ids = st.from_regex(rf"\A{codec.ID_PATTERN}\Z")


@given(creator=ids)
def test_creator_namespace_round_trips(creator):
    name = codec.creator_namespace(creator)
    parsed = parse_namespace(name)
    assert parsed.kind is NamespaceKind.CREATOR_WIDE
    assert parsed.creator_id == creator and parsed.twin_id is None
    assert codec.format_namespace(parsed) == name


@given(creator=ids, twin=ids)
def test_twin_namespace_round_trips(creator, twin):
    name = codec.twin_namespace(creator, twin)
    parsed = parse_namespace(name)
    assert parsed.kind is NamespaceKind.TWIN
    assert (parsed.creator_id, parsed.twin_id) == (creator, twin)
    assert codec.format_namespace(parsed) == name
    assert len(name) <= codec.MAX_NAMESPACE_LENGTH and name.isascii()


@given(a=st.tuples(ids, st.none() | ids), b=st.tuples(ids, st.none() | ids))
def test_distinct_owners_never_share_a_namespace(a, b):
    def fmt(pair):
        creator, twin = pair
        return codec.creator_namespace(creator) if twin is None else codec.twin_namespace(creator, twin)

    if a != b:
        assert fmt(a) != fmt(b)


@given(text=st.text(max_size=80))
def test_parse_is_total_and_consistent(text):
    parsed = parse_namespace(text)
    assert parsed.kind in NamespaceKind
    if parsed.kind in (NamespaceKind.CREATOR_WIDE, NamespaceKind.TWIN):
        assert codec.format_namespace(parsed) == text


@given(creator=ids, other=ids, twin=ids)
def test_ownership_is_by_parse_not_prefix(creator, other, twin):
    for name in (codec.creator_namespace(other), codec.twin_namespace(other, twin)):
        assert parse_namespace(name).is_owned_by(creator) == (creator == other)


def test_a1_does_not_own_a10_or_a1x():
    names = [
        "creator_a.1",
        "creator_a.1_twin_x",
        "creator_a.10",
        "creator_a.10_twin_x",
        "creator_a.1x",
        "creator_b_twin_a.1",
        "creator_a.1_twin_",
        "creator_a.1__twin_x",
    ]
    assert codec.namespaces_owned_by(names, "a.1") == ["creator_a.1", "creator_a.1_twin_x"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("", NamespaceKind.DEFAULT),
        ("__default__", NamespaceKind.DEFAULT),
        (str(uuid.UUID(int=7)), NamespaceKind.LEGACY_UUID),
        ("5F0C4B0E-1D8A-4C59-9B1F-6E2F1A9D3C77", NamespaceKind.LEGACY_UUID),
        ("creator_sainath.no.1", NamespaceKind.CREATOR_WIDE),
        ("creator_sainath.no.1_twin_001", NamespaceKind.TWIN),
        ("creator_Sainath", NamespaceKind.UNKNOWN),
        ("creator_", NamespaceKind.UNKNOWN),
        ("creator_a_b", NamespaceKind.UNKNOWN),
        ("creator_a_twin_b_c", NamespaceKind.UNKNOWN),
        ("creator_-a", NamespaceKind.UNKNOWN),
        ("something-else", NamespaceKind.UNKNOWN),
        ("creator_a.1\n", NamespaceKind.UNKNOWN),
    ],
)
def test_classification(name, kind):
    assert parse_namespace(name).kind is kind


@pytest.mark.parametrize("bad", ["", "A", "a_b", "-a", "a-", ".a", "a" * 65, "é", "a b", None, 5])
def test_invalid_ids_are_refused_with_a_clear_error(bad):
    with pytest.raises(codec.InvalidId, match="Invalid creator id"):
        codec.creator_namespace(bad)
    with pytest.raises(codec.InvalidId, match="Invalid twin id"):
        codec.twin_namespace("ok", bad)
