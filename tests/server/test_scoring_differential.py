"""Text scoring against the peer (RediSearch 2.10): same corpus, same queries, same ranking.

The corpus is real text nobody here wrote: the docstrings of functions in Python's standard
library (the interpreter running the tests has them), 200 documents with a title (the
qualified name, WEIGHT 2), a body (the docstring), a TAG (the module) and a NUMERIC (the
docstring's length). Both servers get the index first and the documents afterwards, one
HSET each in the same order, so RediSearch's document ids (which break score ties) follow
that order on both. The TEXT fields are NOSTEM and the queries VERBATIM, so scores here
depend on the scorers alone (stemming is compared in test_text_terms_differential.py).

Every query is sent with WITHSCORES under every scorer; the ids must come back in the same
order and each score equal to 1e-9 relative (RESP2 spells doubles with Redis's Grisu2
digits, which differ from the shortest form in the last digit for a few values; RESP3
sends the double). EXPLAINSCORE replies are compared exactly on a subset.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import math
import random
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import call

SCORERS = ["TFIDF", "TFIDF.DOCNORM", "BM25", "BM25STD", "DISMAX", "DOCSCORE", "HAMMING"]
MODULES = ["json", "re", "os", "shutil", "textwrap", "string", "functools", "itertools",
           "collections", "heapq", "bisect", "random", "statistics", "math", "pathlib",
           "datetime", "socket", "subprocess", "tempfile", "zipfile", "csv", "base64"]  # fmt: skip
_WORD = re.compile(r"[a-z]{3,}")


def _corpus() -> list[dict[str, str | bytes]]:
    """200 (module, name, docstring) documents from the standard library, fixed order."""
    docs: list[dict[str, str | bytes]] = []
    seen: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in sorted(vars(module)):
            obj = getattr(module, attr)
            if attr.startswith("_") or not callable(obj):
                continue
            doc = inspect.getdoc(obj) or ""
            doc = " ".join(doc.split())[:600]
            if len(doc) < 40 or doc in seen:
                continue
            seen.add(doc)
            docs.append({"title": f"{name} {attr}", "body": doc, "module": name,
                         "size": str(len(doc))})  # fmt: skip
            if len(docs) % 3:  # two in three documents have a vector (it counts in scores)
                docs[-1]["v"] = _vector(len(docs))
            if len(docs) == 200:
                return docs
    return docs


def _vector(seed: int) -> bytes:
    return np.random.default_rng(seed).random(4, dtype=np.float32).astype("<f4").tobytes()


def _queries(docs: list[dict[str, str | bytes]]) -> list[str]:
    """Single terms of several frequencies, conjunctions, phrases, unions, negations,
    filters, field restrictions and prefixes, all picked from the corpus itself."""
    stop = {"the", "and", "for", "with", "this", "that", "are", "not", "into", "then",
            "there", "these", "they", "was", "will", "their", "such", "but", "of", "is", "a",
            "an", "as", "at", "be", "by", "if", "in", "it", "no", "on", "or", "to"}  # fmt: skip
    counts = Counter(
        w for d in docs for w in set(_WORD.findall(str(d["body"]).lower())) if w not in stop
    )
    ranked = [w for w, _ in counts.most_common()]
    common, middle, rare = ranked[:6], ranked[40:46], ranked[300:304]
    words = _WORD.findall(str(docs[7]["body"]).lower())
    pairs = [(a, b) for a, b in itertools.pairwise(words) if a not in stop and b not in stop]
    phrase = " ".join(pairs[0])
    out = [*common, *middle, *rare]
    out += [f"{common[0]} {middle[0]}", f"{common[1]} {common[2]} {middle[1]}"]
    out += [f"{common[0]}|{middle[2]}"]
    out += [f"{common[0]} -{common[1]}", f"-{middle[0]}", f'"{phrase}"']
    out += [f"@module:{{os|re}} {common[2]}", f"@size:[600 600] {middle[4]}", "@module:{json}"]
    out += [f"@title:{common[0]}", f"@body:{common[5]}", f"@title|body:{middle[5]}"]
    out += [f"{common[0][:4]}*", "*", f"{rare[0]}|{rare[1]}|{common[3]}"]
    # optional terms (RedisVL's AggregateHybridQuery): rank by them, filter by nothing
    out += [f"~{middle[0]}", f"~({common[0]}|{middle[3]})", f"@module:{{os|re}} ~{common[2]}"]
    return out


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, redis_stack: RedisStack) -> Iterator[Any]:
    data_dir: Path = tmp_path_factory.mktemp("scoring")
    thread = ServerThread(ServerConfig(port=0, data_dir=data_dir)).start()
    index = f"sc{uuid.uuid4().hex[:8]}"
    prefix = f"{index}:"
    mine = redis.Redis(host="127.0.0.1", port=thread.port, protocol=2, socket_timeout=30)
    theirs = redis_stack.client(protocol=2, socket_timeout=30)
    docs = _corpus()
    try:
        for r in (mine, theirs):
            assert call(r, "FT.CREATE", index, "PREFIX", "1", prefix, "SCHEMA",
                        "title", "TEXT", "NOSTEM", "WEIGHT", "2", "body", "TEXT", "NOSTEM",
                        "module", "TAG", "size", "NUMERIC", "v", "VECTOR", "FLAT", "6", "TYPE",
                        "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2") == b"OK"  # fmt: skip
            wait_index_scanned(r, index)  # each document indexed once on the peer
            pipe = r.pipeline(transaction=False)
            for i, doc in enumerate(docs):
                pipe.hset(f"{prefix}{i}", mapping=doc)
            pipe.execute()
        yield index, mine, theirs, docs
    finally:
        for r in (mine, theirs):
            call(r, "FT.DROPINDEX", index, "DD")
            r.close()
        thread.stop()


def _pairs(reply: list[Any]) -> list[tuple[bytes, float]]:
    return [(reply[i], float(reply[i + 1])) for i in range(1, len(reply), 2)]


def _same_scores(mine: list[Any], theirs: list[Any], what: str) -> None:
    assert mine[0] == theirs[0], f"{what}: totals {mine[0]} != {theirs[0]}"
    a, b = _pairs(mine), _pairs(theirs)
    assert [k for k, _ in a] == [k for k, _ in b], f"{what}: order {a} != {b}"
    for (key, x), (_, y) in zip(a, b, strict=True):
        same = (math.isnan(x) and math.isnan(y)) or x == y or math.isclose(x, y, rel_tol=1e-9)
        assert same, f"{what}: {key!r} scored {x!r} by memvec, {y!r} by the peer"


def test_every_scorer_ranks_and_scores_as_the_peer(servers: Any) -> None:
    index, mine, theirs, docs = servers
    queries = _queries(docs)
    compared = 0
    for query in queries:
        for scorer in SCORERS:
            args = ("FT.SEARCH", index, query, "VERBATIM", "WITHSCORES", "NOCONTENT",
                    "SCORER", scorer, "LIMIT", "0", "25")  # fmt: skip
            a, b = call(mine, *args), call(theirs, *args)
            assert not isinstance(b, tuple), f"peer refused {query!r}: {b}"
            _same_scores(a, b, f"{query!r} {scorer}")
            compared += len(b) // 2
    assert compared > 1500  # the queries do match documents


def test_union_inside_intersection_matches_the_same_documents(servers: Any) -> None:
    """``(a|b) c``: the same documents; scores may differ (docs/compatibility.md: the
    peer's union iterator, skipped inside an intersection, can record one term only)."""
    index, mine, theirs, docs = servers
    q = _queries(docs)
    query = f"({q[3]}|{q[9]}) {q[4]}"
    args = ("FT.SEARCH", index, query, "VERBATIM", "NOCONTENT", "LIMIT", "0", "200")
    a, b = call(mine, *args), call(theirs, *args)
    assert a[0] == b[0] > 0
    assert set(a[1:]) == set(b[1:])


def test_explanations_match_the_peer(servers: Any) -> None:
    index, mine, theirs, docs = servers
    queries = _queries(docs)
    for query in queries[::3]:
        for scorer in ("TFIDF", "BM25", "BM25STD", "DISMAX"):
            args = ("FT.SEARCH", index, query, "VERBATIM", "WITHSCORES", "EXPLAINSCORE",
                    "NOCONTENT", "SCORER", scorer, "LIMIT", "0", "5")  # fmt: skip
            a, b = call(mine, *args), call(theirs, *args)
            assert _explanations(a) == _explanations(b), f"{query!r} {scorer}"


def _explanations(reply: list[Any]) -> list[Any]:
    """Keys and explanation trees; the score itself compared to 1e-9 in the other test."""
    return [(reply[i], reply[i + 1][1]) for i in range(1, len(reply), 2)]


def test_default_ranking_limit_inkeys_and_return(servers: Any) -> None:
    """Without WITHSCORES the order is the score order; LIMIT pages through it; INKEYS
    narrows it; RETURN ... AS renames; SORTBY overrides it (missing values last)."""
    index, mine, theirs, docs = servers
    term = _queries(docs)[0]
    keys = [f"{index}:{i}" for i in range(0, 200, 3)]
    for args in [
        (term, "NOCONTENT"),
        (term, "NOCONTENT", "LIMIT", "5", "7"),
        (term, "NOCONTENT", "LIMIT", "0", "0"),
        (term, "WITHSCORES", "NOCONTENT", "INKEYS", str(len(keys)), *keys),
        (term, "WITHSCORES", "RETURN", "3", "module", "AS", "m", "LIMIT", "0", "4"),
        (term, "WITHSCORES", "SORTBY", "size", "DESC", "RETURN", "1", "size"),
        (term, "NOCONTENT", "INKEYS", "0"),
        ("*", "NOCONTENT", "LIMIT", "190", "20"),
    ]:
        a = call(mine, "FT.SEARCH", index, "VERBATIM", *args)
        b = call(theirs, "FT.SEARCH", index, "VERBATIM", *args)
        assert a == b, f"{args}: memvec {a!r} != peer {b!r}"


def test_resp3_scores(servers: Any, redis_stack: RedisStack) -> None:
    index, mine, _, docs = servers
    port = mine.connection_pool.connection_kwargs["port"]
    r3m = redis.Redis(host="127.0.0.1", port=port, protocol=3)
    r3p = redis_stack.client(protocol=3)
    try:
        for query in _queries(docs)[:4]:
            args = ("FT.SEARCH", index, query, "VERBATIM", "WITHSCORES", "RETURN", "1",
                    "module", "LIMIT", "0", "5")  # fmt: skip
            a, b = call(r3m, *args), call(r3p, *args)
            assert a == b, f"{query!r}: memvec {a!r} != peer {b!r}"
    finally:
        r3m.close()
        r3p.close()


def test_redis_py_query_with_scores(servers: Any) -> None:
    """redis-py's ``Query.with_scores()`` reads memvec's reply (it crashed before)."""
    from redis.commands.search.query import Query

    index, mine, theirs, docs = servers
    term = _queries(docs)[0]
    query = Query(term).verbatim().with_scores().scorer("BM25STD").paging(0, 5)
    got = mine.ft(index).search(query)
    want = theirs.ft(index).search(query)
    assert got.total == want.total
    assert [d.id for d in got.docs] == [d.id for d in want.docs]
    for d, e in zip(got.docs, want.docs, strict=True):
        assert math.isclose(d.score, e.score, rel_tol=1e-9)
        assert d.module == e.module


def test_ft_info_counts_terms_and_records(servers: Any) -> None:
    index, mine, theirs, _ = servers
    a, b = call(mine, "FT.INFO", index), call(theirs, "FT.INFO", index)
    a, b = dict(zip(a[::2], a[1::2], strict=True)), dict(zip(b[::2], b[1::2], strict=True))
    for name in (b"num_docs", b"max_doc_id", b"num_terms", b"num_records"):
        assert a[name] == b[name], f"FT.INFO {name!r}: memvec {a[name]!r}, peer {b[name]!r}"


def test_knn_scores_as_the_peer(servers: Any) -> None:
    """KNN with WITHSCORES: the text score of the filter part (0 without one), by the
    distance order SORTBY asks for; INKEYS and EXPLAINSCORE too."""
    index, mine, theirs, docs = servers
    q = _queries(docs)
    blob = _vector(10_001)
    keys = [f"{index}:{i}" for i in range(0, 200, 2)]
    for query in ("*", q[0], f"{q[1]} {q[7]}", f"@module:{{os}} {q[2]}"):
        for scorer in ("TFIDF", "BM25", "BM25STD", "DISMAX"):
            for extra in ([], ["EXPLAINSCORE"], ["INKEYS", str(len(keys)), *keys]):
                knn = f"({query})=>[KNN 8 @v $B AS d]" if query != "*" else "*=>[KNN 8 @v $B AS d]"
                args = ("FT.SEARCH", index, knn, "VERBATIM", "WITHSCORES", *extra, "SCORER",
                        scorer, "SORTBY", "d", "RETURN", "1", "d", "PARAMS", "2", "B", blob,
                        "DIALECT", "2")  # fmt: skip
                a, b = call(mine, *args), call(theirs, *args)
                assert _knn(a) == _knn(b), f"{knn} {scorer} {extra}: {a!r} != {b!r}"


def _knn(reply: list[Any]) -> list[Any]:
    """Keys, scores to 1e-9 (rounded), explanations, distances to 1e-5 (rounded)."""
    out: list[Any] = [reply[0]]
    for i in range(1, len(reply), 3):
        score = reply[i + 1]
        note = None
        if isinstance(score, list):
            score, note = score
        distance = float(reply[i + 2][1])
        out.append((reply[i], float(f"{float(score):.9g}"), note, round(distance, 5)))
    return out


def test_infields_and_edge_cases(servers: Any) -> None:
    index, mine, theirs, docs = servers
    q = _queries(docs)
    for args in [
        (q[0], "WITHSCORES", "NOCONTENT", "INFIELDS", "1", "title"),
        (q[1], "WITHSCORES", "NOCONTENT", "INFIELDS", "2", "body", "title", "LIMIT", "0", "7"),
        (q[0], "NOCONTENT", "LIMIT", "500", "10"),
        (q[0], "WITHSCORES", "RETURN", "2", "nosuchfield", "module", "LIMIT", "0", "3"),
        (q[0], "WITHSCORES", "RETURN", "4", "module", "AS", "x", "size", "AS", "x"),
        (q[0], "WITHSCORES", "SORTBY", "size", "RETURN", "1", "module", "LIMIT", "3", "4"),
        (q[0], "WITHSCORES", "SCORER", "BM25", "SORTBY", "module", "DESC", "LIMIT", "0", "6",
         "RETURN", "1", "module"),
        (q[0], "WITHSCORES", "EXPLAINSCORE", "SORTBY", "size", "DESC", "LIMIT", "0", "3",
         "NOCONTENT"),
        (q[0], "NOCONTENT", "SCORER", "bm25"),
        (q[0], "WITHSORTKEYS", "SORTBY", "size", "RETURN", "1", "size", "LIMIT", "0", "3"),
        (q[0], "WITHSCORES", "WITHPAYLOADS", "WITHSORTKEYS", "NOCONTENT", "LIMIT", "0", "3"),
        (q[0], "EXPLAINSCORE", "NOCONTENT"),
    ]:  # fmt: skip
        a = call(mine, "FT.SEARCH", index, "VERBATIM", *args)
        b = call(theirs, "FT.SEARCH", index, "VERBATIM", *args)
        assert a == b, f"{args}: memvec {a!r} != peer {b!r}"


def test_slop_and_inorder_as_the_peer(servers: Any) -> None:
    """SLOP / INORDER restrict every intersection but exact phrases, RediSearch's way
    (including its treatment of intersections where only one child has positions)."""
    index, mine, theirs, docs = servers
    q = _queries(docs)
    keys = [f"{index}:{i}" for i in range(0, 200, 2)]
    pairs = [f"{q[0]} {q[1]}", f"{q[1]} {q[0]}", f"{q[0]} {q[2]} {q[3]}", f"{q[0]} {q[6]}"]
    for query in [*pairs, f"{q[0]} @module:{{os|re}}", f"({q[0]}|{q[2]}) -{q[3]}", q[0]]:
        for window in (["SLOP", "0"], ["SLOP", "2"], ["INORDER"], ["SLOP", "1", "INORDER"],
                       ["SLOP", "3", "INKEYS", str(len(keys)), *keys]):  # fmt: skip
            args = ("FT.SEARCH", index, query, "VERBATIM", "WITHSCORES", "NOCONTENT", *window,
                    "LIMIT", "0", "30")  # fmt: skip
            a, b = call(mine, *args), call(theirs, *args)
            _same_scores(a, b, f"{query!r} {window[:3]}")


def test_random_queries_score_as_the_peer(servers: Any) -> None:
    """Random queries of the shapes where RediSearch's iterators and memvec's trees agree
    (docs/compatibility.md lists the others): unions of intersections of terms,
    field-restricted terms, exact phrases, tags and negated terms, and of prefixes, under
    every scorer."""
    index, mine, theirs, docs = servers
    words = _queries(docs)[:16]
    rng = random.Random(20)

    def atom() -> str:
        kind = rng.random()
        if kind < 0.5:
            return rng.choice(words)
        if kind < 0.6:
            return f"@title:{rng.choice(words)}"
        if kind < 0.7:
            return f"@module:{{{rng.choice(['os', 're', 'json'])}}}"
        if kind < 0.85:
            return f'"{rng.choice(words)} {rng.choice(words)}"'
        return f"-{rng.choice(words)}"

    def conjunction() -> str:
        if rng.random() < 0.15:  # a prefix, alone: inside an intersection see the docs
            return f"{rng.choice(words)[:3]}*"
        parts = [atom() for _ in range(rng.randint(1, 3))]
        if all(p.startswith("-") for p in parts):
            parts.insert(0, rng.choice(words))
        return " ".join(sorted(parts, key=lambda p: p.startswith("-")))  # negations last

    for _ in range(120):
        query = " | ".join(f"({conjunction()})" for _ in range(rng.randint(1, 2)))
        scorer = rng.choice(SCORERS)
        args = ("FT.SEARCH", index, query, "VERBATIM", "WITHSCORES", "NOCONTENT", "SCORER",
                scorer, "LIMIT", "0", "20", "DIALECT", "2")  # fmt: skip
        _same_scores(call(mine, *args), call(theirs, *args), f"{query!r} {scorer}")
