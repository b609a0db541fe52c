"""Kept plans of KNN pages (store.commands.knn_plans) against the general path.

A plan answers ``FT.SEARCH idx "*=>[KNN k @v $B ...]" PARAMS ..`` sent again with a new
vector. Held here: its replies equal the general path's for every vector, reply shape
(NOCONTENT, RETURN, SORTBY, LIMIT, RESP2 and RESP3), metric, algorithm, deleted or
expired document, hash or JSON index (one vector per document, or several), searched on
the loop or with its walk queued on a walker's thread (``Engine.submit(walker=...)``, the
server's inline path; docs/decisions/0044); its errors are the general path's; it is made only for pages whose hits depend on the vector alone;
and it stops answering when the index, an alias, the other PARAMS values or the server's
KNN order change.
"""

from __future__ import annotations

import gc
import json
import random
import select
import struct
import time
import weakref
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from store import Engine, EngineConfig
from store.commands import knn_plans
from store.commands.table import resolve
from store.commands.walk_later import WalkLater
from store.index import blob_graph

DIM = 8
DOCS = 300


def _blob(rng: random.Random, dim: int = DIM) -> bytes:
    return struct.pack(f"<{dim}f", *(rng.uniform(-1, 1) for _ in range(dim)))


def _create(eng: Engine, name: str, algo: str, metric: str, dim: int = DIM) -> None:
    extra = ["M", "4", "EF_CONSTRUCTION", "20"] if algo == "HNSW" else []
    eng.execute("FT.CREATE", name, "PREFIX", "1", "d:", "SCHEMA", "t", "TAG", "v", "VECTOR",
                algo, str(6 + len(extra)), "TYPE", "FLOAT32", "DIM", str(dim),
                "DISTANCE_METRIC", metric, *extra)  # fmt: skip


