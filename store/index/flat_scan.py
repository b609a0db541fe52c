"""A FLAT scan's distances, ``1 - dot(row, query)`` or squared L2, for several queries in
one pass.

A FLAT KNN query reads the whole vector matrix (100k x 384 float32: 154 MB), so a scan
costs what streaming the matrix from memory costs. Queries that wait for the same index
share one pass (:mod:`store.index.scan_batch` gathers them): each row, read once, meets
every query while it is in registers. On the 2-core AMD EPYC at 100k x 384, one core:

======= ========================== ====================================
queries one pass (``flat_scan_c``) OpenBLAS, column-major, per query
======= ========================== ====================================
1       6.2 ms                     6.5 ms
8       11.8 ms                    52 ms (8 x 6.5; as one product: 25-30)
16      22.4 ms                    104 ms
======= ========================== ====================================

(docs/decisions/0034-flat-scans-batched-in-one-pass.md). The matrix is row-major: the
column-major layout OpenBLAS's matrix-vector product prefers made a multi-query pass read
384 strided streams, 35-56 ms for 8 queries.

Contract of :func:`dot_distances`: ``out[q, i]`` is ``1 - dot(matrix[i], queries[q])`` with
the additions in one fixed order (``store/index/flat_scan_c.c``): lane ``j % 16`` sums
element ``j``'s product in order of ``j``, then the 16 lanes are folded in halves. So a
query's distances are the same bits whether it is scanned alone or with others, on any
number of threads, by the C module or by :func:`reference_dot_distances` (its numpy twin,
used where the C module did not build; ``tests/store/index/test_flat_scan.py`` holds the
two equal). :func:`l2_distances` is the same pass for ``L2``: each lane adds the squared
differences (the difference rounded to float, then its square) in the same order. Both
take ``select``, the matrix rows to scan (a filtered subset), read where they lie: the
same bits as scanning ``matrix[select]``, without the copy (docs/decisions/0036).

:func:`scan_threads` chooses the threads of a large pass: every core (up to
:data:`MAX_THREADS`) for one pass at a time in the process, one thread below
:data:`PARALLEL_MIN_FLOATS` matrix elements.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt

from ..cpus import available_cpus

try:
    from . import flat_scan_c
except ImportError:  # no C compiler at install time: the numpy twin, same bits, slower
    flat_scan_c = None  # type: ignore[assignment]

__all__ = [
    "LANES",
    "MAX_THREADS",
    "PARALLEL_MIN_FLOATS",
    "dot_distances",
    "l2_distances",
    "reference_dot_distances",
    "reference_l2_distances",
    "scan_threads",
]

LANES = 16
"""Partial sums per row and query (the order of additions, see the module docstring)."""

PARALLEL_MIN_FLOATS = 500_000
"""Below this many matrix elements (1,300 vectors at 384-d) a second thread does not pay:
2,000 x 384 took 0.116 ms on one thread (docs/decisions/0018)."""

MAX_THREADS = 4

_threaded = threading.Lock()

F32 = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]
"""Row numbers of a matrix (``select``: the rows a pass reads)."""


@contextmanager
def scan_threads(floats: int) -> Iterator[int]:
    """The threads a pass over ``floats`` matrix elements may use: every core (up to
    :data:`MAX_THREADS`) for a large pass, one such pass at a time in the process (a second
    waits, so concurrent scans of several indexes do not oversubscribe the cores: 0002
    measured 80 QPS for 8 clients at 100k when every scan took 2 threads); 1 below
    :data:`PARALLEL_MIN_FLOATS` or on one core."""
    want = min(MAX_THREADS, available_cpus())
    if floats < PARALLEL_MIN_FLOATS or want <= 1:
        yield 1
        return
    with _threaded:
        yield want


def dot_distances(
    matrix: F32, queries: F32, *, threads: int = 1, isa: int = -1, select: Rows | None = None
) -> F32:
    """``(len(queries), len(matrix))`` float32: ``1 - dot(row, query)`` for every row of
    ``matrix`` (2-D float32) and every query (2-D, the same width), in one pass over the
    matrix split over ``threads`` threads (see the module docstring). ``select`` (int64
    row numbers): only those rows, in that order, ``(len(queries), len(select))``; a row
    number outside the matrix raises ``ValueError``. ``isa`` picks the C module's kernels
    (``flat_scan_c.c``; tests run each): the default is the widest the CPU runs."""
    if flat_scan_c is None:
        return reference_dot_distances(_selected(matrix, queries, select), queries)
    return _one_pass(flat_scan_c.dot_distances, matrix, queries, threads, isa, select)


def l2_distances(
    matrix: F32, queries: F32, *, threads: int = 1, isa: int = -1, select: Rows | None = None
) -> F32:
    """:func:`dot_distances` for ``L2``: the squared Euclidean distance of every row and
    query (what RediSearch reports for ``L2``), each lane's terms the differences squared,
    in the same order of additions."""
    if flat_scan_c is None:
        return reference_l2_distances(_selected(matrix, queries, select), queries)
    return _one_pass(flat_scan_c.l2_distances, matrix, queries, threads, isa, select)


def _selected(matrix: F32, queries: F32, select: Rows | None) -> F32:
    """The rows the numpy twin scans: ``matrix[select]`` (checked as the C module does)."""
    _check(matrix, queries)
    if select is None:
        return matrix
    if len(select) and (select.min() < 0 or select.max() >= len(matrix)):
        raise ValueError("select holds a row the matrix does not have")
    return matrix[select]


def _check(matrix: F32, queries: F32) -> None:
    if queries.shape[1] != matrix.shape[1]:
        raise ValueError(
            f"queries have {queries.shape[1]} dimensions, the matrix {matrix.shape[1]}"
        )


def _one_pass(
    kernel: Callable[..., None],
    matrix: F32,
    queries: F32,
    threads: int,
    isa: int,
    select: Rows | None = None,
) -> F32:
    """``kernel`` (a function of ``flat_scan_c``) over ``matrix`` (its ``select`` rows)
    and ``queries``."""
    _check(matrix, queries)
    rows, dim = matrix.shape
    if select is not None:
        select = np.ascontiguousarray(select, dtype=np.int64)
        rows = len(select)
    count = queries.shape[0]
    out = np.empty((count, rows), dtype=np.float32)
    kernel(
        np.ascontiguousarray(matrix, dtype=np.float32),
        rows,
        dim,
        np.ascontiguousarray(queries, dtype=np.float32),
        count,
        out,
        threads,
        isa,
        select,
    )
    return out


def reference_dot_distances(matrix: F32, queries: F32) -> F32:
    """:func:`dot_distances` in numpy, each addition as the C module makes it: the
    reference the C module is held to, and the path where it did not build."""
    sums = _lane_sums(matrix, queries, lambda rows, query: rows * query)
    return np.float32(1.0) - sums


def reference_l2_distances(matrix: F32, queries: F32) -> F32:
    """:func:`l2_distances` in numpy, each addition as the C module makes it."""
    return _lane_sums(matrix, queries, lambda rows, query: np.square(rows - query))


def _lane_sums(matrix: F32, queries: F32, term: Callable[[F32, F32], F32]) -> F32:
    """``(len(queries), len(matrix))``: each row's and query's ``term``s (float32, per
    group of :data:`LANES` elements) added per lane in order, then folded in halves."""
    rows, dim = matrix.shape
    count = queries.shape[0]
    pad = -dim % LANES
    stored = np.pad(matrix.astype(np.float32, copy=False), ((0, 0), (0, pad)))
    wanted = np.pad(queries.astype(np.float32, copy=False), ((0, 0), (0, pad)))
    groups = (dim + pad) // LANES
    stored = stored.reshape(rows, groups, LANES)
    wanted = wanted.reshape(count, groups, LANES)
    out = np.empty((count, rows), dtype=np.float32)
    for q in range(count):
        lanes = np.zeros((rows, LANES), dtype=np.float32)
        for g in range(groups):
            lanes += term(stored[:, g, :], wanted[q, g])
        width = LANES
        while width > 1:  # folded in halves: lane i + lane i + width/2
            width //= 2
            lanes = lanes[:, :width] + lanes[:, width : 2 * width]
        out[q] = lanes[:, 0]
    return out
