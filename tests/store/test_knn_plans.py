"""Kept plans of the plain KNN page (store.commands.knn_plans) against the general path.

A plan answers ``FT.SEARCH idx "*=>[KNN k @v $B ...]" PARAMS .. NOCONTENT`` sent again
with a new vector. Held here: its replies equal the general path's for every vector,
page, metric, algorithm and deleted or expired document; its errors are the general
path's; it is made only for the plain page; and it stops answering when the index, an
alias, the other PARAMS values or the server's KNN order change.
"""

from __future__ import annotations

import gc
import random
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest

from store import Engine, EngineConfig
from store.commands import knn_plans
from store.errors import StoreError

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
    eng = Engine(EngineConfig(data_dir=None)).start()
    _create(eng, "hnsw", "HNSW", "COSINE")
    _create(eng, "flat", "FLAT", "L2")
    _create(eng, "ip", "HNSW", "IP")
    rng = random.Random(11)
    for i in range(DOCS):
        eng.execute("HSET", f"d:{i}", "v", _blob(rng), "t", f"t{i % 5}")
    knn_plans._plans.clear()
    yield eng
    eng.stop()
    knn_plans._plans.clear()


def _run(eng: Engine, args: list[bytes]) -> Any:
    try:
        return eng.execute(*args)
    except StoreError as exc:
        return ("error", type(exc).__name__, str(exc))


def _general(eng: Engine, args: list[bytes], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The general path's reply: no plan kept, none learned."""
    with monkeypatch.context() as m:
        m.setattr(knn_plans, "_plans", {})
        m.setattr(knn_plans, "learn", lambda *a, **k: None)
        return _run(eng, args)


def _planned(eng: Engine, args: list[bytes]) -> tuple[Any, bool]:
    """The reply, and whether a kept plan gave it (or raised its error)."""
    used = []
    answer = knn_plans.answer

    def spy(ctx: Any, a: Any) -> Any:
        try:
            reply = answer(ctx, a)
        except StoreError:
            used.append(True)
            raise
        used.append(reply is not None)
        return reply

    knn_plans.answer = spy  # type: ignore[assignment]
    try:
        return _run(eng, args), used == [True]
    finally:
        knn_plans.answer = answer  # type: ignore[assignment]


def _request(index: str, blob: bytes, query: str = "*=>[KNN 10 @v $B]", *tail: str) -> list[bytes]:
    return [b"FT.SEARCH", index.encode(), query.encode(), b"PARAMS", b"2", b"B", blob,
            *(t.encode() for t in tail), b"NOCONTENT", b"DIALECT", b"2"]  # fmt: skip


SHAPES = [
    ("hnsw", "*=>[KNN 10 @v $B]", ()),
    ("hnsw", "*=>[KNN 10 @v $B EF_RUNTIME 5]", ("LIMIT", "0", "10")),
    ("hnsw", "*=>[KNN 7 @v $B AS d]", ("LIMIT", "2", "3")),
    ("hnsw", "*=>[KNN 500 @v $B]", ("LIMIT", "290", "20")),  # k past the documents
    ("hnsw", "*=>[KNN 3 @v $B]", ("LIMIT", "0", "0")),
    ("flat", "*=>[KNN 10 @v $B]", ()),
    ("ip", "*=>[KNN 10 @v $B EF_RUNTIME 50]", ()),
]


@pytest.mark.parametrize(("index", "query", "tail"), SHAPES)
def test_plan_replies_equal_the_general_path(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, index: str, query: str, tail: tuple[str]
) -> None:
    rng = random.Random(hash((index, query, tail)) & 0xFFFF)
    _run(engine, _request(index, _blob(rng), query, *tail))  # the general path learns it
    assert knn_plans.plans_kept() == 1
    for i in range(60):
        if i == 10:  # documents deleted, and past their deadline (not yet expired)
            for _ in range(5):
                engine.execute("DEL", f"d:{rng.randrange(DOCS)}")
            for _ in range(DOCS // 3):
                engine.execute("PEXPIRE", f"d:{rng.randrange(DOCS)}", "20")
            time.sleep(0.05)
        args = _request(index, _blob(rng), query, *tail)
        planned, used = _planned(engine, args)
        assert used, "the kept plan did not answer"
        assert planned == _general(engine, args, monkeypatch)
        assert isinstance(planned, list) and planned[0] >= len(planned) - 1


def test_plan_errors_are_the_general_paths(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    _run(engine, _request("hnsw", _blob(rng)))
    nan = struct.pack(f"<{DIM}f", *([float("nan")] * DIM))
    for blob in (b"\x00" * (4 * DIM - 4), b"\x00" * (4 * DIM + 4), nan):
        args = _request("hnsw", blob)
        planned, used = _planned(engine, args)
        assert used and planned[0] == "error"
        assert planned == _general(engine, args, monkeypatch)


@pytest.mark.parametrize(
    ("query", "tail"),
    [
        ("@t:{t1}=>[KNN 10 @v $B]", ()),  # a filter
        ("*=>[KNN 10 @v $B]", ("WITHSCORES",)),
        ("*=>[KNN 10 @v $B AS d]", ("SORTBY", "d")),
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


def test_no_plan_with_content_or_resp3(engine: Engine) -> None:
    rng = random.Random(6)
    args = _request("hnsw", _blob(rng))
    args.remove(b"NOCONTENT")
    _run(engine, args)
    assert knn_plans.plans_kept() == 0
    from store.commands.table import resolve

    args = _request("hnsw", _blob(rng))
    engine.submit(resolve(args), args, protocol=3)
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
    engine.execute("FT.DROPINDEX", "hnsw")
    gc.collect()
    assert all(p.index() is None for p in knn_plans._plans.values())  # the old index is freed
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