@pytest.fixture
def engine() -> Iterator[Engine]:
    # no active expiry: a key past its deadline stays in the index, for the reply to drop
    eng = Engine(EngineConfig(data_dir=None, active_expire_interval_ms=3_600_000)).start()
    _create(eng, "hnsw", "HNSW", "COSINE")
    _create(eng, "flat", "FLAT", "L2")
    _create(eng, "ip", "HNSW", "IP")
    for name, path in (("json", "$.v"), ("multi", "$.vs[*]")):  # JSON: one vector, several
        eng.execute("FT.CREATE", name, "ON", "JSON", "PREFIX", "1", "j:", "SCHEMA", "$.t", "AS",
                    "t", "TAG", path, "AS", "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32",
                    "DIM", str(DIM), "DISTANCE_METRIC", "L2")  # fmt: skip
    rng = random.Random(11)
    for i in range(DOCS):
        eng.execute("HSET", f"d:{i}", "v", _blob(rng), "t", f"t{i % 5}")
    for i in range(0, DOCS, 7):  # a hash field named like a KNN distance's AS replaces it
        eng.execute("HSET", f"d:{i}", "dist", f"h{i}")
    for i in range(3, DOCS, 11):  # RETURN of a field the hash lacks
        eng.execute("HDEL", f"d:{i}", "t")
    for i in range(DOCS // 3):
        vectors = [[round(rng.uniform(-1, 1), 4) for _ in range(DIM)] for _ in range(1 + i % 3)]
        doc = {"v": vectors[0], "vs": vectors, "t": f"t{i % 5}"}
        eng.execute("JSON.SET", f"j:{i}", "$", json.dumps(doc))
    knn_plans._plans.clear()
    yield eng
    eng.stop()
    knn_plans._plans.clear()


def _run(eng: Engine, args: list[bytes], protocol: int = 2, walker: Any = None) -> Any:
    reply = eng.submit(resolve(args), args, protocol=protocol, walker=walker)
    if type(reply.reply) is WalkLater:
        reply = eng.finish_walk(reply.reply, _walked(walker, reply.reply))
    if reply.error is not None:
        return ("error", type(reply.error).__name__, str(reply.error))
    return reply.reply


def _walked(walker: Any, later: WalkLater) -> list[tuple[int, float]]:
    """The pairs of ``later``'s walk, once ``walker`` finished it."""
    ready, _, _ = select.select([walker.fd], [], [], 10)
    assert ready, "the walk did not finish"
    taken = walker.take()
    assert [token for token, _, _ in taken] == [later]
    pairs: list[tuple[int, float]] = taken[0][1]
    return pairs


@pytest.fixture
def walker() -> Iterator[Any]:
    if not blob_graph.AVAILABLE:
        pytest.skip("needs store.index.hnsw_graph (test_hnsw_graph fails then)")
    from store.index.hnsw_graph import Walker

    w = Walker(2)
    yield w
    w.stop()


def _general(
    eng: Engine, args: list[bytes], monkeypatch: pytest.MonkeyPatch, protocol: int = 2
) -> Any:
    """The general path's reply: no plan kept, none learned."""
    with monkeypatch.context() as m:
        m.setattr(knn_plans, "_plans", {})
        m.setattr(knn_plans, "learn", lambda *a, **k: None)
        return _run(eng, args, protocol)


def _planned(
    eng: Engine, args: list[bytes], protocol: int = 2, walker: Any = None
) -> tuple[Any, bool]:
    """The reply, and whether a kept plan gave it (or its error)."""
    found = []
    find = knn_plans.find

    def spy(ctx: Any, a: Any) -> Any:
        kept = find(ctx, a)
        found.append(kept is not None)
        return kept

    knn_plans.find = spy  # type: ignore[assignment]
    try:
        return _run(eng, args, protocol, walker), found == [True]
    finally:
        knn_plans.find = find  # type: ignore[assignment]


def _request(
    index: str, blob: bytes, query: str = "*=>[KNN 10 @v $B]", *tail: str, content: bool = False
) -> list[bytes]:
    return [b"FT.SEARCH", index.encode(), query.encode(), b"PARAMS", b"2", b"B", blob,
            *(t.encode() for t in tail), *([] if content else [b"NOCONTENT"]),
            b"DIALECT", b"2"]  # fmt: skip


NOCONTENT = [
    ("hnsw", "*=>[KNN 10 @v $B]", ()),
    ("hnsw", "*=>[KNN 10 @v $B EF_RUNTIME 5]", ("LIMIT", "0", "10")),
    ("hnsw", "*=>[KNN 7 @v $B AS d]", ("LIMIT", "2", "3")),
    ("hnsw", "*=>[KNN 500 @v $B]", ("LIMIT", "290", "20")),  # k past the documents
    ("hnsw", "*=>[KNN 3 @v $B]", ("LIMIT", "0", "0")),
    ("flat", "*=>[KNN 10 @v $B]", ()),
    ("ip", "*=>[KNN 10 @v $B EF_RUNTIME 50]", ()),
    ("json", "*=>[KNN 10 @v $B]", ()),
    ("multi", "*=>[KNN 10 @v $B]", ("LIMIT", "0", "5")),
    # the ids alone, but laid out by the general reply (search._plan_page_layout)
    ("hnsw", "*=>[KNN 10 @v $B AS d]", ("SORTBY", "d", "WITHSORTKEYS")),
    ("hnsw", "*=>[KNN 10 @v $B]", ("WITHPAYLOADS", "LIMIT", "1", "5")),
    ("hnsw", "*=>[KNN 10 @v $B]", ("WITHSORTKEYS",)),
    # ids-only pages with other options
    ("hnsw", "*=>[KNN 10 @v $B]", ("RETURN", "1", "t", "TIMEOUT", "5000", "LIMIT", "1", "4")),
    # sorted by the distance: the walk's order, which a hash field named like it (every
    # 7th document has "dist") does not change; a JSON document goes to the general reply
    ("hnsw", "*=>[KNN 10 @v $B AS d]", ("SORTBY", "d", "LIMIT", "1", "5")),
    ("flat", "*=>[KNN 10 @v $B AS dist]", ("SORTBY", "dist", "ASC")),
    ("json", "*=>[KNN 10 @v $B]", ("SORTBY", "__v_score")),
]
CONTENT = [  # what RAG clients send: the distance, some fields, maybe sorted by distance
    ("hnsw", "*=>[KNN 10 @v $B]", ()),
    ("hnsw", "*=>[KNN 10 @v $B AS dist]", ("RETURN", "2", "t", "dist")),
    ("hnsw", "*=>[KNN 10 @v $B AS dist]", ("RETURN", "1", "dist", "SORTBY", "dist")),
    (
        "flat",
        "*=>[KNN 6 @v $B AS dist]",
        ("RETURN", "2", "dist", "t", "SORTBY", "dist", "DESC", "LIMIT", "1", "4"),
    ),
    ("ip", "*=>[KNN 10 @v $B]", ("RETURN", "3", "t", "AS", "tag")),
    ("hnsw", "*=>[KNN 10 @v $B]", ("SORTBY", "t", "WITHSORTKEYS")),
    ("hnsw", "*=>[KNN 10 @v $B AS dist]", ("RETURN", "1", "v", "TIMEOUT", "5000")),
    ("json", "*=>[KNN 6 @v $B]", ()),
    ("json", "*=>[KNN 10 @v $B AS dist]", ("RETURN", "2", "t", "dist", "SORTBY", "dist")),
    ("multi", "*=>[KNN 10 @v $B AS dist]", ("RETURN", "1", "dist")),
    # RETURN pages laid out without the general reply (search._page_of): fields missing, repeated, named like
    # the distance, the default score name, a distance renamed (the hash's own field), LIMIT windows
    (
        "hnsw",
        "*=>[KNN 10 @v $B AS dist]",
        ("RETURN", "3", "t", "nosuch", "dist", "LIMIT", "2", "5"),
    ),
    ("flat", "*=>[KNN 10 @v $B]", ("RETURN", "4", "t", "__v_score", "t", "dist")),
    ("ip", "*=>[KNN 10 @v $B AS dist]", ("RETURN", "4", "dist", "AS", "d2", "t")),
    ("hnsw", "*=>[KNN 12 @v $B]", ("RETURN", "1", "__v_score", "LIMIT", "0", "0")),
    # every field after the distance, and RedisVL's page (SORTBY the distance ASC), laid
    # out without the general reply; the distance wins over a hash's "dist"
    ("hnsw", "*=>[KNN 10 @v $B AS dist]", ("LIMIT", "1", "6")),
    ("ip", "*=>[KNN 10 @v $B]", ("SORTBY", "__v_score")),
    (
        "hnsw",
        "*=>[KNN 10 @v $B AS vector_distance]",
        ("SORTBY", "vector_distance", "ASC", "RETURN", "2", "t", "vector_distance"),
    ),
    ("flat", "*=>[KNN 10 @v $B AS dist]", ("SORTBY", "dist", "RETURN", "2", "dist", "t")),
    ("hnsw", "*=>[KNN 10 @v $B AS d]", ("SORTBY", "d", "DESC", "RETURN", "1", "d")),
]
SHAPES = [(*shape, False) for shape in NOCONTENT] + [(*shape, True) for shape in CONTENT]


@pytest.mark.parametrize("walked", [False, True], ids=["on-loop", "walker"])
@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize(("index", "query", "tail", "content"), SHAPES)
def test_plan_replies_equal_the_general_path(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    index: str,
    query: str,
    tail: tuple[str],
    content: bool,
    protocol: int,
    walked: bool,
) -> None:
    rng = random.Random(zlib.crc32(repr((index, query, tail, content)).encode()))
    walker = request.getfixturevalue("walker") if walked else None
    walks = 0
    submit = engine.submit

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal walks
        done = submit(*args, **kwargs)
        walks += type(done.reply) is WalkLater
        return done

    monkeypatch.setattr(engine, "submit", counted)

    def search() -> list[bytes]:
        return _request(index, _blob(rng), query, *tail, content=content)

    _run(engine, search(), protocol)  # the general path learns it
    assert knn_plans.plans_kept() == 1
    for i in range(60):
        if i == 10:  # documents deleted, and past their deadline (not yet expired)
            deadline = int(time.time() * 1000) + 20
            for prefix, docs in (("d", DOCS), ("j", DOCS // 3)):
                for _ in range(5):
                    engine.execute("DEL", f"{prefix}:{rng.randrange(docs)}")
                for _ in range(docs // 3):
                    key = f"{prefix}:{rng.randrange(docs)}"
                    engine.execute("PEXPIREAT", key, str(deadline))
            while time.time() * 1000 <= deadline + 1:  # until the clock is past it
                time.sleep(0.001)
        args = search()
        planned, used = _planned(engine, args, protocol, walker)
        assert used, "the kept plan did not answer"
        assert planned == _general(engine, args, monkeypatch, protocol)
        total = planned["total_results"] if isinstance(planned, dict) else planned[0]
        assert total > 0 or i >= 10  # (all of a small k may be past their deadline since)
    # every planned search of a FLOAT32 HNSW field (one vector a document) was walked there
    assert walks == (60 if walked and index in ("hnsw", "ip", "json") else 0)


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize(
    ("index", "alias", "tail", "general"),
    [
        ("hnsw", "dist", ("NOCONTENT",), False),  # search._page_of, the ids alone
        ("hnsw", "dist", ("RETURN", "2", "t", "dist"), False),  # search._page_of, RETURN
        ("flat", "dist", ("RETURN", "1", "dist", "LIMIT", "1", "3"), False),
        ("hnsw", "dist", (), False),  # every field
        ("hnsw", "d", ("RETURN", "1", "d", "SORTBY", "d"), False),  # sorted by the distance
        ("hnsw", "d", ("SORTBY", "d", "ASC"), False),
        ("hnsw", "d", ("SORTBY", "d", "NOCONTENT"), False),
        ("hnsw", "d", ("RETURN", "1", "d", "SORTBY", "d", "DESC"), True),
        ("hnsw", "d", ("SORTBY", "t"), True),  # by a field
        # "dist" is a field of every 7th hash (d:0 among them, in a KNN of every document):
        # the distance wins over it, so the walk's order still holds
        ("hnsw", "dist", ("RETURN", "1", "dist", "SORTBY", "dist"), False),
        ("hnsw", "dist", ("SORTBY", "dist"), False),
        ("json", "dist", ("RETURN", "1", "dist"), True),  # not a hash
    ],
)
def test_which_pages_skip_the_general_reply(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    index: str,
    alias: str,
    tail: tuple[str, ...],
    general: bool,
    protocol: int,
) -> None:
    from store.commands import search

    rng = random.Random(5)
    query = f"*=>[KNN {DOCS} @v $B AS {alias}]"
    tail_args = [t.encode() for t in tail]
    args = [b"FT.SEARCH", index.encode(), query.encode(), b"PARAMS", b"2", b"B", _blob(rng),
            *tail_args, b"DIALECT", b"2"]  # fmt: skip
    _run(engine, args, protocol)  # learned
    calls: list[int] = []
    reply = search._reply

    def counted(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return reply(*a, **k)

    monkeypatch.setattr(search, "_reply", counted)
    args[6] = _blob(rng)
    planned, used = _planned(engine, args, protocol)
    assert used
    assert calls == ([1] if general else [])
    monkeypatch.setattr(search, "_reply", reply)
    assert planned == _general(engine, args, monkeypatch, protocol)


@pytest.mark.parametrize("walked", [False, True], ids=["on-loop", "walker"])
def test_plan_errors_are_the_general_paths(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, walked: bool
) -> None:
    walker = request.getfixturevalue("walker") if walked else None
    rng = random.Random(3)
    _run(engine, _request("hnsw", _blob(rng)))
    nan = struct.pack(f"<{DIM}f", *([float("nan")] * DIM))
    for blob in (b"\x00" * (4 * DIM - 4), b"\x00" * (4 * DIM + 4), nan):
        args = _request("hnsw", blob)
        planned, used = _planned(engine, args, walker=walker)
        assert used and planned[0] == "error"
        assert planned == _general(engine, args, monkeypatch)


def test_a_walk_that_found_fewer_is_searched_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, walker: Any
) -> None:
    """A queued walk that found fewer hits than the live documents allow (a graph split
    by deletions) is not the answer: the search is made again on the loop, as the general
    path makes it. An error raised while the page is made after the walk is the command's
    reply, as ``Engine.submit`` gives it."""
    rng = random.Random(5)

    def returning() -> list[bytes]:
        return _request("hnsw", _blob(rng), "*=>[KNN 10 @v $B]", "RETURN", "1", "t", content=True)

    _run(engine, returning())
    _run(engine, _request("hnsw", _blob(rng)))
    for _ in range(5):
        args = returning()
        done = engine.submit(resolve(args), args, walker=walker)
        assert type(done.reply) is WalkLater
        pairs = _walked(walker, done.reply)
        assert len(pairs) == 10
        again = engine.finish_walk(done.reply, pairs[:-1])
        assert again.error is None
        assert again.reply == _general(engine, args, monkeypatch)
    from store.commands import search
    from store.errors import QuerySyntaxError

    def failing(*args: Any) -> Any:
        raise QuerySyntaxError("Syntax error at offset 0 near x")

    args = _request("hnsw", _blob(rng))
    done = engine.submit(resolve(args), args, walker=walker)
    assert type(done.reply) is WalkLater
    pairs = _walked(walker, done.reply)
    monkeypatch.setattr(search, "_plan_reply", failing)
    failed = engine.finish_walk(done.reply, pairs)
    assert failed.reply is None and failed.error is not None
    assert str(failed.error) == "Syntax error at offset 0 near x"  # bare, as RediSearch's


@pytest.mark.parametrize(
    ("query", "tail"),
    [
        ("@t:{t1}=>[KNN 10 @v $B]", ()),  # a filter
        ("*=>[KNN 10 @v $B]", ("WITHSCORES",)),
        ("*=>[KNN 10 @v $B]", ("EXPLAINSCORE", "WITHSCORES")),
        ("*=>[KNN 10 @v $B HYBRID_POLICY ADHOC_BF]", ()),
        ("*=>[KNN 10 @v $B]", ("FILTER", "t", "0", "1")),
        ("*=>[KNN 10 @v $B]", ("INKEYS", "1", "d:1")),
        ("*=>[KNN 0 @v $B]", ()),
        ("*=>[KNN 10 @nosuch $B]", ()),
    ],
)
def test_no_plan_for_other_pages(engine: Engine, query: str, tail: tuple[str]) -> None:
    rng = random.Random(5)
    _run(engine, _request("hnsw", _blob(rng), query, *tail))
    assert knn_plans.plans_kept() == 0


def test_a_vector_parameter_used_twice_makes_no_plan(engine: Engine) -> None:
    """k read from the vector's own parameter would change with it: no plan."""

    def args(k: int) -> list[bytes]:  # 32 digits: k as a number, a finite vector as a blob
        blob = b"%0*d" % (4 * DIM, k)
        return [b"FT.SEARCH", b"hnsw", b"*=>[KNN $B @v $B]", b"PARAMS", b"2", b"B", blob,
                b"NOCONTENT", b"DIALECT", b"2"]  # fmt: skip

    assert _run(engine, args(5))[0] == 5
    assert knn_plans.plans_kept() == 0
    assert _run(engine, args(7))[0] == 7


def test_other_params_values_are_part_of_the_plan(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(8)

    def args(k: bytes) -> list[bytes]:
        return [b"FT.SEARCH", b"hnsw", b"*=>[KNN $K @v $B]", b"PARAMS", b"4", b"K", k, b"B",
                _blob(rng), b"NOCONTENT", b"DIALECT", b"2"]  # fmt: skip

    _run(engine, args(b"5"))
    assert _planned(engine, args(b"5"))[1]
    reply, used = _planned(engine, args(b"2"))
    assert not used and reply[0] == 2
    again = args(b"2")
    assert _planned(engine, again)[0] == _general(engine, again, monkeypatch)


def test_a_new_index_of_the_same_name_is_not_answered_by_the_old_plan(engine: Engine) -> None:
    rng = random.Random(9)
    _run(engine, _request("hnsw", _blob(rng)))
    vectors = weakref.ref(engine.indexes.get("hnsw").vectors[b"v"])
    engine.execute("FT.DROPINDEX", "hnsw")
    gc.collect()
    assert all(p.index() is None for p in knn_plans._plans.values())  # the old index is freed
    assert vectors() is None  # and its vectors
    _create(engine, "hnsw", "HNSW", "COSINE", dim=DIM * 2)
    reply, used = _planned(engine, _request("hnsw", _blob(rng)))
    assert not used
    assert reply[0] == "error" and "blob size" in reply[2]  # DIM changed: the new index's
    engine.execute("HSET", "d:new", "v", _blob(rng, DIM * 2))  # the only one of that size
    assert _run(engine, _request("hnsw", _blob(rng, DIM * 2))) == [1, b"d:new"]
    assert _planned(engine, _request("hnsw", _blob(rng, DIM * 2))) == ([1, b"d:new"], True)


def test_alter_alias_and_knn_order_leave_the_plan(engine: Engine) -> None:
    rng = random.Random(10)
    engine.execute("FT.ALIASADD", "a", "flat")
    _run(engine, _request("a", _blob(rng)))
    assert _planned(engine, _request("a", _blob(rng)))[1]
    engine.execute("FT.ALIASUPDATE", "a", "hnsw")  # the alias names another index
    blob = _blob(rng)
    reply, used = _planned(engine, _request("a", blob))
    assert not used and reply == _run(engine, _request("hnsw", blob))
    assert _planned(engine, _request("a", _blob(rng)))[1]  # learned again, for "hnsw"
    engine.execute("FT.ALTER", "hnsw", "SCHEMA", "ADD", "n", "NUMERIC")
    assert not _planned(engine, _request("a", _blob(rng)))[1]
    engine.indexes.knn_order = "score"
    try:
        assert not _planned(engine, _request("a", _blob(rng)))[1]
        assert all(key[0] != b"a" for key in knn_plans._plans)  # none learned under it
    finally:
        engine.indexes.knn_order = "distance"
