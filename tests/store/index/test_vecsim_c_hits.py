"""The C twins of the per-query helpers (``all_finite`` and ``sorted_hits`` in
``store/index/vecsim_c.c``) answer what their Python references answer.

``store.index.vector.all_finite`` stands for ``np.isfinite(v).all()``, and
``vecsim_arith.sorted_hits`` for ``sorted(pairs, key=(distance, label))`` with
``order_is_certain`` of the result. The C versions run on every KNN query; the Python ones
where the module did not build, and for the inputs the C leaves to them (NaN distances,
pairs that are not plain ``(int, float)``, non-contiguous or non-float32 arrays).
"""

from __future__ import annotations

import math
import operator
import random

import numpy as np
import pytest

from store.index import vecsim_arith, vector
from store.index.vecsim_arith import order_is_certain, sorted_hits
from store.index.vector import Metric, all_finite

_CODES = {Metric.L2: 0, Metric.IP: 1, Metric.COSINE: 2}
_BY_DISTANCE_THEN_LABEL = operator.itemgetter(1, 0)


def _reference(pairs: list[tuple[int, float]], metric: Metric, dim: int) -> tuple[list, bool]:
    ordered = sorted(pairs, key=_BY_DISTANCE_THEN_LABEL)
    return ordered, order_is_certain([d for _, d in ordered], metric, dim)


def _random_pairs(rng: random.Random) -> list[tuple[int, float]]:
    close = rng.random()
    choices = [
        lambda: rng.random(),  # spread: mostly certain
        lambda: close + rng.random() * 1e-5,  # within the roundoff bound: uncertain
        lambda: 0.5,  # exact ties, broken by label
        lambda: 0.0,
        lambda: -0.0,
        lambda: math.inf,
        lambda: -rng.random() * 1e3,  # IP distances go below zero
        lambda: rng.random() * 1e6,  # L2 scales the bound by the distance
    ]
    return [
        (rng.randrange(0, 2**64 if rng.random() < 0.1 else 8), rng.choice(choices)())
        for _ in range(rng.randint(0, 70))  # past the 64 pairs kept on the C stack
    ]


@pytest.mark.parametrize("metric", list(Metric))
def test_sorted_hits_in_c_equal_the_reference(metric: Metric) -> None:
    native = vecsim_arith.vecsim_c
    assert native is not None, "store/index/vecsim_c.c did not build"
    rng = random.Random(_CODES[metric])
    certain_seen = set()
    for _ in range(3000):
        pairs = _random_pairs(rng)
        dim = rng.choice([1, 4, 384, 1536])
        got = native.sorted_hits(pairs, _CODES[metric], dim)
        assert got is not None
        ordered, certain = got
        want_order, want_certain = _reference(pairs, metric, dim)
        assert ordered == want_order and certain is want_certain, (pairs, dim)
        assert all(
            a is b for a, b in zip(sorted(ordered, key=id), sorted(pairs, key=id), strict=True)
        )
        certain_seen.add(certain)
    assert certain_seen == ({False} if metric is Metric.IP else {False, True})


@pytest.mark.parametrize(
    "pairs",
    [
        [(1, 0.5), (2, math.nan)],  # Python's order of NaN keys depends on the input order
        [(1, 0.5), (-1, 0.25)],  # a label below zero
        [(1, 0.5), (2**64, 0.25)],  # beyond 64 bits
        [(True, 0.5)],  # not a plain int
        [(1, 1)],  # an int distance
        [[1, 0.5]],  # not a tuple
        [(1, 0.5, 3)],
    ],
)
def test_what_the_c_leaves_to_python_is_answered_there(pairs: list) -> None:
    native = vecsim_arith.vecsim_c
    assert native is not None
    assert native.sorted_hits(pairs, _CODES[Metric.L2], 4) is None
    if all(len(p) == 2 for p in pairs):
        got = sorted_hits(pairs, Metric.L2, 4)
        want = _reference(pairs, Metric.L2, 4)
        assert got[0] == want[0] and got[1] == want[1]


def test_sorted_hits_refuses_an_unknown_metric() -> None:
    native = vecsim_arith.vecsim_c
    assert native is not None
    with pytest.raises(ValueError, match="unknown metric"):
        native.sorted_hits([(1, 0.5)], 3, 4)
    with pytest.raises(ValueError, match="dim"):
        native.sorted_hits([(1, 0.5)], 0, 0)
    with pytest.raises(TypeError):
        native.sorted_hits(((1, 0.5),), 0, 4)  # type: ignore[arg-type]  # not a list


def test_sorted_hits_without_the_c_module(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    cases = [_random_pairs(rng) for _ in range(200)]
    compiled = [sorted_hits(p, Metric.COSINE, 384) for p in cases]
    monkeypatch.setattr(vecsim_arith, "vecsim_c", None)
    assert [sorted_hits(p, Metric.COSINE, 384) for p in cases] == compiled


def _arrays(rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for n in (0, 1, 3, 16, 384, 385):
        x = rng.standard_normal(n).astype(np.float32)
        out.append(x.copy())
        for bad in (np.nan, np.inf, -np.inf):
            if n:
                y = x.copy()
                y[rng.integers(0, n)] = bad
                out.append(y)
        tiny = np.full(n, np.float32(1e-45))  # subnormals and the largest float are finite
        tiny[::2] = np.finfo(np.float32).max
        out.append(tiny)
        out.append(-np.zeros(n, dtype=np.float32))
    # a quiet NaN with a payload, and a signalling one
    out.append(np.array([0x7FC00001, 0x7F800001], dtype=np.uint32).view(np.float32))
    return out


def test_all_finite_in_c_equals_numpy() -> None:
    native = vecsim_arith.vecsim_c
    assert native is not None
    for x in _arrays(np.random.default_rng(3)):
        assert native.all_finite(x) is bool(np.isfinite(x).all()), x
        assert native.all_finite(x.tobytes()) is bool(np.isfinite(x).all())
    with pytest.raises(ValueError, match="multiple of 4"):
        native.all_finite(b"\x00" * 5)


def test_all_finite_takes_the_c_module_only_for_contiguous_float32(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    native = vector._vecsim_c
    assert native is not None

    class Recording:
        @staticmethod
        def all_finite(values: object) -> bool:
            calls.append(1)
            return native.all_finite(values)

    monkeypatch.setattr(vector, "_vecsim_c", Recording)
    grid = np.ones((4, 6), dtype=np.float32)
    grid[2, 3] = np.nan
    assert all_finite(grid[0]) and calls == [1]
    assert not all_finite(grid[:, 3]) and calls == [1]  # a column: not contiguous, numpy
    assert not all_finite(grid.astype(np.float64)) and calls == [1]
    assert not all_finite(grid) and calls == [1, 1]
    monkeypatch.setattr(vector, "_vecsim_c", None)
    for x in _arrays(np.random.default_rng(4)):
        assert all_finite(x) is bool(np.isfinite(x).all())
