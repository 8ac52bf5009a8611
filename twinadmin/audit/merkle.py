"""The Merkle tree over audit entries, exactly as RFC 9162 §2.1 defines it (the tree of
Certificate Transparency), so any RFC 9162 implementation can check our proofs:

    leaf hash  = SHA-256(0x00 || entry bytes)
    node hash  = SHA-256(0x01 || left || right)
    MTH(D[n])  = node hash of MTH(D[0:k]) and MTH(D[k:n]), k the largest power of 2 below n

Entry bytes are the canonical JSON that the hash chain hashes (`chain.entry_bytes`). The module
knows nothing of Django: the verifier, the offline check, receipts and the bench share it.

Hashes are 32-byte `bytes` here; callers convert to hex at their edges. Proof generation takes
the leaf hashes of the tree in order (a sequence); verification takes only the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof was asked for sizes or an index the tree does not have."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of 2 smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_root(leaves: Sequence[bytes], lo: int = 0, hi: int | None = None) -> bytes:
    """MTH(D[lo:hi]), bottom up: pairing neighbours level by level and carrying a lone last node
    up unchanged builds the same left-balanced tree as the RFC's recursive split."""
    hi = len(leaves) if hi is None else hi
    if hi <= lo:
        return EMPTY_ROOT
    level = list(leaves[lo:hi])
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class TreeBuilder:
    """The root of a growing tree in O(log n) memory: a stack of the roots of its perfect
    subtrees, largest first (the 'compact range'). `root()` can be read at any size, so one
    streaming pass over the leaves yields the root of every prefix a checkpoint names."""

    __slots__ = ("size", "_stack")

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (subtree size, subtree root)

    def append(self, leaf: bytes) -> None:
        size, node = 1, leaf
        stack = self._stack
        while stack and stack[-1][0] == size:
            _, left = stack.pop()
            node = node_hash(left, node)
            size *= 2
        stack.append((size, node))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def root_of(leaves: Iterable[bytes]) -> bytes:
    builder = TreeBuilder()
    for leaf in leaves:
        builder.append(leaf)
    return builder.root()


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, deepest sibling first."""
    size = len(leaves) if size is None else size
    if not 0 <= index < size <= len(leaves):
        raise ProofError(f"no leaf {index} in a tree of {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(subtree_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_root(leaves, lo, lo + k))
            lo += k
    return path[::-1]


def consistency_proof(leaves: Sequence[bytes], first: int, second: int | None = None) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1: the tree of `first` leaves is a prefix
    of the tree of `second`. Empty when the sizes are equal."""
    second = len(leaves) if second is None else second
    if not 0 < first <= second <= len(leaves):
        raise ProofError(f"no consistency proof from {first} to {second} leaves")
    path: list[bytes] = []
    lo, hi, m, whole = 0, second, first, True  # SUBPROOF(m, D[lo:hi], whole)
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            path.append(subtree_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_root(leaves, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        path.append(subtree_root(leaves, lo, hi))
    return path[::-1]


def verify_inclusion(*, leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    *, first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, step by step (equal sizes: an empty proof and equal roots)."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of 2: the old root is itself a node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
