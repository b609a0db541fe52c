"""A kept plan's ids page answered from the request's bytes (store.commands.plan_bytes,
the requests recognised by store.server.kept_pages).

Held here: for every request it answers, ``plan_bytes.answer`` gives the bytes the general
path's reply encodes to in RESP2 and RESP3 (no plan kept, none learned: the request
parsed and searched), over HNSW COSINE and L2 and IP fields, LIMIT windows, k past the documents,
walks whose order is not certain (equal vectors, IP: the distances recomputed), deleted,
expired and retyped documents; it answers the plain shapes (it is not always None); and it
answers None (the general path decides) for what it leaves to it: field deadlines, a
dropped or recreated index, the server's KNN order, NaN values, a graph of hnswlib's
own, requests that differ from the plan's bytes.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from store import Engine, EngineConfig
from store.commands import knn_plans, plan_bytes
from store.commands.table import resolve
from store.engine import now_ms
from store.index import blob_graph
from store.resp.writer import encode_command, encode_reply
from store.server.kept_pages import KeptPages

pytestmark = pytest.mark.skipif(
    not blob_graph.AVAILABLE, reason="needs store.index.hnsw_graph (test_hnsw_graph fails then)"
)

DIM = 8
DOCS = 300


def _blob(rng: random.Random) -> bytes:
    return struct.pack(f"<{DIM}f", *(rng.uniform(-1, 1) for _ in range(DIM)))


def _create(eng: Engine, name: str, metric: str, prefix: str = "d:") -> None:
    eng.execute("FT.CREATE", name, "PREFIX", "1", prefix, "SCHEMA", "t", "TAG", "v", "VECTOR",
                "HNSW", "10", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", metric,
                "M", "4", "EF_CONSTRUCTION", "20")  # fmt: skip


@pytest.fixture
def engine() -> Iterator[Engine]:
    # no active expiry: a key past its deadline stays in the index, for the reply to drop
    eng = Engine(EngineConfig(data_dir=None, active_expire_interval_ms=3_600_000)).start()
    _create(eng, "cos", "COSINE")
    _create(eng, "l2", "L2")
    _create(eng, "ip", "IP")
    rng = random.Random(5)
    for i in range(DOCS):
        eng.execute("HSET", f"d:{i}", "v", _blob(rng), "t", f"t{i % 5}")
    twin = _blob(rng)
    for i in range(DOCS, DOCS + 12):  # equal vectors: equal distances, never a certain order
        eng.execute("HSET", f"d:{i}", "v", twin)
    knn_plans._plans.clear()
    yield eng
    eng.stop()
    knn_plans._plans.clear()


def _request(index: str, blob: bytes, query: str, *tail: str) -> list[bytes]:
    return [b"FT.SEARCH", index.encode(), query.encode(), b"PARAMS", b"2", b"B", blob,
            b"NOCONTENT", *(t.encode() for t in tail)]  # fmt: skip


def _general(
    eng: Engine, args: list[bytes], monkeypatch: pytest.MonkeyPatch, protocol: int = 2
) -> bytes:
    """The general path's reply bytes: no plan kept, none learned."""
    with monkeypatch.context() as m:
        m.setattr(knn_plans, "_plans", {})
        m.setattr(knn_plans, "learn", lambda *a, **k: None)
        done = eng.submit(resolve(args), args, protocol=protocol)
    return encode_reply(done.reply if done.error is None else done.error, protocol)


PAGES = KeptPages()


def _answer(eng: Engine, request: bytes, protocol: int = 2) -> bytes | None:
    """``plan_bytes``'s answer to ``request`` if it is a kept plan's bytes, else None."""
    kept = PAGES.match(request)
    if kept is None:
        return None
    return plan_bytes.answer(eng, kept.plan, request, kept.at, now_ms(), protocol)


