"""FLAT scans run their matrix-vector product on every core, one product at a time
(store.index.blas_threads), and leave the process's BLAS thread count as they found it."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_limits

from store.index import blas_threads, flat
from store.index.blas_threads import PARALLEL_MIN_FLOATS, scan_threads
from store.index.flat import FlatIndex
from store.index.vector import Metric

CORES = blas_threads._cores()
needs_two_cores = pytest.mark.skipif(CORES < 2, reason="one core: nothing to parallelise")


def _blas_threads() -> int:
    return max(
        lib.num_threads for lib in ThreadpoolController().select(user_api="blas").lib_controllers
    )


@needs_two_cores
def test_a_large_product_gets_every_core_and_the_count_comes_back() -> None:
    with threadpool_limits(limits=1, user_api="blas"):
        with scan_threads(PARALLEL_MIN_FLOATS):
            assert _blas_threads() == min(blas_threads.MAX_THREADS, CORES)
        assert _blas_threads() == 1
        with scan_threads(PARALLEL_MIN_FLOATS - 1):
            assert _blas_threads() == 1  # too small to pay for a second thread


@needs_two_cores
def test_the_count_comes_back_when_the_block_raises() -> None:
    with threadpool_limits(limits=1, user_api="blas"):
        with pytest.raises(RuntimeError), scan_threads(PARALLEL_MIN_FLOATS):
            raise RuntimeError("scan failed")
        assert _blas_threads() == 1


@needs_two_cores
def test_one_threaded_product_at_a_time() -> None:
    inside = threading.Event()
    release = threading.Event()
    second_in = threading.Event()

    def first() -> None:
        with scan_threads(PARALLEL_MIN_FLOATS):
            inside.set()
            release.wait(5)

    def second() -> None:
        with scan_threads(PARALLEL_MIN_FLOATS):
            second_in.set()

    a = threading.Thread(target=first)
    a.start()
    assert inside.wait(5)
    b = threading.Thread(target=second)
    b.start()
    assert not second_in.wait(0.2)  # waits for the first product
    release.set()
    a.join(5)
    b.join(5)
    assert second_in.is_set()


@needs_two_cores
@pytest.mark.parametrize("metric", [Metric.COSINE, Metric.IP])
def test_a_flat_scan_of_a_large_index_multiplies_on_every_core(
    metric: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    dim = 64
    n = PARALLEL_MIN_FLOATS // dim + 10
    index = FlatIndex(dim, metric)
    index.add_batch(np.arange(n), rng.standard_normal((n, dim)).astype(np.float32))
    seen: list[int] = []
    real = flat.distances

    def spy(stored: Any, query: Any, m: Metric) -> Any:
        seen.append(_blas_threads())
        return real(stored, query, m)

    monkeypatch.setattr(flat, "distances", spy)
    query = rng.standard_normal(dim).astype(np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        hits = index.search(query, 5)
        assert _blas_threads() == 1
    assert seen == [min(blas_threads.MAX_THREADS, CORES)]
    rows = index._vectors[:n].astype(np.float64)
    q = query.astype(np.float64)
    if metric is Metric.COSINE:
        q /= np.linalg.norm(q)
    assert {label for label, _ in hits} == set(np.argsort(-(rows @ q))[:5].tolist())


@needs_two_cores
def test_a_product_on_another_thread_gets_every_core_too() -> None:
    """FT.SEARCH scans on the search pool: OpenBLAS keeps a thread count per calling
    thread, so a count raised only globally leaves a pool thread's product on one core."""
    seen: list[int] = []

    def scan() -> None:
        with scan_threads(PARALLEL_MIN_FLOATS):
            seen.append(_blas_threads())
        seen.append(_blas_threads())

    with threadpool_limits(limits=1, user_api="blas"):
        worker = threading.Thread(target=scan)
        worker.start()
        worker.join(10)
    assert seen == [min(blas_threads.MAX_THREADS, CORES), 1]
