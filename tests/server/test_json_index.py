"""FT indexes ON JSON against the peer (RediSearch 2.10 + RedisJSON 2.8), replies compared raw.

One memvec server and one JSON dataset per module (the queries only read), RESP2 and
RESP3: FT.SEARCH with RETURN of paths and aliases, SORTBY, KNN over a JSON array of
numbers, multi-valued TAG and NUMERIC fields, DIALECT 3's arrays; FT.AGGREGATE with LOAD
of paths; FT.INFO's definition, attributes and indexing failures (documents of the wrong
JSON type are counted, not refused). A second index reads the same documents through
``[*]`` paths.
"""

from __future__ import annotations

import json
import shlex
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from store.server import ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair, call

DOCS: list[dict[str, Any]] = [
    {"title": "heat wave", "tags": ["Red", "blue"], "year": 1995, "price": [9.5, 20],
     "ok": True, "vec": [0.0, 0.0], "meta": {"who": "Ann", "n": [1, 2]}},
    {"title": "cold snap", "tags": ["green"], "year": 2001, "price": [3],
     "ok": False, "vec": [1.0, 1.0], "meta": {"who": "Bob"}},
    {"title": "warm heat", "tags": "blue,red", "year": 2010.5, "price": 7,
     "ok": True, "vec": [2.0, 0.5], "meta": {"who": "Cy", "note": None}},
    {"title": ["many", "words here"], "tags": [], "year": 1980, "vec": [0.5, 3.0],
     "meta": {}},
    {"title": "no vector", "tags": ["x y"], "year": None, "price": []},
    {"title": ["sorted", "arrays"], "tags": ["q"], "year": [1970.5, 2030], "price": 12345678901234567890,
     "meta": {"who": "Zed"}, "vec": [3.0, 3.0]},
]  # fmt: skip

# documents each index counts as an indexing failure (not refused: JSON.SET succeeds)
BAD_DOCS: list[dict[str, Any]] = [
    {"year": []},  # SORTABLE: the peer's message is "N/A" (docs/compatibility.md)
    {"meta": {"who": []}},
    {"title": "bad year", "year": "1999"},
    {"title": 5},
    {"tags": [1, "x"]},
    {"tags": {"a": 1}},
    {"vec": [1.0, 2.0, 3.0]},
    {"vec": []},
    {"vec": [1.0, "a"]},
    {"vec": "ab"},
    {"year": True},
    {"year": [1990, "x"]},
    {"title": [True]},
]

SCHEMA = (
    "$.title AS title TEXT $.tags AS tags TAG $.year AS year NUMERIC SORTABLE "
    "$.price AS price NUMERIC $.ok AS ok TAG $.meta.who AS who TAG SORTABLE "
    "$.vec AS vec VECTOR FLAT 6 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2 "
    "$.vec AS vec64 VECTOR HNSW 6 TYPE FLOAT64 DIM 2 DISTANCE_METRIC L2"
)
STAR_SCHEMA = "$.tags[*] AS tags TAG SEPARATOR , $.price[*] AS price NUMERIC $.meta.* AS meta TAG"
# multi-vector fields: each document ranked at its nearest vector
MULTI_SCHEMA = (
    "$.vecs[*] AS flat VECTOR FLAT 6 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2 "
    "$.vecs[*] AS hnsw VECTOR HNSW 6 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2 $.year AS year NUMERIC"
)
MULTI_VECS: list[list[list[float]]] = [
    [[0.0, 0.0], [1.0, 1.0], [4.0, 4.0]], [[2.0, 2.0]], [[3.0, 0.5], [0.9, 1.2]], [], [[5.0, 5.0], [6.0, 1.0]],
    [[1.5, 1.5]],
]  # fmt: skip

