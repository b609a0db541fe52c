"""``VectorIndex.search_blob``: a query given as a FLOAT32 field's bytes, read where they
lie by the graph over the documents' blobs, answers exactly as ``search`` does for the
decoded vector; where it cannot (another graph, another size, NaN or infinite values, not a
``bytes`` object, a walk that found too few) it answers None and does nothing, and the
caller's ``search`` decides. Through the engine, a kept KNN plan's page is served by it."""

from __future__ import annotations

import numpy as np
import pytest

from store import Engine, EngineConfig
from store.index import blob_graph
from store.index.flat import FlatIndex
from store.index.hnsw import HnswIndex
from store.index.vector import Metric

pytestmark = pytest.mark.skipif(
    not blob_graph.AVAILABLE, reason="needs store.index.hnsw_graph (test_hnsw_graph fails then)"
)

DIM = 16
N = 400


def _filled(metric: Metric, **kwargs: object) -> tuple[HnswIndex, np.ndarray]:
    rng = np.random.default_rng(len(metric.value))
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    index = HnswIndex(DIM, metric, m=8, ef_construction=40, **kwargs)  # type: ignore[arg-type]
    blobs = [row.tobytes() for row in vectors]
    index.add_batch(list(range(N)), vectors, sources=blobs)
    return index, vectors


@pytest.mark.parametrize("metric", [Metric.COSINE, Metric.IP, Metric.L2])
def test_the_same_hits_as_search(metric: Metric) -> None:
    index, _ = _filled(metric)
    queries = np.random.default_rng(3).standard_normal((40, DIM)).astype(np.float32)
    for k, ef in ((10, None), (10, 12), (1, 40), (N + 5, None), (0, None)):
        for query in queries:
            got = index.search_blob(query.tobytes(), k, ef)
            assert got == index.search(query, k, ef_runtime=ef)
            assert got is not None and len(got) == min(k, N)
    for label in range(0, N, 3):  # deleted documents are skipped as search skips them
        index.remove(label)
    for query in queries:
        got = index.search_blob(query.tobytes(), 10, None)
        assert got is not None and got == index.search(query, 10)
        assert all(label % 3 for label, _ in got)


def test_none_where_it_cannot_read_the_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    index, vectors = _filled(Metric.COSINE)
    blob = vectors[0].tobytes()
    nan = np.full(DIM, np.nan, dtype=np.float32).tobytes()
    inf = np.concatenate([vectors[0][:-1], [np.inf]]).astype(np.float32).tobytes()
    for wrong in (blob[:-4], blob + b"\0\0\0\0", nan, inf, bytearray(blob), memoryview(blob)):
        assert index.search_blob(wrong, 10) is None  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be a non-negative integer"):
        index.search_blob(blob, -1)
    # a walk that finds fewer than asked: search completes it with an exact scan
    monkeypatch.setattr(type(index._index), "search", lambda self, v, k, ef, allowed=None: [])
    assert index.search_blob(blob, 10) is None
    hits = index.search(vectors[0], 10)
    assert len(hits) == 10 and hits[0][0] == 0


def test_none_for_other_indexes(monkeypatch: pytest.MonkeyPatch) -> None:
    flat = FlatIndex(DIM, Metric.L2)
    flat.add(1, np.ones(DIM, dtype=np.float32))
    assert flat.search_blob(np.ones(DIM, dtype=np.float32).tobytes(), 1) is None
    monkeypatch.setattr(blob_graph, "AVAILABLE", False)  # hnswlib's own graph: a copy
    wheel = HnswIndex(DIM, Metric.L2)
    wheel.add(1, np.ones(DIM, dtype=np.float32))
    assert wheel.search_blob(np.ones(DIM, dtype=np.float32).tobytes(), 1) is None


def test_a_kept_plan_is_served_from_the_blob(monkeypatch: pytest.MonkeyPatch) -> None:
    e = Engine(EngineConfig(data_dir=None)).start()
    try:
        e.execute(
            "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA",
            "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(DIM),
            "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        rng = np.random.default_rng(5)
        for i in range(50):
            e.execute("HSET", f"d:{i}", "v", rng.standard_normal(DIM).astype("<f4").tobytes())

        def query() -> list[object]:
            blob = rng.standard_normal(DIM).astype("<f4").tobytes()
            reply = e.execute("FT.SEARCH", "idx", "*=>[KNN 3 @v $B]", "PARAMS", "2", "B", blob,
                              "NOCONTENT", "DIALECT", "2")  # fmt: skip
            assert isinstance(reply, list)
            return reply

        general = query()  # the general path answers, and keeps the plan
        assert general[0] == 3
        calls: list[int] = []
        real = HnswIndex.search_blob

        def counted(self: HnswIndex, *args: object) -> object:
            calls.append(1)
            return real(self, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(HnswIndex, "search_blob", counted)
        monkeypatch.setattr(HnswIndex, "search", lambda *a, **k: pytest.fail("decoded query"))
        assert query()[0] == 3
        assert calls == [1]
    finally:
        e.stop()
