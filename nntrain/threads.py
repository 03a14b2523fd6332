"""How many threads the engine computes with: the BLAS pool that runs every matrix product,
set through threadpoolctl (the pool is already running once NumPy is imported, so environment
variables set later do nothing).

Default: BLAS's own, all cores (unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS said otherwise
before the process started). ``nntrain fit --threads N`` or a config's ``threads: N`` limit it.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_info, threadpool_limits

from nntrain import validate


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def limit(n: int, key: str = "threads"):
    """Limit the BLAS pool to `n` threads until the returned limiter's
    ``restore_original_limits()`` (or the end of its ``with`` block); errors name `key`."""
    validate.positive_int(key, n)
    return threadpool_limits(limits=n, user_api="blas")


def blas_threads() -> int | None:
    """The BLAS pool's current size (None when no BLAS library is loaded)."""
    sizes = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return max(sizes) if sizes else None
