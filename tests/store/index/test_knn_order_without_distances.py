"""A KNN whose distances are not read keeps the index's order only where it is certain.

FT.SEARCH with NOCONTENT (or a RETURN without the distance) skips recomputing the hits'
distances in VecSim's order of additions when the index's distances are far enough apart
(store.index.vecsim_arith.order_is_certain). The answer must be the one the recomputed
distances give: the same keys in the same order, near ties and exact ties included.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from store.config import EngineConfig
from store.engine import Engine
from store.index.vecsim_arith import order_is_certain
from store.index.vector import Metric

DIM = 48


def _engine(tmp_path: Path, algorithm: str, metric: str) -> Engine:
    engine = Engine(EngineConfig(data_dir=tmp_path))
    params = ["TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", metric]
    engine.execute(
        "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA",
        "v", "VECTOR", algorithm, str(len(params)), *params,
    )  # fmt: skip
    return engine


def _nudged(vec: np.ndarray, ulps: int, at: int) -> np.ndarray:
    out = vec.copy()
    for _ in range(ulps):
        out[at] = np.nextafter(out[at], np.float32(np.inf))
    return out


@pytest.mark.parametrize("metric", ["COSINE", "L2", "IP"])
@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
def test_nocontent_order_equals_the_recomputed_order(
    tmp_path: Path, algorithm: str, metric: str
) -> None:
    engine = _engine(tmp_path, algorithm, metric)
    rng = np.random.default_rng(3)
    base = rng.standard_normal((120, DIM)).astype(np.float32)
    vectors = list(base)
    # near ties the two orders of addition may disagree on: one-ulp nudges, exact
    # duplicates (ties broken by key), and a cluster around one point
    for i in range(0, 40, 4):
        vectors.append(_nudged(base[i], 1, i % DIM))
        vectors.append(base[i].copy())
        vectors.append(_nudged(base[i], 3, (i + 5) % DIM))
    for i, vec in enumerate(vectors):
        engine.execute("HSET", f"d:{i:04d}", "v", vec.tobytes())
    queries = [base[i] for i in range(0, 40, 4)] + list(rng.standard_normal((20, DIM)))
    checked = 0
    for q in queries:
        blob = np.asarray(q, dtype=np.float32).tobytes()
        knn = "*=>[KNN 12 @v $B AS dist]"
        exact = engine.execute(
            "FT.SEARCH", "idx", knn, "RETURN", "1", "dist", "LIMIT", "0", "12",
            "PARAMS", "2", "B", blob, "DIALECT", "2",
        )  # fmt: skip
        fast = engine.execute(
            "FT.SEARCH", "idx", knn, "NOCONTENT", "LIMIT", "0", "12",
            "PARAMS", "2", "B", blob, "DIALECT", "2",
        )  # fmt: skip
        assert fast[0] == exact[0]
        assert fast[1:] == exact[1::2], (fast, exact)
        checked += 1
    assert checked == len(queries)


def test_order_is_certain_only_with_room_between_distances() -> None:
    assert order_is_certain([0.1, 0.2, 0.3], Metric.COSINE, 384)
    assert not order_is_certain([0.1, 0.1], Metric.COSINE, 384)  # a tie: by label
    assert not order_is_certain([0.1, 0.10001], Metric.COSINE, 384)
    assert order_is_certain([0.1, 0.10001], Metric.COSINE, 4)  # fewer additions, less error
    assert order_is_certain([1000.0, 1000.5], Metric.L2, 384)
    assert not order_is_certain([1000.0, 1000.01], Metric.L2, 384)  # relative to the distance
    assert not order_is_certain([0.1, 0.9], Metric.IP, 384)  # no bound without the norms
    assert order_is_certain([0.5], Metric.COSINE, 384)
