"""KNN hits without SORTBY in RediSearch's order (`search-knn-order score`) against the
peer, raw replies in RESP2 and RESP3; and nearest first by default (Amazon MemoryDB's order).

RediSearch 2.10 ranks a KNN query's K nearest documents by the scorer's score, descending,
ties by document id (so a plain `*=>[KNN ...]`, whose hits all score 0, comes back in
indexing order, a rewritten document last), then applies LIMIT.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair, call, connected_pair

DIM = 4


@pytest.fixture(scope="module")
def memvec() -> Iterator[ServerThread]:
    """This module's server orders KNN hits as RediSearch does (the shared `pair` uses it)."""
    thread = ServerThread(ServerConfig(port=0, data_dir=None, search_knn_order="score")).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(params=["FLAT", "HNSW"])
def index(request: pytest.FixtureRequest, pair: Pair, redis_stack: RedisStack) -> Iterator[str]:
    name = f"ko{uuid.uuid4().hex[:8]}"
    pair.same("FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA", "v", "VECTOR",
              request.param, "6", "TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "L2",
              "g", "TAG", "n", "NUMERIC")  # fmt: skip
    wait_index_scanned(pair.peer, name)
    rng = np.random.default_rng(5)
    vectors = rng.random((14, DIM)).astype(np.float32)
    for i, vec in enumerate(vectors):
        pair.same("HSET", f"{name}:{i}", "v", vec.tobytes(), "g", "xy"[i % 2], "n", i)
    pair.same("HSET", f"{name}:3", "v", vectors[3].tobytes(), "g", "y", "n", 3)  # new doc id
    pair.same("DEL", f"{name}:5")
    pair.same("HSET", f"{name}:5", "v", vectors[5].tobytes(), "g", "x", "n", 5)
    yield name
    pair.both("FT.DROPINDEX", name, "DD")


def test_knn_without_sortby_in_redisearch_order(pair: Pair, index: str) -> None:
    q = np.ones(DIM, np.float32).tobytes()
    for query in ("*=>[KNN 6 @v $q]", "@g:{x}=>[KNN 4 @v $q]", "(-@g:{x})=>[KNN 3 @v $q]",
                  "@n:[2 9]=>[KNN 5 @v $q]", "*=>[KNN 20 @v $q AS d]"):  # fmt: skip
        for extra in ((), ("WITHSCORES",), ("LIMIT", 1, 3), ("RETURN", 1, "__v_score"),
                      ("RETURN", 1, "d"), ("SORTBY", "__v_score"), ("SORTBY", "n", "DESC")):  # fmt: skip
            if "d]" not in query and "d" in extra:
                continue
            if "AS d" in query and "__v_score" in extra:
                continue
            pair.same("FT.SEARCH", index, query, "NOCONTENT", *extra, "PARAMS", 2, "q", q,
                      "DIALECT", 2)  # fmt: skip


def test_default_order_is_nearest_first(redis_stack: RedisStack) -> None:
    thread = ServerThread(ServerConfig(port=0, data_dir=None)).start()
    try:
        with connected_pair(thread.port, redis_stack, 2) as both:
            r = both.memvec
            assert call(r, "CONFIG", "GET", "search-knn-order") == [
                b"search-knn-order",
                b"distance",
            ]
            call(r, "FT.CREATE", "near", "SCHEMA", "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32",
                 "DIM", DIM, "DISTANCE_METRIC", "L2")  # fmt: skip
            for i in range(6):
                call(r, "HSET", f"d{i}", "v", np.full(DIM, 5 - i, np.float32).tobytes())
            reply = call(r, "FT.SEARCH", "near", "*=>[KNN 3 @v $q]", "NOCONTENT", "PARAMS", 2,
                         "q", np.zeros(DIM, np.float32).tobytes(), "DIALECT", 2)  # fmt: skip
            assert reply == [3, b"d5", b"d4", b"d3"]
            assert call(r, "CONFIG", "SET", "search-knn-order", "score") == b"OK"
            reply = call(r, "FT.SEARCH", "near", "*=>[KNN 3 @v $q]", "NOCONTENT", "PARAMS", 2,
                         "q", np.zeros(DIM, np.float32).tobytes(), "DIALECT", 2)  # fmt: skip
            assert reply == [3, b"d3", b"d4", b"d5"]
            refused = call(r, "CONFIG", "SET", "search-knn-order", "random")
            assert isinstance(refused, tuple) and "distance, score" in refused[1]
    finally:
        thread.stop()
