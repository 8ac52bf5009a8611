"""`get_index()`: the configured index, built from Django settings and cached per process.

The cache key is the relevant setting *values*, so a test that points VECTOR_LOCAL_PATH at a tmp
file gets a fresh store, and the process id, so a forked worker never shares its parent's HTTP
client. Only the current configuration is kept: when the key changes the old index is closed."""

from __future__ import annotations

import os
import threading
from typing import Any

from .base import VectorIndex
from .errors import ConfigurationError

_lock = threading.Lock()
_cached: tuple[tuple[Any, ...], VectorIndex] | None = None


def _settings_key() -> tuple[Any, ...]:
    from django.conf import settings

    return (
        os.getpid(),
        settings.VECTOR_BACKEND,
        str(settings.VECTOR_LOCAL_PATH),
        int(settings.VECTOR_DIMENSION),
        settings.VECTOR_METRIC,
        settings.PINECONE_INDEX_HOST,
        settings.PINECONE_INDEX_NAME,
        settings.PINECONE_CONTROLLER_HOST,
        settings.PINECONE_API_KEY,
        int(settings.PINECONE_RETRY_ATTEMPTS),
        float(settings.PINECONE_RETRY_DEADLINE_SECONDS),
        settings.PINECONE_TRANSPORT,
        settings.PINECONE_GRPC_HOST,
    )


def build_index(key: tuple[Any, ...]) -> VectorIndex:
    (
        _pid,
        backend,
        local_path,
        dimension,
        metric,
        host,
        name,
        control_host,
        api_key,
        attempts,
        deadline,
        transport,
        grpc_host,
    ) = key
    if backend == "local":
        from .local import LocalStore

        return LocalStore(local_path, dimension=dimension, metric=metric)
    if backend == "pinecone":
        from .pinecone_adapter import PineconeIndex, RetryPolicy

        # The index's dimension and metric come from the index itself, not from the settings.
        return PineconeIndex(
            api_key=api_key,
            host=host or None,
            index_name=name or None,
            control_host=control_host or None,
            retry=RetryPolicy(attempts=attempts, deadline=deadline),
            transport=transport,
            grpc_host=grpc_host or None,
        )
    raise ConfigurationError(f"VECTOR_BACKEND={backend!r} is not one of local, pinecone")


def get_index() -> VectorIndex:
    """The cached index, or a new one. The index is opened outside the lock: opening a remote
    index makes a request that may retry for as long as its caller's deadline allows (minutes
    for a worker), and a page must not wait out another thread's opening. Two threads that
    open at once both build one; the first to finish is kept and the other closed."""
    global _cached
    key = _settings_key()
    with _lock:
        if _cached is not None and _cached[0] == key:
            return _cached[1]
    index = build_index(key)
    discarded: VectorIndex | None
    with _lock:
        if _cached is not None and _cached[0] == key:  # another thread's opening came first
            kept, discarded = _cached[1], index
        else:
            old, _cached = _cached, (key, index)
            kept = index
            discarded = old[1] if old is not None and old[0][0] == os.getpid() else None
    if discarded is not None:
        discarded.close()
    return kept


def reset_index_cache() -> None:
    global _cached
    with _lock:
        old, _cached = _cached, None
    if old is not None and old[0][0] == os.getpid():
        old[1].close()
