"""The Merkle tree is RFC 9162's: the reference roots and proofs of Certificate Transparency,
and for every tree shape, every proof verifies and no altered one does."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from twinadmin.audit import merkle

# The RFC 6962 / 9162 reference leaves and roots (transparency-dev/merkle testonly data).
CT_ENTRIES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_LEAVES = [merkle.leaf_hash(e) for e in CT_ENTRIES]


def _reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162's recursive definition, literally."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(_reference_mth(leaves[:k]), _reference_mth(leaves[k:]))


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}".encode()) for i in range(n)]


def test_roots_match_the_rfc_reference_for_every_size():
    for size, expected in enumerate(CT_ROOTS):
        assert merkle.subtree_root(CT_LEAVES, 0, size).hex() == expected
        assert merkle.root_of(CT_LEAVES[:size]).hex() == expected


def test_inclusion_proofs_match_the_rfc_reference():
    for (index, size), expected in CT_INCLUSION.items():
        proof = merkle.inclusion_proof(CT_LEAVES, index, size)
        assert [p.hex() for p in proof] == expected
        root = bytes.fromhex(CT_ROOTS[size])
        assert merkle.verify_inclusion(leaf=CT_LEAVES[index], index=index, size=size, proof=proof, root=root)


@given(st.integers(min_value=1, max_value=70))
def test_streaming_root_is_the_recursive_definition(n):
    leaves = _leaves(n)
    builder = merkle.TreeBuilder()
    for size, leaf in enumerate(leaves, start=1):
        builder.append(leaf)
        assert builder.root() == _reference_mth(leaves[:size])


@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_inclusion_proof_verifies_and_no_altered_one_does(n, data):
    leaves = _leaves(n)
    root = merkle.root_of(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = merkle.inclusion_proof(leaves, index)
    assert merkle.verify_inclusion(leaf=leaves[index], index=index, size=n, proof=proof, root=root)
    other = merkle.leaf_hash(b"forged")
    assert not merkle.verify_inclusion(leaf=other, index=index, size=n, proof=proof, root=root)
    if n > 1:
        assert not merkle.verify_inclusion(
            leaf=leaves[index], index=(index + 1) % n, size=n, proof=proof, root=root
        )
    if proof:
        bent = [*proof[:-1], merkle.leaf_hash(b"x")]
        assert not merkle.verify_inclusion(leaf=leaves[index], index=index, size=n, proof=bent, root=root)


@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_consistency_proof_verifies_and_a_fork_does_not(n, data):
    leaves = _leaves(n)
    first = data.draw(st.integers(min_value=1, max_value=n))
    old_root, new_root = merkle.root_of(leaves[:first]), merkle.root_of(leaves)
    proof = merkle.consistency_proof(leaves, first)
    assert merkle.verify_consistency(
        first=first, second=n, first_root=old_root, second_root=new_root, proof=proof
    )
    # The same sizes, but history rewritten at one leaf before `first`: no proof from the new
    # tree convinces a holder of the old root.
    forked = list(leaves)
    forked[data.draw(st.integers(min_value=0, max_value=first - 1))] = merkle.leaf_hash(b"rewritten")
    fork_proof = merkle.consistency_proof(forked, first)
    assert not merkle.verify_consistency(
        first=first, second=n, first_root=old_root, second_root=merkle.root_of(forked), proof=fork_proof
    )
