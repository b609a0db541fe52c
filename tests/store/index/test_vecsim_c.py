"""The C distances (``store/index/vecsim_c.c``) equal the numpy reference bit for bit.

``vecsim_arith.vecsim_distances`` is the reference: its order of additions was matched
against the peer's printed distances (``tests/server/test_vector_distance_digits*``). The C
module must give the same float32 for every kernel, metric and dimension, including the
leading partial block, zero vectors, and values whose sums round differently in another
order. The module must also have built: the suite runs the compiled path, not the fallback.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from store.index import vecsim_arith
from store.index.vecsim_arith import AVX, AVX512, IN_ORDER, blob_distances, vecsim_distances
from store.index.vector import Metric

_CODES = {Metric.L2: 0, Metric.IP: 1, Metric.COSINE: 2}
DIMS = (1, 3, 8, 15, 16, 17, 24, 31, 33, 128, 383, 384, 385, 768)


def test_the_c_module_built() -> None:
    assert vecsim_arith.vecsim_c is not None, (
        "store/index/vecsim_c.c did not build: install gcc and the Python headers "
        "(python3-dev), then reinstall memvec (pip install -e .)"
    )


def _rows(rng: np.random.Generator, kind: str, n: int, dim: int) -> npt.NDArray[np.float32]:
    if kind == "unit":  # model output: unit-norm within float32
        x = rng.standard_normal((n, dim)).astype(np.float32)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    if kind == "wide":  # magnitudes across many binades: sums round order-dependently
        mag = np.float32(2.0) ** rng.integers(-20, 20, (n, dim)).astype(np.float32)
        return (rng.standard_normal((n, dim)).astype(np.float32) * mag).astype(np.float32)
    if kind == "integers":  # exact products: ties and cancellations
        return rng.integers(-3, 4, (n, dim)).astype(np.float32)
    x = rng.standard_normal((n, dim)).astype(np.float32) * np.float32(7.0)
    x[0] = 0.0  # a zero vector (COSINE keeps it zero: distance 1)
    return x


def _bits(values: list[float]) -> list[int]:
    return np.asarray(values, dtype=np.float32).view(np.uint32).tolist()


@pytest.mark.parametrize("kernel", [IN_ORDER, AVX, AVX512])
@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("kind", ["unit", "wide", "integers", "normal"])
def test_c_equals_numpy_bit_for_bit(kernel: int, metric: Metric, kind: str) -> None:
    assert vecsim_arith.vecsim_c is not None
    rng = np.random.default_rng([kernel, list(Metric).index(metric), len(kind)])
    for dim in DIMS:
        rows = _rows(rng, kind, 12, dim)
        query = _rows(rng, kind, 2, dim)[1]
        want = vecsim_distances(rows, query, metric, kernel)
        got = vecsim_arith.vecsim_c.distances(
            [r.tobytes() for r in rows], query.tobytes(), dim, _CODES[metric], kernel
        )
        assert _bits(got) == want.view(np.uint32).tolist(), (dim, kernel, metric, kind)


@pytest.mark.parametrize("metric", list(Metric))
def test_a_filtered_subsets_page_is_the_same(metric: Metric) -> None:
    # an exact scan's page: hundreds of rows, many groups of four norms
    assert vecsim_arith.vecsim_c is not None
    rng = np.random.default_rng(11)
    rows, query = _rows(rng, "normal", 300, 384), _rows(rng, "normal", 2, 384)[1]
    want = vecsim_distances(rows, query, metric, AVX512)
    got = vecsim_arith.vecsim_c.distances(
        [r.tobytes() for r in rows], query.tobytes(), 384, _CODES[metric], AVX512
    )
    assert _bits(got) == want.view(np.uint32).tolist()


def test_the_search_path_takes_the_c_module_and_the_fallback_agrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(7)
    rows, query = _rows(rng, "normal", 10, 384), _rows(rng, "normal", 2, 384)[1]
    blobs = [r.tobytes() for r in rows]
    calls: list[int] = []
    native = vecsim_arith.vecsim_c
    assert native is not None

    class Recording:
        @staticmethod
        def distances(*args: object) -> list[float]:
            calls.append(1)
            return native.distances(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(vecsim_arith, "vecsim_c", Recording)
    compiled = blob_distances(blobs, query.tobytes(), 384, Metric.COSINE)
    assert calls == [1]
    monkeypatch.setattr(vecsim_arith, "vecsim_c", None)
    assert _bits(blob_distances(blobs, query.tobytes(), 384, Metric.COSINE)) == _bits(compiled)


@pytest.mark.parametrize("native", [True, False])
def test_wrong_sizes_are_refused(native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not native:
        monkeypatch.setattr(vecsim_arith, "vecsim_c", None)
    good = np.ones(4, dtype=np.float32).tobytes()
    with pytest.raises(ValueError, match="float32"):
        blob_distances([good, good[:-4]], good, 4, Metric.L2)
    with pytest.raises(ValueError, match="float32"):
        blob_distances([good], good + good, 4, Metric.L2)
    assert blob_distances([], good, 4, Metric.L2) == []


def test_the_c_module_refuses_bad_arguments() -> None:
    native = vecsim_arith.vecsim_c
    assert native is not None
    good = np.ones(4, dtype=np.float32).tobytes()
    with pytest.raises(TypeError):
        native.distances((good,), good, 4, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not 16 bytes"):
        native.distances([bytearray(good)], good, 4, 0, 0)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unknown metric"):
        native.distances([good], good, 4, 3, 0)
    with pytest.raises(ValueError, match="unknown metric"):
        native.distances([good], good, 4, 0, 3)
    with pytest.raises(ValueError, match="float32 values"):  # no size overflows
        native.distances([], good, 1 << 62, 0, 0)
