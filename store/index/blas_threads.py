"""BLAS threads per FLAT scan: every core for one large matrix-vector product at a time.

The server runs BLAS single-threaded (``store.server.cli``), so concurrent work on the
search pool does not oversubscribe the cores. A FLAT scan's matrix-vector product is the
exception: FLAT scans of one index already run one at a time (:mod:`store.index.
scan_batch`, or on the event loop for a short one). Giving that one product every core
halves it. 384-d column-major float32, this machine (2 cores):

======== ========= =========
vectors  1 thread  2 threads
======== ========= =========
2,000    0.116 ms  0.050 ms
20,000   1.27 ms   0.67 ms
100,000  8.98 ms   3.65 ms
======== ========= =========

(docs/decisions/0018-blas-threads-per-scan.md). :func:`scan_threads` raises the library's
thread count for the block, under a process-wide lock, and restores it afterwards: at most
one FLAT product at a time runs threaded, so scans of several indexes on the search pool
do not oversubscribe the cores (0002 measured 80 QPS for 8 clients at 100k when every
concurrent scan had 2 threads). Another BLAS call running meanwhile (a filtered scan's
smaller product) may use the raised count too; OpenBLAS serialises callers of its thread
pool, so that costs time, not correctness. Setting the count is a direct call into
OpenBLAS (``openblas_set_num_threads_local``: the calling thread's count, see
:func:`_thread_count_setters`), not threadpoolctl's context manager, which enumerates the
loaded libraries each time (~0.3 ms at 20k x 384 per call, measured).

The threaded product sums in another order than the single-threaded one: distances move
in the last bits (up to 3e-6 at 2k-20k rows, measured). Every scan of a given size takes
the same path, so a result does not depend on how many clients query. The distances
clients see of a FLOAT32 or FLOAT64 field are not these: they are recomputed from the
documents' blobs (``SearchIndex.exact``).

Products smaller than :data:`PARALLEL_MIN_FLOATS` matrix elements, and processes with one
core or no BLAS library threadpoolctl can drive, keep the current count.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["PARALLEL_MIN_FLOATS", "scan_threads"]

PARALLEL_MIN_FLOATS = 500_000
"""Below this many matrix elements (1,300 vectors at 384-d) a second thread does not pay."""

MAX_THREADS = 4

_lock = threading.Lock()
_setters: list[Any] | None = None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _thread_count_setters() -> list[Any]:
    """One function per BLAS library numpy loaded (found once, through threadpoolctl):
    ``set(n) -> previous``, for the calling thread.

    OpenBLAS as numpy bundles it (0.3.31 here) keeps a thread count per calling thread:
    its global ``openblas_set_num_threads`` called from a thread other than the main one
    leaves that thread's products single-threaded (measured: a search-pool thread ran the
    100k product in 8.3 ms after the global call, 3.5 ms after the thread-local one), and
    FT.SEARCH runs on the search pool. ``openblas_set_num_threads_local`` sets the calling
    thread's count and returns the previous one. Libraries without it get threadpoolctl's
    global setter."""
    global _setters
    if _setters is None:
        from threadpoolctl import ThreadpoolController

        found = []
        for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
            local = None
            if lib.internal_api == "openblas":
                try:
                    local = ctypes.CDLL(lib.filepath).openblas_set_num_threads_local
                except (OSError, AttributeError):
                    local = None
            if local is not None:
                local.argtypes = [ctypes.c_int]
                local.restype = ctypes.c_int
                found.append(local)
            else:
                found.append(_global_setter(lib))
        _setters = found
    return _setters


def _global_setter(lib: Any) -> Any:
    def set_threads(n: int) -> int:
        before = int(lib.num_threads)
        lib.set_num_threads(n)
        return before

    return set_threads


@contextmanager
def scan_threads(floats: int) -> Iterator[None]:
    """Run the block's BLAS calls on the calling thread with every core (up to
    :data:`MAX_THREADS`) when the product reads at least :data:`PARALLEL_MIN_FLOATS`
    elements; one such block at a time in the process. Restores each library's thread
    count on exit."""
    want = min(MAX_THREADS, _cores())
    if floats < PARALLEL_MIN_FLOATS or want <= 1:
        yield
        return
    with _lock:
        raised = []
        try:
            for set_threads in _thread_count_setters():
                raised.append((set_threads, set_threads(want)))
            yield
        finally:
            for set_threads, before in raised:
                set_threads(before)