SEARCHES: list[str] = [
    "*",
    "* NOCONTENT",
    "@tags:{red} NOCONTENT",
    "@tags:{blue\\,red} NOCONTENT",
    "@tags:{x\\ y} NOCONTENT",
    "@ok:{true} NOCONTENT",
    "@price:[8 10] NOCONTENT",
    "@price:[15 +inf] NOCONTENT",
    "@year:[1990 2005] NOCONTENT",
    "@title:heat NOCONTENT",
    "@title:words NOCONTENT",
    "@who:{bob}",
    "@title:heat WITHSCORES NOCONTENT",
    # a TEXT array's elements are 100 positions apart
    '"many words" NOCONTENT',
    "many words SLOP 98 INORDER NOCONTENT",
    "many words SLOP 99 INORDER NOCONTENT",
    "many words WITHSCORES NOCONTENT",
    "many words WITHSCORES SCORER BM25 NOCONTENT",
    "@title:heat WITHSCORES SCORER BM25 RETURN 1 title",
    "@tags:{red} INKEYS 2 $P:0 $P:2 NOCONTENT",
    "-@tags:{red} NOCONTENT",
    "* RETURN 1 $",
    "* RETURN 3 $.meta AS m",
    "* RETURN 2 title year",
    "* RETURN 3 $.ok $.price $.meta.n",
    "* RETURN 2 $.tags[0] $.missing",
    "* RETURN 2 meta .meta.who",
    "* RETURN 1 $.tags[*]",
    "* RETURN 1 $.tags[*] DIALECT 3",
    "* DIALECT 3",
    "* SORTBY year DESC",
    "* SORTBY year ASC RETURN 1 title",
    "* SORTBY who ASC WITHSORTKEYS NOCONTENT",
    "* SORTBY year ASC WITHSORTKEYS NOCONTENT LIMIT 1 2",
    "* SORTBY who DESC RETURN 2 who year",
    "* SORTBY title ASC RETURN 1 title",
    "* RETURN 2 price $.price",
    "*=>[KNN 3 @vec $Q AS d] SORTBY d DIALECT 2",
    "*=>[KNN 3 @vec $Q AS d] RETURN 2 d $.title DIALECT 2",
    "(@ok:{true})=>[KNN 2 @vec $Q] DIALECT 2",
    "*=>[KNN 3 @vec64 $Q64 AS d] SORTBY d RETURN 1 d DIALECT 2",
    "@vec64:[VECTOR_RANGE 2 $Q64]=>{$YIELD_DISTANCE_AS: r} SORTBY r RETURN 1 r DIALECT 2",
    "*=>[KNN 3 @vec64 $Q AS d] DIALECT 2",
    "@vec:[VECTOR_RANGE 1.5 $Q]=>{$YIELD_DISTANCE_AS: r} SORTBY r RETURN 1 r DIALECT 2",
]

AGGREGATES: list[str] = [
    "* LOAD 1 $.title SORTBY 2 @year ASC",
    "* LOAD 3 $.meta.who AS w SORTBY 2 @w ASC",
    "* LOAD * SORTBY 2 @year DESC",
    "* LOAD 2 @title @price SORTBY 2 @year ASC",
    "* SORTBY 2 @year DESC",
    "* LOAD 1 $.price SORTBY 2 @year ASC",
    "* LOAD 1 @meta SORTBY 2 @year ASC",
    "@ok:{true} LOAD 1 @year APPLY '@year + 1' AS y SORTBY 2 @y ASC",
    "* GROUPBY 1 @who REDUCE COUNT 0 AS n SORTBY 2 @who ASC",
]

QUERY_VECTOR = struct.pack("<2f", 1.0, 1.0)