def _fast(eng: Engine, args: list[bytes], protocol: int = 2) -> bytes | None:
    """``plan_bytes``'s answer to ``args`` sent as a client sends them (None if it leaves
    the request to the general path); the plan learned first, from the request itself."""
    eng.submit(resolve(args), args, protocol=protocol)  # the general path keeps the plan
    return _answer(eng, encode_command(*args), protocol)


SHAPES = [
    ("cos", "*=>[KNN 10 @v $B]", ()),
    ("cos", "*=>[KNN 10 @v $B EF_RUNTIME 5]", ("LIMIT", "0", "10")),
    ("cos", "*=>[KNN 7 @v $B AS d]", ("LIMIT", "2", "3", "DIALECT", "2")),
    ("cos", "*=>[KNN 500 @v $B]", ("LIMIT", "300", "20")),  # k past the documents
    ("cos", "*=>[KNN 3 @v $B]", ("LIMIT", "0", "0")),
    ("cos", "*=>[KNN 10 @v $B]", ("LIMIT", "400", "10")),
    ("l2", "*=>[KNN 10 @v $B EF_RUNTIME 40]", ("DIALECT", "2")),
    ("ip", "*=>[KNN 10 @v $B]", ()),  # IP: never a certain order, always recomputed
]


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize(("index", "query", "tail"), SHAPES)
def test_the_same_bytes_as_the_general_path(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    index: str,
    query: str,
    tail: tuple[str, ...],
    protocol: int,
) -> None:
    rng = random.Random(index + query + "".join(tail))
    answered = 0
    for _ in range(25):
        args = _request(index, _blob(rng), query, *tail)
        fast = _fast(engine, args, protocol)
        if fast is not None:
            answered += 1
            assert fast == _general(engine, args, monkeypatch, protocol)
    assert answered == 25


