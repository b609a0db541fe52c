"""VECTOR_RANGE queries sent to `memvec server` and to the peer (RediSearch 2.10), replies
compared: alone and combined with filters, under `|` and `-`, before a KNN clause, with
`$YIELD_DISTANCE_AS` (any case, repeated), `$EPSILON`, SORTBY / LIMIT / RETURN / NOCONTENT,
RESP2 and RESP3, and RediSearch's error texts.

One memvec server and one index pair per module (FLAT L2 and HNSW COSINE on hand-picked
2-d vectors whose distances are exact in float32, so replies compare byte for byte; a
FLAT index of 120 random 8-d vectors, whose distances compare within 1e-5). Without SORTBY
the peer returns range results in document order, and so does memvec.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair, Reply, call, results

HAND = {1: [1.0, 0.0], 2: [1.0, 1.0], 3: [0.0, 1.0], 4: [-1.0, 0.0], 5: [1.0, 0.1]}
DIM = 8
N_RANDOM = 120


def vec(values: list[float]) -> bytes:
    return np.asarray(values, dtype=np.float32).tobytes()


@pytest.fixture(scope="module")
def memvec_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data: Path = tmp_path_factory.mktemp("range-memvec")
    thread = ServerThread(
        ServerConfig(port=0, data_dir=data, appendfsync=FsyncPolicy.ALWAYS)
    ).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def names(memvec_server: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    """A unique prefix; loads the three indexes on both servers and drops them at the end."""
    p = f"rg{uuid.uuid4().hex[:8]}"
    clients = [
        redis.Redis(host="127.0.0.1", port=memvec_server.port, protocol=2),
        redis_stack.client(protocol=2),
    ]
    rng = np.random.default_rng(11)
    randoms = rng.standard_normal((N_RANDOM, DIM)).astype(np.float32)
    for r in clients:
        r.execute_command(
            "FT.CREATE", f"{p}f", "PREFIX", "1", f"{p}:f:", "SCHEMA", "t", "TAG", "n", "NUMERIC",
            "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        r.execute_command(
            "FT.CREATE", f"{p}h", "PREFIX", "1", f"{p}:h:", "SCHEMA", "t", "TAG",
            "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "COSINE",
        )  # fmt: skip
        r.execute_command(
            "FT.CREATE", f"{p}r", "PREFIX", "1", f"{p}:r:", "SCHEMA", "g", "TAG",
            "year", "NUMERIC", "SORTABLE",
            "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        for suffix in "fhr":
            # a key written during the peer's scan would get a new document id, which would
            # shuffle "document order"
            wait_index_scanned(r, f"{p}{suffix}", 30)
        with r.pipeline(transaction=False) as pipe:
            for i, values in HAND.items():
                tag = "a" if i % 2 else "b"
                pipe.hset(f"{p}:f:{i}", mapping={"t": tag, "n": i, "v": vec(values)})
                pipe.hset(f"{p}:h:{i}", mapping={"t": tag, "v": vec(values)})
            for i in range(N_RANDOM):
                doc = {"g": ("x", "y", "z")[i % 3], "year": 1900 + i, "v": randoms[i].tobytes()}
                pipe.hset(f"{p}:r:{i}", mapping=doc)  # type: ignore[arg-type]
            pipe.execute()
    try:
        yield p
    finally:
        for r in clients:
            for suffix in "fhr":
                call(r, "FT.DROPINDEX", f"{p}{suffix}", "DD")
            r.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(
    request: pytest.FixtureRequest, memvec_server: ServerThread, redis_stack: RedisStack
) -> Iterator[Pair]:
    mine = redis.Redis(host="127.0.0.1", port=memvec_server.port, protocol=request.param)
    theirs = redis_stack.client(protocol=request.param)
    try:
        yield Pair(mine, theirs)
    finally:
        mine.close()
        theirs.close()


Q = vec([1.0, 0.0])
Q0 = vec([0.0, 0.0])
PARAMS = ("PARAMS", "10", "q", Q, "z", Q0, "r", "0.3", "x", "abc", "dn", "dd", "DIALECT", "2")

FLAT_QUERIES = [
    ("@v:[VECTOR_RANGE 4 $z]",),
    ("@v:[VECTOR_RANGE 2 $z]=>{$YIELD_DISTANCE_AS: d}",),
    ("@v:[vector_range 2 $z]=>{$yield_distance_as: d}",),
    ("@v:[VECTOR_RANGE 2 $z]=>{$YIELD_DISTANCE_AS: d; $YIELD_DISTANCE_AS: e}",),
    ("@v:[VECTOR_RANGE 2 $z]=>{$YIELD_DISTANCE_AS: $dn}",),
    ("@v:[VECTOR_RANGE 2 $z]=>{$YIELD_DISTANCE_AS: d; $weight: 2}",),
    ("@v:[VECTOR_RANGE 2 $z]=>{$YIELD_DISTANCE_AS: d}=>{$weight: 2}",),
    ("@v:[VECTOR_RANGE 2 $z] => {$YIELD_DISTANCE_AS: d}",),
    ("@v:[VECTOR_RANGE 2 $z]=>{}",),
    ("@t:{a} @v:[VECTOR_RANGE 2 $z]=>{$YIELD_DISTANCE_AS: d}",),
    ("(@v:[VECTOR_RANGE 2 $z]=>{$YIELD_DISTANCE_AS: d}) (@t:{a})",),
    ("@v:[VECTOR_RANGE 2 $z]=>{$YIELD_DISTANCE_AS: d} @n:[2 5]",),
    ("@v:[VECTOR_RANGE 2 $z]=>{$YIELD_DISTANCE_AS: d} -@t:{a}",),
    ("-@v:[VECTOR_RANGE 1 $z]",),
    ("-@v:[VECTOR_RANGE 1 $z]=>{$YIELD_DISTANCE_AS: d}",),
    ("@v:[VECTOR_RANGE 1 $z] @v:[VECTOR_RANGE 4 $z]=>{$YIELD_DISTANCE_AS: d}",),
    ("@v:[VECTOR_RANGE 0.5 $z]=>{$YIELD_DISTANCE_AS: d} | @v:[VECTOR_RANGE 4 $z]=>{$YIELD_DISTANCE_AS: e}",),
    ("@v:[VECTOR_RANGE 0 $z]",),
    ("@v:[VECTOR_RANGE 1e0 $z]",),
    ("@v:[VECTOR_RANGE inf $z]",),
    ("@v:[VECTOR_RANGE $r $z]",),
    ("@n:[VECTOR_RANGE 1 $z]",),
    ("@nosuch:[VECTOR_RANGE 1 $z]",),
    ("@v:[VECTOR_RANGE 1 $z]=>[KNN 2 @v $z]",),
    ("@v:[VECTOR_RANGE 10 $z]=>[KNN 2 @v $z AS s]", "SORTBY", "s"),
    ("@v:[VECTOR_RANGE 5 $z]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "d", "DESC", "LIMIT", "1",
     "2", "RETURN", "1", "d"),
    ("@v:[VECTOR_RANGE 5 $z]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "d", "ASC", "RETURN", "2",
     "d", "t"),
    ("@v:[VECTOR_RANGE 5 $z]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "d", "RETURN", "2", "d", "AS",
     "dist"),
    ("@v:[VECTOR_RANGE 5 $z]", "NOCONTENT"),
    ("@v:[VECTOR_RANGE 5 $z]", "LIMIT", "0", "0"),
    ("@v:[VECTOR_RANGE 5 $z]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "e"),
    # errors
    ("@v:[VECTOR_RANGE -1 $z]",),
    ("@v:[VECTOR_RANGE x $z]",),
    ("@v:[VECTOR_RANGE $x $z]",),
    ("@v:[VECTOR_RANGE 1 $nope]",),
    ("@v:[VECTOR_RANGE 1 $dn]",),
    ("@v:[VECTOR_RANGE 1 $z]=>{$EPSILON: 0.5}",),
    ("@v:[VECTOR_RANGE 1 $z]=>{$EF_RUNTIME: 5}",),
    ("@v:[VECTOR_RANGE 1 $z]=>{$HYBRID_POLICY: ADHOC_BF}",),
    ("@v:[VECTOR_RANGE 1 $z]=>{$foo: 1}",),
    ("@v:[VECTOR_RANGE 1 $z]=>{$YIELD_DISTANCE_AS: t}",),
    ("@v:[VECTOR_RANGE 1 $z 3]",),
    ("@v:[VECTOR_RANGE 1 z]",),
    ("@v:[VECTOR_RANGE]",),
    ("@v:[VECTOR_RANGE 1]",),
    ("@v:[VECTOR_RANGE (1 $z]",),
    ("@t:{a} ]",),
    ("hello )",),
    ("@n:[1 (]",),
    ("*=>[KNN 2 @v $z]=>{$EPSILON: 0.1}",),
    ("*=>[KNN 2 @v $z EPSILON 0.1]",),
    ("*=>[KNN 2 @v $z EF_RUNTIME 10]",),
]  # fmt: skip

HNSW_QUERIES = [
    ("@v:[VECTOR_RANGE $r $q]=>{$YIELD_DISTANCE_AS: d}",),
    ("@v:[VECTOR_RANGE $r $q]=>{$yield_distance_as: d; $EPSILON: 0.5}",),
    ("@v:[VECTOR_RANGE $r $q]=>{$EPSILON: 0.5; $YIELD_DISTANCE_AS: d}",),
    ("@v:[VECTOR_RANGE 1 $q]=>{$YIELD_DISTANCE_AS: d} @t:{a}",),
    ("@v:[VECTOR_RANGE 2 $q]=>{$YIELD_DISTANCE_AS: __v_score}",),
    ("@v:[VECTOR_RANGE 2 $q]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "d"),
    ("@v:[VECTOR_RANGE 0.5 $q]=>{$YIELD_DISTANCE_AS: d} -@t:{a}",),
    ("@v:[VECTOR_RANGE 1 $q]=>{$EPSILON: -1}",),
    ("@v:[VECTOR_RANGE 1 $q]=>{$EPSILON: 0}",),
    ("@v:[VECTOR_RANGE 1 $q]=>{$EPSILON: x}",),
    ("@v:[VECTOR_RANGE 1 $q]=>{$EPSILON: 1; $EPSILON: 2}",),
    ("@v:[VECTOR_RANGE 1 $q]=>{$EF_RUNTIME: 5}",),
    ("@v:[VECTOR_RANGE 1 $q]=>{$EPSILON: inf}",),
    ("@v:[VECTOR_RANGE 1 $q]=>{$EPSILON: 1e-3; $slop: 2; $inorder: true}",),
    ("~@v:[VECTOR_RANGE 1 $q] @t:{a}",),
    ("@v:[VECTOR_RANGE 1 $q]=>{$YIELD_DISTANCE_AS: __v_score}=>[KNN 2 @v $q]",),
    ("(@v:[VECTOR_RANGE 5 $q]=>{$YIELD_DISTANCE_AS: d})=>[KNN 2 @v $q]",),
    ("*=>[KNN 2 @v $q]=>{$EPSILON: 0.1}",),
    ("*=>[KNN 2 @v $q EPSILON 0.1]",),
    ("*=>[KNN 2 @v $q EF_RUNTIME 10]", "SORTBY", "__v_score"),
]  # fmt: skip


@pytest.mark.parametrize("query", FLAT_QUERIES, ids=lambda q: " ".join(map(str, q))[:60])
def test_flat_l2_replies_equal(pair: Pair, names: str, query: tuple[str, ...]) -> None:
    pair.same("FT.SEARCH", f"{names}f", *query, *PARAMS)


@pytest.mark.parametrize("query", HNSW_QUERIES, ids=lambda q: " ".join(map(str, q))[:60])
def test_hnsw_cosine_replies_equal(pair: Pair, names: str, query: tuple[str, ...]) -> None:
    pair.same("FT.SEARCH", f"{names}h", *query, *PARAMS)


def close_results(mine: Reply, theirs: Reply, what: str, distances: set[bytes]) -> None:
    """Same total, ids in the same order, same fields; ``distances`` fields within 1e-5.

    Field order is compared too, except with SORTBY on a document field: the peer then
    moves the sort field to the front (docs/compatibility.md).
    """
    assert not isinstance(mine, tuple) and not isinstance(theirs, tuple), (what, mine, theirs)
    m_total, m_rows = results(mine)
    t_total, t_rows = results(theirs)
    assert (m_total, [r[0] for r in m_rows]) == (t_total, [r[0] for r in t_rows]), what
    for (doc, m_fields), (_, t_fields) in zip(m_rows, t_rows, strict=True):
        if m_fields is None or t_fields is None:
            assert m_fields == t_fields, (what, doc)
            continue
        if "SORTBY year" in what:
            assert m_fields.keys() == t_fields.keys(), (what, doc, m_fields, t_fields)
        else:
            assert list(m_fields) == list(t_fields), (what, doc, m_fields, t_fields)
        for name, value in m_fields.items():
            if name in distances:
                assert math.isclose(float(value), float(t_fields[name]), abs_tol=1e-5), what
            else:
                assert value == t_fields[name], (what, doc, name)


def test_random_vectors_match_peer(pair: Pair, names: str) -> None:
    """Radii around the median distance, every combination the clients send."""
    rng = np.random.default_rng(21)
    for _ in range(4):
        q = rng.standard_normal(DIM).astype(np.float32).tobytes()
        params = ("PARAMS", "4", "B", q, "R", "9.5", "DIALECT", "2")
        for query in [
            ("@v:[VECTOR_RANGE $R $B]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "d"),
            ("@v:[VECTOR_RANGE $R $B]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "d", "ASC",
             "LIMIT", "0", "5", "RETURN", "2", "d", "g"),
            ("@v:[VECTOR_RANGE $R $B]=>{$YIELD_DISTANCE_AS: d}",),
            ("@g:{x|y} @v:[VECTOR_RANGE $R $B]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "year",
             "DESC"),
            ("(@v:[VECTOR_RANGE $R $B]=>{$YIELD_DISTANCE_AS: d}) (@year:[1950 +inf])",
             "NOCONTENT"),
            ("@v:[VECTOR_RANGE $R $B]=>{$YIELD_DISTANCE_AS: d} -@g:{z}", "SORTBY", "d",
             "LIMIT", "2", "3"),
            ("@v:[VECTOR_RANGE 12 $B]=>[KNN 5 @v $B]", "SORTBY", "__v_score"),
        ]:  # fmt: skip
            what = " ".join(map(str, query))
            mine, theirs = pair.both("FT.SEARCH", f"{names}r", *query, *params)
            close_results(mine, theirs, what, {b"d", b"__v_score"})