@pytest.fixture(scope="module")
def dataset(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    """Index name (also the key prefix) of the shared JSON dataset on both servers; the
    ``[*]`` index is ``<name>star``."""
    name = f"js{uuid.uuid4().hex[:8]}"
    clients = [redis.Redis(host="127.0.0.1", port=memvec.port), redis_stack.client()]
    for r in clients:
        indexes = ((name, SCHEMA), (f"{name}star", STAR_SCHEMA), (f"{name}multi", MULTI_SCHEMA))
        for index, schema in indexes:
            r.execute_command(
                "FT.CREATE", index, "ON", "JSON", "PREFIX", "1", f"{name}:", "SCHEMA",
                *shlex.split(schema),
            )  # fmt: skip
            wait_index_scanned(r, index)
        for i, doc in enumerate(DOCS + BAD_DOCS):
            vecs = {"vecs": MULTI_VECS[i]} if i < len(MULTI_VECS) else {}
            r.execute_command("JSON.SET", f"{name}:{i}", "$", json.dumps({**doc, **vecs}))
    try:
        yield name
    finally:
        for r in clients:
            r.execute_command("FT.DROPINDEX", name, "DD")
            r.execute_command("FT.DROPINDEX", f"{name}star")
            r.execute_command("FT.DROPINDEX", f"{name}multi")
            r.close()


def _search(index: str, line: str) -> list[object]:
    words: list[object] = ["FT.SEARCH", index, *shlex.split(line.replace("$P", index))]
    if "$Q64" in line:
        words += ["PARAMS", "2", "Q64", struct.pack("<2d", 1.0, 1.0)]
    elif "$Q" in line:
        words += ["PARAMS", "2", "Q", QUERY_VECTOR]
    return words


def _compare(pair: Pair, commands: list[list[object]]) -> None:
    diffs = []
    for args in commands:
        mine, theirs = pair.both(*args)
        if mine != theirs:
            diffs.append(f"{args[2:]!r}\n  memvec {mine!r}\n  peer   {theirs!r}")
    assert not diffs, "\n".join(diffs)


def test_searches(pair: Pair, dataset: str) -> None:
    """Every FT.SEARCH of SEARCHES, reply for reply (all differences reported at once)."""
    _compare(pair, [_search(dataset, line) for line in SEARCHES])


def test_star_paths(pair: Pair, dataset: str) -> None:
    """``[*]`` and ``.*`` paths: every element is a value; a SEPARATOR splits each string."""
    index = f"{dataset}star"
    lines = ["@tags:{red} NOCONTENT", "@tags:{blue} NOCONTENT", "@price:[8 10] NOCONTENT",
             "@meta:{ann} NOCONTENT", "* RETURN 2 tags price"]  # fmt: skip
    commands = [_search(index, line) for line in lines]
    commands += [["FT.TAGVALS", index, "tags"], ["FT.TAGVALS", dataset, "tags"]]
    _compare(pair, commands)


def test_multi_vector_fields(pair: Pair, dataset: str) -> None:
    """``$.vecs[*]``: KNN (FLAT and HNSW, with and without a filter) and VECTOR_RANGE rank
    a document by its nearest vector and return it once."""
    index = f"{dataset}multi"
    lines = [
        f"*=>[KNN {k} @{field} $Q AS d] SORTBY d RETURN 1 d DIALECT 2"
        for k in (1, 2, 4, 10)
        for field in ("flat", "hnsw")
    ]
    lines += [
        "(@year:[1990 2020])=>[KNN 2 @hnsw $Q AS d] SORTBY d RETURN 1 d DIALECT 2",
        "@flat:[VECTOR_RANGE 1.5 $Q]=>{$YIELD_DISTANCE_AS: r} SORTBY r RETURN 1 r DIALECT 2",
        "@hnsw:[VECTOR_RANGE 20 $Q]=>{$YIELD_DISTANCE_AS: r} SORTBY r RETURN 1 r DIALECT 2",
    ]
    _compare(pair, [_search(index, line) for line in lines])
    mine, theirs = _info(pair.memvec, index), _info(pair.peer, index)
    assert mine[b"num_docs"] == theirs[b"num_docs"]


def test_aggregates(pair: Pair, dataset: str) -> None:
    commands: list[list[object]] = [
        ["FT.AGGREGATE", dataset, *shlex.split(line)] for line in AGGREGATES
    ]
    _compare(pair, commands)


def _info(pair_side: redis.Redis, index: str) -> dict[Any, Any]:
    reply = call(pair_side, "FT.INFO", index)
    if isinstance(reply, list):
        reply = dict(zip(reply[::2], reply[1::2], strict=True))
    return reply


def test_info_and_indexing_failures(pair: Pair, dataset: str) -> None:
    """FT.INFO's definition, attributes, document count and failure count agree; every
    bad document is stored and counted (the last error text is the peer's)."""
    for index in (dataset, f"{dataset}star"):
        mine, theirs = _info(pair.memvec, index), _info(pair.peer, index)
        for key in (b"index_definition", b"attributes", b"num_docs", b"hash_indexing_failures",
                    b"Index Errors"):  # fmt: skip
            assert mine[key] == theirs[key], (index, key)
    assert int(_info(pair.memvec, dataset)[b"hash_indexing_failures"]) == len(BAD_DOCS)
    keys = [f"{dataset}:{i}" for i in range(len(DOCS), len(DOCS) + len(BAD_DOCS))]
    assert pair.memvec.exists(*keys) == len(BAD_DOCS)


def _last_error(errors: Any) -> bytes:
    return errors[b"last indexing error"] if isinstance(errors, dict) else errors[3]


def test_failure_messages(memvec: ServerThread, redis_stack: RedisStack) -> None:
    """Each bad document alone: the same last indexing error on both servers."""
    name = f"jf{uuid.uuid4().hex[:8]}"
    clients = [redis.Redis(host="127.0.0.1", port=memvec.port), redis_stack.client()]
    try:
        for i, doc in enumerate(BAD_DOCS):
            errors = []
            for r in clients:
                r.execute_command("FT.CREATE", f"{name}{i}", "ON", "JSON", "PREFIX", "1",
                                  f"{name}{i}:", "SCHEMA", *shlex.split(SCHEMA))  # fmt: skip
                wait_index_scanned(r, f"{name}{i}")
                r.execute_command("JSON.SET", f"{name}{i}:x", "$", json.dumps(doc))
                info = _info(r, f"{name}{i}")
                errors.append((info[b"hash_indexing_failures"], info[b"Index Errors"]))
            if _last_error(errors[1][1]) == b"N/A":  # the peer has no text; ours says what
                assert errors[0][0] == errors[1][0], doc
                assert _last_error(errors[0][1]).startswith(b"Empty array for SORTABLE"), doc
                continue
            assert errors[0] == errors[1], doc
    finally:
        for r in clients:
            for i in range(len(BAD_DOCS)):
                call(r, "FT.DROPINDEX", f"{name}{i}", "DD")
            r.close()


def test_hash_and_json_indexes_share_a_prefix(pair: Pair) -> None:
    """An index ON JSON ignores hashes under its prefix and one ON HASH ignores JSON
    documents: neither indexes nor counts a failure for the other type."""
    p = f"mx{uuid.uuid4().hex[:6]}"
    for r in (pair.memvec, pair.peer):
        r.execute_command("FT.CREATE", f"{p}j", "ON", "JSON", "PREFIX", "1", f"{p}:", "SCHEMA",
                          "$.t", "AS", "t", "TAG")  # fmt: skip
        r.execute_command("FT.CREATE", f"{p}h", "ON", "HASH", "PREFIX", "1", f"{p}:", "SCHEMA",
                          "t", "TAG")  # fmt: skip
        wait_index_scanned(r, f"{p}h")
        r.execute_command("JSON.SET", f"{p}:1", "$", '{"t": "a"}')
        r.hset(f"{p}:2", "t", "a")
    try:
        for index in (f"{p}j", f"{p}h"):
            pair.same("FT.SEARCH", index, "@t:{a}", "NOCONTENT")
            mine, theirs = _info(pair.memvec, index), _info(pair.peer, index)
            for key in (b"num_docs", b"hash_indexing_failures"):
                assert mine[key] == theirs[key], (index, key)
    finally:
        for r in (pair.memvec, pair.peer):
            r.execute_command("FT.DROPINDEX", f"{p}j", "DD")
            r.execute_command("FT.DROPINDEX", f"{p}h", "DD")
