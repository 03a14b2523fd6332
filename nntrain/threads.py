"""How many threads the engine computes with: the BLAS pool that runs every matrix product
(set through threadpoolctl: the pool is already running once NumPy is imported, so environment
variables set later do nothing) and the engine's own threads (`nntrain.parallel`).

Default: BLAS's own, all cores unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS said otherwise
before the process started (the engine's threads follow). ``--threads N`` or a config's
``threads: N`` limit both.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

from nntrain import validate

_count: int | None = None            # the engine's threads, when limited
_default: int | None = None          # the BLAS pool's size when first asked (see `count`)
_blas_libs: list | None = None       # threadpoolctl's controllers of the BLAS libraries


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def count() -> int:
    """The threads the engine may use: the limit, else the BLAS pool's own size (all cores,
    or what OPENBLAS_NUM_THREADS / OMP_NUM_THREADS said: a sweep's runs get one thread each)."""
    global _default
    if _count:
        return _count
    if _default is None:
        _default = blas_threads() or cores()
    return _default


class Limit:
    """The BLAS pool and the engine held at `n` threads until `restore_original_limits()` (or
    the end of a ``with`` block)."""

    def __init__(self, n: int):
        global _count
        self._blas = threadpool_limits(limits=n, user_api="blas")
        self._previous, _count = _count, n

    def restore_original_limits(self) -> None:
        global _count
        self._blas.restore_original_limits()
        _count = self._previous

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore_original_limits()


def limit(n: int, key: str = "threads") -> Limit:
    """Limit the BLAS pool and the engine to `n` threads; errors name `key`."""
    return Limit(validate.positive_int(key, n))


@contextmanager
def single_blas():
    """The BLAS pool at one thread inside the block (the engine's threads run side by side).
    Talks to the libraries found once, directly: a threadpoolctl ``limit`` block costs ~0.1 ms,
    this ~0.04."""
    global _blas_libs
    if _blas_libs is None:
        _blas_libs = ThreadpoolController().select(user_api="blas").lib_controllers
    libs = _blas_libs
    before = [lib.get_num_threads() for lib in libs]
    for lib, n in zip(libs, before):
        if n != 1:
            lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, before):
            if n != 1:
                lib.set_num_threads(n)


def blas_threads() -> int | None:
    """The BLAS pool's current size (None when no BLAS library is loaded)."""
    sizes = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return max(sizes) if sizes else None