def test_a_timeout_leaves_resp3_to_the_general_path(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A RESP3 reply carries a warning once the TIMEOUT passed: the general path decides;
    RESP2 shows none, and is answered."""
    args = _request("cos", _blob(random.Random(3)), "*=>[KNN 10 @v $B]", "TIMEOUT", "5000")
    assert _fast(engine, args, 3) is None
    fast = _fast(engine, args, 2)
    assert fast is not None and fast == _general(engine, args, monkeypatch, 2)


def test_uncertain_orders_are_recomputed(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Near the twelve equal vectors the walk's order is never certain: the page is read
    after the distances are recomputed (ties broken by label), as the general path does."""
    twin = engine.execute("HGET", f"d:{DOCS}", "v")
    near = bytearray(twin)
    near[0] ^= 1  # the last bit of the first value
    for blob in (bytes(twin), bytes(near)):
        args = _request("cos", blob, "*=>[KNN 10 @v $B]", "LIMIT", "0", "12")
        fast = _fast(engine, args)
        assert fast is not None
        assert fast == _general(engine, args, monkeypatch)
        assert fast.count(b"d:3") >= 10  # the twins d:300..d:311


def test_deleted_expired_and_retyped_documents(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(9)
    query = "*=>[KNN 20 @v $B]"
    blob = _blob(rng)
    before = _general(engine, _request("cos", blob, query), monkeypatch)
    keys = [line for line in before.split(b"\r\n") if line.startswith(b"d:")]
    engine.execute("DEL", keys[0].decode())
    engine.execute("PEXPIREAT", keys[1].decode(), "1")  # expired, still in the keyspace
    engine.execute("PEXPIRE", keys[2].decode(), "100000")  # a deadline to come: shown
    engine.execute("SET", keys[3].decode(), "a string now")  # out of the index
    for _ in range(20):
        args = _request("cos", blob if _ == 0 else _blob(rng), query)
        fast = _fast(engine, args)
        assert fast is not None
        assert fast == _general(engine, args, monkeypatch)
        if _ == 0:
            assert keys[2] in fast
            assert not {keys[0], keys[1], keys[3]} & set(fast.split(b"\r\n"))


def test_left_to_the_general_path(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(13)
    query = "*=>[KNN 10 @v $B]"
    args = _request("cos", _blob(rng), query)
    assert _fast(engine, args) is not None
    request = encode_command(*args)
    # another vector size, another argument, another spelling: not the plan's bytes
    assert PAGES.match(encode_command(*args[:6], args[6] + b"\0\0\0\0", *args[7:])) is None
    assert PAGES.match(encode_command(*args, b"DIALECT", b"2")) is None
    assert PAGES.match(request.replace(b"NOCONTENT", b"nocontent")) is None
    assert PAGES.match(request[:-2] + b"\r\r") is None
    # NaN values: the general path answers (its error or its page)
    nan = encode_command(*args[:6], struct.pack(f"<{DIM}f", float("nan"), *[0.5] * 7), *args[7:])
    assert PAGES.match(nan) is not None
    assert _answer(engine, nan) is None
    # a hit with field deadlines
    hits = [x for x in _general(engine, args, monkeypatch).split(b"\r\n") if x.startswith(b"d:")]
    engine.execute("HPEXPIRE", hits[0].decode(), "100000", "FIELDS", "1", "t")
    assert _answer(engine, request) is None
    engine.execute("HPERSIST", hits[0].decode(), "FIELDS", "1", "t")
    assert _answer(engine, request) is not None
    # the server's KNN order
    engine.indexes.knn_order = "score"
    try:
        assert _answer(engine, request) is None
    finally:
        engine.indexes.knn_order = "distance"
    # the index dropped, then created again under its name: another index
    engine.execute("FT.DROPINDEX", "cos")
    assert _answer(engine, request) is None
    _create(engine, "cos", "COSINE")
    assert _answer(engine, request) is None
    # learned again for the new index: the same bytes as its general path
    fast = _fast(engine, args)
    assert fast is not None and fast == _general(engine, args, monkeypatch)


def test_kept_pages_follow_the_plans(engine: Engine) -> None:
    """A plan replaced (the same shape, another fixed argument value) or cleared with the
    table is no longer matched; the table's new generation is read again."""
    rng = random.Random(23)
    args = _request("cos", _blob(rng), "*=>[KNN 10 @v $B AS $name]")
    args[4:6] = [b"4", b"name"]
    args[6:6] = [b"d1"]
    args[7:7] = [b"B"]
    assert _fast(engine, args) is not None  # PARAMS 4 name d1 B <blob>
    other = [*args[:6], b"d2", *args[7:]]
    assert _fast(engine, other) is not None  # the same shape, another value: replaced
    assert _answer(engine, encode_command(*args)) is None
    generation = knn_plans.ids_plans()[0]
    for k in range(knn_plans.PLANS_KEPT + 1):  # fills the table: cleared
        engine.submit(resolve(q := _request("cos", _blob(rng), f"*=>[KNN {k + 1} @v $B]")), q)
    assert knn_plans.ids_plans()[0] > generation
    assert _answer(engine, encode_command(*other)) is None
    assert _fast(engine, other) is not None


def test_plans_without_request_bytes(engine: Engine) -> None:
    """Only ids pages in the walk's order keep their request's bytes."""
    rng = random.Random(17)
    for tail in (("RETURN", "1", "t"), ("SORTBY", "__v_score")):
        args = [a for a in _request("cos", _blob(rng), "*=>[KNN 10 @v $B]", *tail)
                if a != b"NOCONTENT"]  # fmt: skip
        engine.submit(resolve(args), args)
        assert PAGES.match(encode_command(*args)) is None
    args = _request("cos", _blob(rng), "*=>[KNN 10 @v $B]", "SORTBY", "__v_score")
    engine.submit(resolve(args), args)
    assert PAGES.match(encode_command(*args)) is None


def test_uses_the_native_graph_only(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(19)
    args = _request("cos", _blob(rng), "*=>[KNN 10 @v $B]")
    assert _fast(engine, args) is not None
    index: Any = engine.indexes.get(b"cos")
    monkeypatch.setattr(type(index.vectors[b"v"]), "blob_walk", lambda *a: None)
    assert _answer(engine, encode_command(*args)) is None
