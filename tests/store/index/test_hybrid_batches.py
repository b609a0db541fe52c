"""A filtered KNN on HNSW as batches of plain walks (store.index.hybrid_batches): the
function's walks and sizes, and the engine's plans on real embeddings (which plan answers,
recall against the exact filtered answer, HYBRID_POLICY, a filter far from the query,
multi-vector JSON documents)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from store import Engine, EngineConfig
from store.index.flat import FlatIndex
from store.index.hybrid_batches import BATCH_GROWTH, BATCH_MARGIN, filtered_batches

Fixture = tuple[Engine, np.ndarray, np.ndarray]
"""The engine with the 4,000 documents, their vectors and the queries."""
DATA = Path(__file__).resolve().parents[2] / "data" / "pypi-minilm-4k.npz"
DOCS = 4000
FAR = 0.6
"""The share of the documents least like the first query that tag ``far`` holds."""


def _two_thirds() -> set[int]:
    """``@t:{a}``: too many documents for an exact scan (> 2,000 and > 5%)."""
    return {i for i in range(DOCS) if i % 3 != 2}


def _walks(
    hits: list[tuple[int, float]],
) -> tuple[list[tuple[int, int]], Callable[[int, int], list[tuple[int, float]]]]:
    """A fake walk over ``hits`` (nearest first) that records its (size, ef) calls."""
    calls: list[tuple[int, int]] = []

    def search(size: int, ef: int) -> list[tuple[int, float]]:
        calls.append((size, ef))
        return hits[:size]

    return calls, search


def test_one_walk_when_enough_pass() -> None:
    hits = [(label, label / 1000) for label in range(1000)]
    calls, search = _walks(hits)
    even = lambda found: [h for h in found if h[0] % 2 == 0]  # noqa: E731
    got = filtered_batches(search, even, k=10, vectors=1000, passing=500, ef=15)
    assert got == [(label, label / 1000) for label in range(0, 20, 2)]
    size = math.ceil(10 * 1000 / 500 * BATCH_MARGIN)
    assert calls == [(size, max(15, size))]


def test_a_larger_walk_then_none_when_too_few_pass() -> None:
    hits = [(label, label / 1000) for label in range(10_000)]
    calls, search = _walks(hits)
    far = lambda found: [h for h in found if h[0] >= 9_990]  # noqa: E731  the farthest 10
    got = filtered_batches(search, far, k=10, vectors=10_000, passing=1000, ef=500)
    assert got is None  # the caller walks with the predicate
    first = math.ceil(10 * 10_000 / 1000 * BATCH_MARGIN)
    assert calls == [(first, 500), (first * BATCH_GROWTH, first * BATCH_GROWTH)]
    # a second walk that finds them answers
    calls, search = _walks(hits)
    some = lambda found: [h for h in found if h[0] % 300 == 299]  # noqa: E731
    got = filtered_batches(search, some, k=3, vectors=10_000, passing=33, ef=10, batch_size=400)
    assert got == [(299, 0.299), (599, 0.599), (899, 0.899)]
    assert calls == [(400, 400), (1600, 1600)]


def test_a_walk_over_every_vector_answers_with_what_passes() -> None:
    hits = [(label, float(label)) for label in range(30)]
    calls, search = _walks(hits)
    one = lambda found: [h for h in found if h[0] == 7]  # noqa: E731
    got = filtered_batches(search, one, k=5, vectors=30, passing=1, ef=10)
    assert got == [(7, 7.0)] and calls == [(30, 30)]
    assert filtered_batches(search, one, k=5, vectors=0, passing=0, ef=10) == []
    calls, search = _walks(hits)
    filtered_batches(search, one, k=5, vectors=30, passing=30, ef=1, batch_size=2)
    assert calls[0] == (5, 5)  # never fewer than k


@pytest.fixture(scope="module")
def engine() -> Iterator[Fixture]:
    with np.load(DATA) as z:
        base = z["base"][:DOCS].astype(np.float32)
        queries = z["queries"][:40].astype(np.float32)
    eng = Engine(EngineConfig(data_dir=None)).start()
    try:
        eng.execute("FT.CREATE", "h", "ON", "HASH", "PREFIX", 1, "d:", "SCHEMA", "v", "VECTOR",
                    "HNSW", 6, "TYPE", "FLOAT32", "DIM", 384, "DISTANCE_METRIC", "COSINE",
                    "t", "TAG", "far", "TAG")  # fmt: skip
        far = _farthest(base, queries[0], FAR)
        eng.execute_many(
            [
                [
                    "HSET",
                    f"d:{i}",
                    "v",
                    base[i].tobytes(),
                    "t",
                    "aab"[i % 3],
                    "far",
                    "y" if i in far else "n",
                ]
                for i in range(DOCS)
            ]
        )
        yield eng, base, queries
    finally:
        eng.stop()


def _farthest(base: np.ndarray, query: np.ndarray, fraction: float) -> set[int]:
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    order = np.argsort(unit @ (query / np.linalg.norm(query)))  # least similar first
    return set(order[: int(len(base) * fraction)].tolist())


def _exact(base: np.ndarray, query: np.ndarray, allowed: set[int], k: int) -> list[bytes]:
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    labels = np.array(sorted(allowed))
    dists = 1 - unit[labels] @ (query / np.linalg.norm(query))
    return [f"d:{i}".encode() for i in labels[np.argsort(dists, kind="stable")[:k]]]


def _knn(eng: Engine, query: np.ndarray, clause: str, k: int = 10, opts: str = "") -> list[bytes]:
    reply = eng.execute("FT.SEARCH", "h", f"{clause}=>[KNN {k} @v $B{opts}]", "PARAMS", 2,
                        "B", query.tobytes(), "NOCONTENT", "LIMIT", 0, k, "DIALECT", 2)  # fmt: skip
    return list(reply[1:])


def _plans(eng: Engine) -> dict[str, int]:
    return dict(eng.indexes.get("h").stats.plans)


def test_a_large_filter_is_answered_by_batches_at_the_indexs_recall(engine: Fixture) -> None:
    eng, base, queries = engine
    allowed = _two_thirds()
    before = _plans(eng).get("filtered-batches", 0)
    found = 0
    for q in queries:
        got = _knn(eng, q, "@t:{a}")
        assert all(int(key[2:]) in allowed for key in got)
        found += len(set(got) & set(_exact(base, q, allowed, 10)))
    assert _plans(eng)["filtered-batches"] - before == len(queries)
    assert found / (10 * len(queries)) >= 0.97  # the default breadth's recall (0003: >= 0.99)


def test_hybrid_policy_adhoc_bf_is_the_exact_scan_and_batches_take_a_size(engine: Fixture) -> None:
    eng, base, queries = engine
    allowed = _two_thirds()
    before = _plans(eng)
    for q in queries[:10]:
        assert _knn(eng, q, "@t:{a}", opts=" HYBRID_POLICY ADHOC_BF") == _exact(
            base, q, allowed, 10
        )
        got = _knn(eng, q, "@t:{a}", opts=" HYBRID_POLICY BATCHES BATCH_SIZE 50")
        assert len(got) == 10 and all(int(key[2:]) in allowed for key in got)
    after = _plans(eng)
    assert after["exact-subset"] - before.get("exact-subset", 0) == 10
    assert after["filtered-batches"] - before.get("filtered-batches", 0) == 10


def test_a_filter_far_from_the_query_falls_back_to_the_predicate_walk(engine: Fixture) -> None:
    eng, base, queries = engine
    far = _farthest(base, queries[0], FAR)  # the 60% least like queries[0]
    before = _plans(eng).get("filtered-ann", 0)
    got = _knn(eng, queries[0], "@far:{y}")
    assert _plans(eng)["filtered-ann"] - before == 1  # the batches found too few
    want = _exact(base, queries[0], far, 10)
    assert len(got) == 10 and set(got) <= {f"d:{i}".encode() for i in far}
    assert len(set(got) & set(want)) >= 9


def test_multi_vector_documents_are_kept_by_document() -> None:
    rng = np.random.default_rng(3)
    docs = 4400  # 2,200 match: more than an exact scan takes
    near = rng.standard_normal((docs, 1, 4)).astype(np.float32)
    # each document's two vectors lie close together: a walk finds both
    vectors = (near + rng.normal(0, 1e-3, (docs, 2, 4))).astype(np.float32)
    eng = Engine(EngineConfig(data_dir=None)).start()
    try:
        eng.execute("FT.CREATE", "m", "ON", "JSON", "PREFIX", 1, "m:", "SCHEMA", "$.vs[*]",
                    "AS", "v", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", 4,
                    "DISTANCE_METRIC", "L2", "$.g", "AS", "g", "TAG")  # fmt: skip
        eng.execute_many(
            [
                [
                    "JSON.SET",
                    f"m:{i}",
                    "$",
                    json.dumps({"vs": vectors[i].tolist(), "g": "ab"[i % 2]}),
                ]
                for i in range(docs)
            ]
        )
        query = rng.standard_normal(4).astype(np.float32)
        reply = eng.execute("FT.SEARCH", "m", "@g:{a}=>[KNN 5 @v $B AS d]", "PARAMS", 2, "B",
                            query.tobytes(), "SORTBY", "d", "RETURN", 1, "d", "DIALECT", 2)  # fmt: skip
        got = reply[1::2]
        nearest = ((vectors - query) ** 2).sum(-1).min(-1)  # each document at its nearest
        even = np.arange(0, docs, 2)
        want = [f"m:{i}".encode() for i in even[np.argsort(nearest[even], kind="stable")[:5]]]
        assert got == want  # five distinct documents, each once
        assert eng.indexes.get("m").stats.plans == {"filtered-batches": 1}
    finally:
        eng.stop()


def test_a_flat_field_scans_a_small_sets_rows_and_shares_the_pass_for_a_large_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A FLAT field answers a filter itself: a set under 5% of the index from its own rows
    (``FlatIndex._subset``), a larger one from the pass over every vector, the set picking;
    never from the hashes' blobs unless ``HYBRID_POLICY ADHOC_BF`` asks."""
    with np.load(DATA) as z:
        base = z["base"][:1000].astype(np.float32)
        query = z["queries"][0].astype(np.float32)
    subsets: list[int] = []
    real = FlatIndex._subset

    def spy(self: FlatIndex, q: Any, k: int, members: Any) -> Any:
        subsets.append(len(members))
        return real(self, q, k, members)

    monkeypatch.setattr(FlatIndex, "_subset", spy)
    eng = Engine(EngineConfig(data_dir=None)).start()
    try:
        eng.execute("FT.CREATE", "f", "ON", "HASH", "PREFIX", 1, "f:", "SCHEMA", "v", "VECTOR",
                    "FLAT", 6, "TYPE", "FLOAT32", "DIM", 384, "DISTANCE_METRIC", "COSINE",
                    "n", "NUMERIC")  # fmt: skip
        eng.execute_many([["HSET", f"f:{i}", "v", base[i].tobytes(), "n", i] for i in range(1000)])
        for top, opts in ((39, ""), (299, ""), (39, " HYBRID_POLICY ADHOC_BF")):  # 4%, 30%
            reply = eng.execute("FT.SEARCH", "f", f"@n:[0 {top}]=>[KNN 10 @v $B{opts}]",
                                "PARAMS", 2, "B", query.tobytes(), "NOCONTENT", "DIALECT", 2)  # fmt: skip
            want = _exact(base, query, set(range(top + 1)), 10)
            assert [key.replace(b"f:", b"d:") for key in reply[1:]] == want
        assert subsets == [40]  # only the 4% set; 30% shared the pass
        assert eng.indexes.get("f").stats.plans == {
            "filtered-rows": 1,
            "filtered-ann": 1,
            "exact-subset": 1,
        }
    finally:
        eng.stop()
