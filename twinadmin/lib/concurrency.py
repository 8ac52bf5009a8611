"""One bounded, ordered thread map for the whole project.

Migrations stream batches through it, erasure deletes and verifies namespaces through it and
search fans one query out across namespaces through it. What they all need:

- results in input order, so the caller can checkpoint "everything up to here is done";
- a bounded window: at most `window` calls submitted and not yet handed back, so memory (and
  how far the calls run ahead of the caller's checkpoints) is bounded however long `items` is,
  and `items` may be an unbounded iterable: it is pulled lazily, on the caller's thread;
- only `fn` runs on pool threads. The caller's own work between results (database writes,
  checkpoints, progress) stays on the caller's thread, where its connection lives; `fn` must not
  touch the ORM;
- on an error, or when the caller stops early (closing the generator), nothing not yet started
  starts, and every call already running finishes before the error reaches the caller: no thread
  is still talking to the index when the caller reports the failure or retries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def context_value(var: ContextVar[T], value: T) -> Iterator[None]:
    """`var` set to `value` inside the block (and in the calls bounded_map runs from it)."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def bounded_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    window: int | None = None,
    pool: Executor | None = None,
    thread_name_prefix: str = "bounded-map",
) -> Iterator[R]:
    """`map(fn, items)` with up to `workers` calls at a time, results in input order.

    `window` (default `workers`) bounds the calls submitted whose results the caller has not
    received yet; `items` is pulled only to keep it full. A larger window (e.g. 2 x workers)
    keeps the threads busy while the caller handles a result.
    `pool`: run on this shared executor instead of a pool made (and shut down) for this call;
    then the window is what bounds this call's share of it, and the pool bounds the process.

    Each call runs in a copy of the caller's context (its context variables: e.g. a page's
    index deadline, twinadmin.vectors.deadlines), as it would inline.
    `workers <= 1` (or a sized `items` of at most one) runs `fn` inline, on the caller's thread.
    An exception from `fn` is raised when its result's turn comes, after every started call has
    finished; results computed after it are dropped. Consume the iterator fully or close it
    (`contextlib.closing`): an abandoned one cancels its pending calls only when collected.
    """
    if window is not None and window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if isinstance(items, Sized):
        workers = min(workers, len(items))
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    window = workers if window is None else window
    own_pool = pool is None
    executor = pool or ThreadPoolExecutor(workers, thread_name_prefix=thread_name_prefix)
    pending: deque[Future[R]] = deque()
    upcoming = iter(items)
    try:
        for item in islice(upcoming, window):
            pending.append(executor.submit(copy_context().run, fn, item))
        while pending:
            result = pending.popleft().result()
            for item in islice(upcoming, 1):  # refill before handing the result over
                pending.append(executor.submit(copy_context().run, fn, item))
            yield result
    finally:
        # An error or an early stop: drop what has not started, wait for what has.
        for future in pending:
            future.cancel()
        if own_pool:
            executor.shutdown(wait=True, cancel_futures=True)
        else:
            wait(pending)
