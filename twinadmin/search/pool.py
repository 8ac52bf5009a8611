"""The bounded thread pool that fans queries out across namespaces.

Why threads are safe here: the local store opens one SQLite connection per thread (and per
process), and SQLite in WAL mode lets readers run side by side; the Pinecone adapter shares one
httpx client, which is thread-safe and pools connections (the SDK's own `query_namespaces` uses
threads the same way). Worker threads only call the vector layer, never the ORM, so they open no
database connections.

One pool per process, created lazily and recreated after a fork: a forked Celery worker inherits
the parent's executor object but not its threads, and submitting to it would wait forever. The
pool is shared by concurrent requests, which bounds the threads (and SQLite connections) a
process ever holds; a busy moment queues work instead of starting more threads.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from twinadmin.vectors import VectorIndex

MAX_WORKERS = 8

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def search_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="twin-search"))
        return _pool[1]


def search_workers(index: VectorIndex) -> int:
    """How many namespaces one search queries at a time by default: what the index says pays
    off (`concurrency_hint`), at most the pool's size.

    Over the network (the Pinecone adapter) each query is mostly a round trip, and overlapping
    them is the whole gain. The local store is in-process and CPU-bound: its threads contend for
    the GIL (row decoding, JSON) and for OpenBLAS, and bench/search_bench.py measured them slower
    than one after another, so it gets one stream unless a caller asks for more."""
    return max(1, min(index.concurrency_hint, MAX_WORKERS))
