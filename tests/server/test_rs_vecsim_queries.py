"""Differential tests for query-side causes in RediSearch's ``test_vecsim.py`` (issue #20
item 9): which VECTOR_RANGE leaves yield their distance in unions and intersections
(``test_multiple_range_queries``), FLOAT32 distances printed with RediSearch's digits
whichever path found the document (KNN on HNSW or FLAT, VECTOR_RANGE; ``test_with_fields``),
the order of distance fields in RETURN, and SORTBY of a name only RETURN loads. Raw replies
are compared with the peer's. One memvec server for the module; each test uses its own
index name and key prefix and drops them on the peer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import redis

from store.server import ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair, connected_pair

DIM = 4
N = 40


@pytest.fixture
def pair(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[Pair]:
    with connected_pair(memvec.port, redis_stack, 2) as pair:
        yield pair


@pytest.fixture
def name(pair: Pair) -> Iterator[str]:
    """A fresh index name (also its key prefix); the index and its keys dropped after."""
    index = f"rsq{uuid.uuid4().hex[:8]}"
    yield index
    for r in (pair.memvec, pair.peer):
        try:
            r.execute_command("FT.DROPINDEX", index, "DD")
        except redis.ResponseError:
            pass


def f32(*values: float) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def two_vector_fields(pair: Pair, name: str) -> None:
    """``vf`` FLAT and ``vh`` HNSW, both L2 over ``DIM``; documents 1..N hold ``[i]*DIM`` in
    both, ``t`` "other" for multiples of 5 (else "text"), ``num`` i (RediSearch's test)."""
    pair.same(
        "FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA",
        "vf", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "L2",
        "t", "TEXT", "num", "NUMERIC", "SORTABLE",
        "vh", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    wait_index_scanned(pair.peer, name)
    for i in range(1, N + 1):
        v = f32(*[i] * DIM)
        pair.same("HSET", f"{name}:{i}", "vf", v, "vh", v, "t", "other" if i % 5 == 0 else "text",
                  "num", i)  # fmt: skip


F = "@vf:[VECTOR_RANGE $r $qf]=>{$YIELD_DISTANCE_AS:df}"
H = "@vh:[VECTOR_RANGE $r $qh]=>{$YIELD_DISTANCE_AS:dh}"
K = "=>[KNN 3 @vh $qk AS knn]"
PARAMS = ["PARAMS", "8", "qf", f32(*[N / 4] * DIM), "qh", f32(*[N / 2] * DIM),
          "qk", f32(*[0] * DIM), "r", str(DIM * (N / 4) ** 2), "DIALECT", "2"]  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [
        f"({F} {H}) | (@num:[13 30] @t:other)",  # RediSearch's union over an intersection
        f"({H} {F}) | (@num:[13 30] @t:other)",
        f"(@num:[13 30] @t:other) | ({F} {H})",
        f"({F} | {H}) @t:other",
        f"({F} @t:other) | {H}",
        f"({F} -{H}) | @t:other",
        f"~({F} {H}) @t:other",
        f"({F} @t:text) | ({H} @t:other)",
        f"(({F} {H}) | @t:other) @num:[1 30]",
    ],
)
def test_range_yields_follow_the_branches_that_matched(pair: Pair, name: str, query: str) -> None:
    two_vector_fields(pair, name)
    pair.same("FT.SEARCH", name, query, *PARAMS, "SORTBY", "num", "LIMIT", "0", N,
              "RETURN", "2", "df", "dh")  # fmt: skip


def test_distance_fields_in_return_come_in_query_order(pair: Pair, name: str) -> None:
    """The KNN score, then the yields in query order, then the other RETURN fields,
    whatever their order in RETURN (with or without SORTBY)."""
    two_vector_fields(pair, name)
    for query in (f"({F} {H}){K}", f"({H} {F}){K}", f"({F} | {H})", f"*{K}"):
        for returned in (["df", "dh", "knn", "t"], ["t", "knn", "dh", "df"], ["dh", "t", "df"]):
            for sort in ([], ["SORTBY", "num"], ["SORTBY", "t", "DESC"]):
                pair.same("FT.SEARCH", name, query, *PARAMS, *sort, "LIMIT", "0", "3",
                          "RETURN", len(returned), *returned)  # fmt: skip


def test_sortby_a_name_only_return_loads_is_refused(pair: Pair, name: str) -> None:
    two_vector_fields(pair, name)
    pair.same("HSET", f"{name}:1", "foo", "3")
    for extra in (
        ["RETURN", "1", "foo", "SORTBY", "foo"],
        ["RETURN", "3", "foo", "AS", "bar", "SORTBY", "bar"],
        ["RETURN", "3", "num", "AS", "bar", "SORTBY", "bar"],
        ["RETURN", "1", "knn", "SORTBY", "knn"],  # a KNN alias without a KNN
    ):
        pair.same("FT.SEARCH", name, "*", *extra, "DIALECT", "2")


@pytest.mark.parametrize("dim", [3, 20, 128])
def test_float32_distances_print_the_peers_digits_on_every_path(
    pair: Pair, name: str, dim: int
) -> None:
    """Random FLOAT32 vectors: the distances KNN (HNSW and FLAT) and VECTOR_RANGE report
    are the peer's to the last printed digit, for each metric (VecSim's order of
    additions, store.index.vecsim_arith)."""
    rng = np.random.default_rng(dim)
    vectors = (rng.random((12, dim)) * 100).astype("<f4")
    query = (rng.random(dim) * 100).astype("<f4").tobytes()
    for metric in ("L2", "IP", "COSINE"):
        fields = []
        for field, algo in (("vh", "HNSW"), ("vf", "FLAT")):
            fields += [field, "VECTOR", algo, "6", "TYPE", "FLOAT32", "DIM", dim,
                       "DISTANCE_METRIC", metric]  # fmt: skip
        pair.same("FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA", *fields)
        wait_index_scanned(pair.peer, name)
        for i, v in enumerate(vectors):
            pair.same("HSET", f"{name}:{i}", "vh", v.tobytes(), "vf", v.tobytes())
        for field in ("vh", "vf"):
            for q in (f"*=>[KNN 12 @{field} $q AS d]",
                      f"@{field}:[VECTOR_RANGE 1e9 $q]=>{{$YIELD_DISTANCE_AS: d}}"):  # fmt: skip
                pair.same("FT.SEARCH", name, q, "PARAMS", "2", "q", query, "SORTBY", "d",
                          "LIMIT", "0", "12", "RETURN", "1", "d", "DIALECT", "2")  # fmt: skip
        pair.same("FT.DROPINDEX", name, "DD")


def test_float32_json_distances_print_the_peers_digits(pair: Pair, name: str) -> None:
    """ON JSON too, single vectors (HNSW, FLAT) and a multi-vector field (``$.m[*]``: each
    document at its nearest vector)."""
    rng = np.random.default_rng(5)
    dim = 20
    vectors = (rng.random((8, 3, dim)) * 10).astype("<f4")
    query = (rng.random(dim) * 10).astype("<f4").tobytes()
    for metric in ("L2", "COSINE"):
        attrs = ["TYPE", "FLOAT32", "DIM", dim, "DISTANCE_METRIC", metric]
        pair.same("FT.CREATE", name, "ON", "JSON", "PREFIX", "1", f"{name}:", "SCHEMA",
                  "$.h", "AS", "vh", "VECTOR", "HNSW", "6", *attrs,
                  "$.f", "AS", "vf", "VECTOR", "FLAT", "6", *attrs,
                  "$.m[*]", "AS", "vm", "VECTOR", "FLAT", "6", *attrs)  # fmt: skip
        wait_index_scanned(pair.peer, name)
        for i, vs in enumerate(vectors):
            doc = {"h": vs[0].tolist(), "f": vs[0].tolist(), "m": [v.tolist() for v in vs]}
            pair.same("JSON.SET", f"{name}:{i}", "$", json.dumps(doc))
        for field in ("vh", "vf", "vm"):
            for q in (f"*=>[KNN 8 @{field} $q AS d]",
                      f"@{field}:[VECTOR_RANGE 1e9 $q]=>{{$YIELD_DISTANCE_AS: d}}"):  # fmt: skip
                pair.same("FT.SEARCH", name, q, "PARAMS", "2", "q", query, "SORTBY", "d",
                          "LIMIT", "0", "8", "RETURN", "1", "d", "DIALECT", "2")  # fmt: skip
        pair.same("FT.DROPINDEX", name, "DD")
