"""FLOAT32 distances with RediSearch's arithmetic, so reported distances print its digits.

A FLOAT32 distance is a sum of ``dim`` rounded terms, and its last printed digits
(``%.12g``) depend on the order of the additions. hnswlib (KNN on HNSW), numpy (FLAT, range
queries) and RediSearch's VecSim library each add in their own order, so the same distance
printed differently depending on which path found the document (RediSearch's
``test_with_fields`` compares a KNN reply with a VECTOR_RANGE reply). The distances memvec
reports for a FLOAT32 field are therefore recomputed here, for the hits only, with the
order of VecSim 0.8 (RediSearch 2.10), which picks its kernel by CPU at startup:

* ``dim < 16``: one float accumulator, terms added in order (``FP32_L2Sqr``,
  ``FP32_InnerProduct``);
* AVX-512F (``FP32_L2SqrSIMD16_AVX512``): 16 lanes; the ``dim % 16`` leading elements are
  multiplied into lanes ``0..r-1``, then each block of 16 is fused-multiply-added into
  the lanes, and ``_mm512_reduce_add_ps`` adds the lanes as a tree (upper 8 + lower 8,
  upper 4 + lower 4, then lanes 0+2 and 1+3, then those two);
* otherwise AVX (``FP32_L2SqrSIMD16_AVX``): 8 lanes without fusing (multiply, round, add),
  the ``dim % 8`` leading elements first, and the lanes added left to right.

A fused multiply-add rounds once; numpy has none, so it is computed in double precision
(the product of two floats is exact there) and rounded to float: the result differs from
a true FMA only when that double rounding lands on a tie, which no comparison with the
peer has shown. SSE-only CPUs (VecSim's 4-lane kernel) get the AVX order. ``IP`` is
``1 - dot`` with the same order; ``COSINE`` is IP over unit vectors made as VecSim makes
them (``normalizeVector_imp``: the sum of squares in double, its square root rounded to
float, each element divided by it), from the document's and the query's own values. A zero
vector stays zero (distance 1), where VecSim divides by zero.

:func:`blob_distances` is what the search path calls: it runs the C twin of this module
(``store/index/vecsim_c.c``, built by ``setup.py``) when it built, and the numpy code here
otherwise. For a page of 10 hits of 384-d COSINE the C takes ~4 us and the numpy ~70.
``tests/store/index/test_vecsim_c.py`` holds the two to identical bits for every kernel
and metric.
"""

from __future__ import annotations

import functools
import itertools
import operator

import numpy as np
import numpy.typing as npt

from .vector import Metric

try:
    from . import vecsim_c
except ImportError:  # the C module did not build (no compiler at install): numpy below
    vecsim_c = None  # type: ignore[assignment]

__all__ = [
    "blob_distances",
    "kernel_for",
    "nearest_blob_distances",
    "order_is_certain",
    "sorted_hits",
    "vecsim_distances",
]

_F32 = np.float32

IN_ORDER, AVX, AVX512 = 0, 1, 2
"""VecSim's kernels, as :func:`kernel_for` picks them (the C module's codes too)."""

_METRIC_CODES = {Metric.L2: 0, Metric.IP: 1, Metric.COSINE: 2}


@functools.cache
def _has_avx512f() -> bool:
    """Whether this CPU has AVX-512F (VecSim's choice, read the way Linux reports it)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "avx512f" in line.split()
    except OSError:
        pass
    return False


def kernel_for(dim: int) -> int:
    """The kernel VecSim runs for ``dim`` on this CPU: :data:`IN_ORDER` below 16, else
    :data:`AVX512` with AVX-512F, else :data:`AVX`."""
    if dim < 16:
        return IN_ORDER
    return AVX512 if _has_avx512f() else AVX


def blob_distances(blobs: list[bytes], query: bytes, dim: int, metric: Metric) -> list[float]:
    """The distance from ``query`` to each of ``blobs``, all of them ``dim`` little-endian
    float32 values as the documents and the query hold them, added in VecSim's order: in
    C when the module built, else :func:`vecsim_distances`. ``ValueError`` when a blob or
    the query is not ``4 * dim`` bytes."""
    if vecsim_c is not None:
        return vecsim_c.distances(blobs, query, dim, _METRIC_CODES[metric], kernel_for(dim))
    size = 4 * dim
    if len(query) != size or any(len(b) != size for b in blobs):
        raise ValueError(f"every blob and the query must hold {dim} float32 values")
    rows = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)
    return vecsim_distances(rows, np.frombuffer(query, dtype="<f4"), metric).tolist()


def nearest_blob_distances(
    blobs: list[bytes], query: bytes, dim: int, metric: Metric, k: int
) -> tuple[list[int], list[float]]:
    """VecSim's distances (:func:`blob_distances`) for a subset of ``blobs`` that holds
    every one among the ``k`` nearest, ties at the ``k``-th included: ``(positions,
    distances)``, positions ascending. The C module screens every blob with fast float sums
    and a bound on their error, and computes VecSim's arithmetic only for the blobs that
    can still be among the ``k`` nearest (``nearest`` in ``store/index/vecsim_c.c``): a
    filtered subset of 2,000 384-d blobs in ~0.15 ms instead of ~0.6. Without the module,
    every blob's distance. ``ValueError`` as :func:`blob_distances`."""
    if vecsim_c is not None:
        return vecsim_c.nearest(blobs, query, dim, _METRIC_CODES[metric], kernel_for(dim), k)
    everything = blob_distances(blobs, query, dim, metric) if k > 0 else []
    return list(range(len(everything))), everything


