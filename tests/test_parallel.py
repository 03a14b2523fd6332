"""The engine's threads: how a batch is split, and running pieces of work side by side with the
BLAS pool held at one thread."""

import threading

from nntrain import parallel, threads


def test_shards_split_a_batch_into_contiguous_parts(monkeypatch):
    monkeypatch.setattr(threads, "count", lambda: 3)
    monkeypatch.setattr(parallel, "SMALLEST_SHARD", 16)
    assert parallel.shards(50) == [slice(0, 17), slice(17, 33), slice(33, 50)]
    assert parallel.shards(40) == [slice(0, 20), slice(20, 40)]    # at least 16 samples each
    assert parallel.shards(31) == [slice(None)]
    monkeypatch.setattr(threads, "count", lambda: 1)
    assert parallel.shards(1000) == [slice(None)]


def test_limit_sets_the_engine_threads_too():
    before = threads.count()
    with threads.limit(1):
        assert threads.count() == 1 and parallel.shards(1000) == [slice(None)]
    assert threads.count() == before


def test_by_default_the_engine_follows_the_blas_pool(monkeypatch):
    """A process started with OPENBLAS_NUM_THREADS=1 (a sweep's run) uses one thread."""
    monkeypatch.setattr(threads, "_default", None)
    monkeypatch.setattr(threads, "blas_threads", lambda: 1)
    assert threads.count() == 1


def test_run_keeps_order_uses_other_threads_and_one_blas_thread():
    def task(i):
        return i, threading.current_thread().name, threads.blas_threads()
    before = threads.blas_threads()
    results = parallel.run([lambda i=i: task(i) for i in range(3)])
    assert [r[0] for r in results] == [0, 1, 2]
    assert results[0][1] == threading.current_thread().name
    assert all(name.startswith("nntrain") for _, name, _ in results[1:])
    assert {r[2] for r in results} == {1}
    assert threads.blas_threads() == before
    nested = parallel.run([lambda: parallel.run([lambda: 1, lambda: 2])] * 2)
    assert nested == [[1, 2], [1, 2]]
