"""The vector index layer: the only code in twinadmin that knows Pinecone.

Everything reaches the index through `get_index()`, which returns a `VectorIndex`: the embedded
SQLite store by default (VECTOR_BACKEND=local) or the real Pinecone SDK (VECTOR_BACKEND=pinecone),
which can also point at `manage.py pinecone_local`. Both behave the same for the contract in
tests/vectors/test_contract.py."""

from .base import VectorIndex
from .errors import ConfigurationError, InvalidRequest, NotFound, RateLimited, TransientError, VectorError
from .factory import get_index, reset_index_cache
from .types import DEFAULT_NAMESPACE, IdPage, IndexStats, Match, NamespaceInfo, NamespacePage, Vector

__all__ = [
    "DEFAULT_NAMESPACE",
    "ConfigurationError",
    "IdPage",
    "IndexStats",
    "InvalidRequest",
    "Match",
    "NamespaceInfo",
    "NamespacePage",
    "NotFound",
    "RateLimited",
    "TransientError",
    "Vector",
    "VectorError",
    "VectorIndex",
    "get_index",
    "reset_index_cache",
]
