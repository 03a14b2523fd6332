"""The engine's own threads, for independent pieces of work made of NumPy calls: NumPy and
BLAS release the GIL while they compute, so the samples of a recurrent layer's batch, split in
shards, run their time loops side by side.

How many threads: `nntrain.threads.count()` (``--threads`` / ``threads:``, default all cores).
While shards run, the BLAS pool is held at one thread (each shard's products are small, and
two callers of a multithreaded BLAS would queue on its pool).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from nntrain import threads

# Samples per shard at least. Small shards lose to the GIL (each NumPy call holds it for its
# set-up) and to the BLAS pool they give up. Measured on 2 cores (under some load): LSTM(64)
# training at batch 32 and 128 ran 10-25% slower in shards, LSTM inference at batch 512 1.3-1.4x
# faster; so only big (inference) batches are split.
SMALLEST_SHARD = 128
_PREFIX = "nntrain-worker"

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


def shards(n: int) -> list[slice]:
    """Contiguous slices splitting n samples into at most `threads.count()` shards of at least
    `SMALLEST_SHARD` samples ([slice(None)]: one shard, the whole batch)."""
    k = min(threads.count(), n // SMALLEST_SHARD)
    if k <= 1:
        return [slice(None)]
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def run(tasks) -> list:
    """Call every task (no arguments) and return their results in order: the first in this
    thread, the others on the engine's threads, with the BLAS pool at one thread meanwhile.
    Called from one of those threads, it runs them all there (no waiting on itself)."""
    if len(tasks) == 1 or threading.current_thread().name.startswith(_PREFIX):
        return [task() for task in tasks]
    pool = _workers(len(tasks) - 1)
    with threads.single_blas():
        futures = [pool.submit(task) for task in tasks[1:]]
        first = tasks[0]()
        return [first] + [f.result() for f in futures]


def _workers(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < n:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool, _pool_size = ThreadPoolExecutor(n, thread_name_prefix=_PREFIX), n
        return _pool


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool when needed."""
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)
