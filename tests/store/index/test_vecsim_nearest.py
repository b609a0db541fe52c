"""The C screen of a filtered subset (``nearest`` in ``store/index/vecsim_c.c``) keeps every
blob among the k nearest, and reports VecSim's distances for what it keeps.

``vecsim_c.distances`` over every blob is the reference (itself held to the numpy order in
``test_vecsim_c.py``). For each kernel, metric, dimension and k, the positions ``nearest``
returns must hold every position whose distance is at most the k-th smallest (ties at the
k-th included), each with the reference's distance bit for bit, ascending. The inputs
include what breaks a fast float screen: zero rows, rows so small their squares underflow,
rows so large they overflow, NaN and infinity, exact duplicates (ties), rows one ulp
apart, and values across many binades. On model-like data the screen must also prune:
otherwise it is a slower copy of ``distances``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from store.index import vecsim_arith
from store.index.vecsim_arith import AVX, AVX512, IN_ORDER, nearest_blob_distances
from store.index.vector import Metric

_CODES = {Metric.L2: 0, Metric.IP: 1, Metric.COSINE: 2}
DIMS = (1, 15, 16, 17, 33, 384, 385)
KINDS = ("unit", "wide", "edges", "ties", "ulps")


def _rows(rng: np.random.Generator, kind: str, n: int, dim: int) -> npt.NDArray[np.float32]:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    if kind == "unit":
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    if kind == "wide":
        mag = np.float32(2.0) ** rng.integers(-30, 30, (n, dim)).astype(np.float32)
        return (x * mag).astype(np.float32)
    if kind == "edges":
        x[0] = 0.0
        x[1] *= np.float32(1e-22)  # squares underflow in float32
        x[2] *= np.float32(1e-19)
        x[3] *= np.float32(1e25)  # squares overflow in float32
        x[4, 0] = np.nan
        x[5, -1] = np.inf
        x[6] = np.float32(3e38)
        return x
    if kind == "ties":
        few = rng.integers(-2, 3, (4, dim)).astype(np.float32)
        return few[rng.integers(0, 4, n)]
    # "ulps": copies of one row, each with one element moved by a few ulps
    out = np.repeat(x[:1], n, axis=0)
    at = rng.integers(0, dim, n)
    out[np.arange(n), at] = np.nextafter(
        out[np.arange(n), at], np.float32(np.inf) * rng.choice([-1, 1], n)
    ) * rng.integers(1, 3, n).astype(np.float32)
    return out.astype(np.float32)


def _check(rows: npt.NDArray[np.float32], query: npt.NDArray[np.float32], metric: Metric,
           kernel: int, k: int) -> list[int]:  # fmt: skip
    native = vecsim_arith.vecsim_c
    assert native is not None
    blobs, q, dim = [r.tobytes() for r in rows], query.tobytes(), rows.shape[1]
    every = np.asarray(native.distances(blobs, q, dim, _CODES[metric], kernel), dtype=np.float32)
    positions, near = native.nearest(blobs, q, dim, _CODES[metric], kernel, k)
    assert positions == sorted(set(positions))
    got = np.asarray(near, dtype=np.float32)
    assert got.view(np.uint32).tolist() == every[positions].view(np.uint32).tolist()
    if k == 0:
        assert positions == []
        return positions
    finite = np.flatnonzero(~np.isnan(every))
    if len(finite) >= k:
        kth = np.sort(every[finite])[k - 1]
        must = set(np.flatnonzero(every <= kth).tolist())
    else:
        must = set(range(len(rows)))
    assert must <= set(positions), f"missing {sorted(must - set(positions))[:5]}"
    return positions


@pytest.mark.parametrize("kernel", [IN_ORDER, AVX, AVX512])
@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("kind", KINDS)
def test_nearest_keeps_the_k_nearest_with_vecsims_distances(
    kernel: int, metric: Metric, kind: str
) -> None:
    rng = np.random.default_rng([kernel, list(Metric).index(metric), KINDS.index(kind)])
    for dim in DIMS:
        rows = _rows(rng, kind, 60, dim)
        for query in (_rows(rng, kind, 8, dim)[7], rows[11], rows[4]):
            for k in (0, 1, 3, 10, 59, 60, 61):
                _check(rows, query, metric, kernel, k)


@pytest.mark.parametrize("seed", range(12))
def test_random_shapes_and_queries(seed: int) -> None:
    """Short dims (all in the screen's scalar tail), queries that are rows, random k."""
    rng = np.random.default_rng(seed)
    for kind in KINDS:
        for _ in range(4):
            dim = int(rng.choice([1, 7, 16, 30, 100]))
            rows = _rows(rng, kind, 120, dim)
            query = rows[int(rng.integers(0, 120))] if rng.random() < 0.5 else rows[-1] * 3
            for metric in Metric:
                for kernel in (IN_ORDER, AVX, AVX512):
                    _check(rows, query, metric, kernel, int(rng.integers(1, 30)))


@pytest.mark.parametrize("metric", list(Metric))
def test_the_screen_prunes_model_like_data(metric: Metric) -> None:
    """2,000 unit-norm 384-d rows, k 10: a handful kept, not all 2,000."""
    rng = np.random.default_rng(7)
    rows = _rows(rng, "unit", 2000, 384)
    query = _rows(rng, "unit", 1, 384)[0]
    kept = _check(rows, query, metric, AVX512, 10)
    assert 10 <= len(kept) <= 40


def test_the_fallback_returns_every_distance(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    rows = _rows(rng, "unit", 50, 32)
    blobs, q = [r.tobytes() for r in rows], rows[0].tobytes()
    native = nearest_blob_distances(blobs, q, 32, Metric.COSINE, 5)
    monkeypatch.setattr(vecsim_arith, "vecsim_c", None)
    positions, dists = nearest_blob_distances(blobs, q, 32, Metric.COSINE, 5)
    assert positions == list(range(50))
    assert [dists[p] for p in native[0]] == native[1]
    assert nearest_blob_distances(blobs, q, 32, Metric.COSINE, 0) == ([], [])


def test_bad_arguments_are_refused() -> None:
    native = vecsim_arith.vecsim_c
    assert native is not None
    good = np.zeros(16, dtype=np.float32).tobytes()
    with pytest.raises(ValueError, match="negative"):
        native.nearest([good], good, 16, 2, AVX512, -1)
    with pytest.raises(ValueError, match="blob 1"):
        native.nearest([good, good[:-4]], good, 16, 2, AVX512, 1)
    with pytest.raises(ValueError, match="query"):
        native.nearest([good], good[:-4], 16, 2, AVX512, 1)