def vecsim_distances(
    rows: npt.NDArray[np.float32],
    query: npt.NDArray[np.float32],
    metric: Metric,
    kernel: int | None = None,
) -> npt.NDArray[np.float32]:
    """The distance from ``query`` to each of ``rows`` (``(n, dim)``), both as the documents
    and the query hold them (not normalised), added in VecSim's order (module docstring),
    with ``kernel`` (default: :func:`kernel_for` ``dim``)."""
    l2 = metric is Metric.L2
    if l2:
        terms = rows - query  # the kernels subtract in float too; the product comes below
        left, right = terms, terms
    else:
        if metric is Metric.COSINE:
            rows, query = _unit(rows), _unit(query)
        left, right = rows, np.broadcast_to(query, rows.shape)
    dim = rows.shape[1]
    kernel = kernel_for(dim) if kernel is None else kernel
    if kernel == IN_ORDER:
        total = np.zeros(rows.shape[0], dtype=_F32)
        for i in range(dim):
            total = total + left[:, i] * right[:, i]  # float32: rounded, then added
    elif kernel == AVX512:
        total = _avx512(left, right)
    else:
        total = _avx(left, right)
    return total if l2 else (_F32(1.0) - total).astype(_F32)


_UNIT_ROUNDOFF = 2.0**-24  # float32's


def order_is_certain(distances: list[float], metric: Metric, dim: int) -> bool:
    """Whether ``distances`` (ascending, as an index computed them in its own order of
    float32 additions) are far enough apart that VecSim's order of additions
    (:func:`vecsim_distances`) cannot reorder them: then a caller that reports no distance
    may keep the index's order and skip the recomputation.

    Each path's error in a sum of ``dim`` rounded terms is at most about ``dim`` units of
    roundoff times the sum of the terms' magnitudes (the classic bound on recursive
    summation, whatever the order), plus a few units for the normalisation or the
    subtraction: for ``COSINE`` (unit vectors) the magnitudes sum to at most 1, for ``L2``
    (non-negative terms) to the distance itself. Two paths disagree by at most twice that;
    a gap of at least four times it is certain. ``IP`` has no such bound without the
    vectors' norms: never certain. Equal distances are never certain (the tie is broken by
    label, on the exact values)."""
    if metric is Metric.IP:
        return False
    bound = 4.0 * (dim + 4) * _UNIT_ROUNDOFF
    for a, b in itertools.pairwise(distances):
        scale = 1.0 if metric is Metric.COSINE else max(abs(a), abs(b))
        if not b - a > bound * scale:
            return False
    return True


def sorted_hits(
    pairs: list[tuple[int, float]], metric: Metric, dim: int
) -> tuple[list[tuple[int, float]], bool]:
    """``pairs`` (label, distance) as an index's search found them, sorted by distance then
    label, and :func:`order_is_certain` of that order. The C twin (``sorted_hits`` in
    ``store/index/vecsim_c.c``) answers when it can; it leaves NaN distances and anything
    but plain (int, float) pairs to this code."""
    if vecsim_c is not None:
        done = vecsim_c.sorted_hits(pairs, _METRIC_CODES[metric], dim)
        if done is not None:
            return done
    ordered = sorted(pairs, key=_BY_DISTANCE_THEN_LABEL)
    return ordered, order_is_certain([d for _, d in ordered], metric, dim)


_BY_DISTANCE_THEN_LABEL = operator.itemgetter(1, 0)  # of (label, distance) pairs


def _unit(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.sqrt(np.square(vectors.astype(np.float64)).sum(axis=-1, keepdims=True))
    norms = norms.astype(_F32)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms != 0)


def _avx512(
    left: npt.NDArray[np.float32], right: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    n, dim = left.shape
    r = dim % 16
    lanes = np.zeros((n, 16), dtype=_F32)
    if r:
        lanes[:, :r] = left[:, :r] * right[:, :r]
    # the exact products of each 16-float block, block-major so each step reads one
    # contiguous (n, 16) slab; each step is one fused multiply-add per lane
    products = np.multiply(left[:, r:], right[:, r:], dtype=np.float64)
    blocks = np.ascontiguousarray(products.reshape(n, -1, 16).transpose(1, 0, 2))
    for block in blocks:
        # added in float64 (the float32 lanes widen exactly), rounded once into float32:
        # the fused multiply-add; one ufunc call per block (a query's fixed cost)
        np.add(lanes, block, out=lanes, casting="unsafe")
    eight = lanes[:, 8:] + lanes[:, :8]
    four = eight[:, 4:] + eight[:, :4]
    return (four[:, 0] + four[:, 2]) + (four[:, 1] + four[:, 3])


def _avx(left: npt.NDArray[np.float32], right: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    n, dim = left.shape
    r = dim % 8
    lanes = np.zeros((n, 8), dtype=_F32)
    if r:
        lanes[:, :r] = left[:, :r] * right[:, :r]
    for start in range(r, dim, 8):
        lanes = lanes + left[:, start : start + 8] * right[:, start : start + 8]
    total = lanes[:, 0]
    for i in range(1, 8):
        total = total + lanes[:, i]
    return total
