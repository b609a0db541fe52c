"""FT.SEARCH KNN with SORTBY its own score (RedisVL's VectorQuery shape).

The reply skips the sort when the hits are already nearest first (store.commands.search
``_reply``); these tests hold that shortcut to what the full sort gives: ascending and
descending pages in distance order, and a hash field of the score's name (the distance
wins over it, in the reply and in the sort, as in RediSearch 2.10). (A score named like
a schema field or alias is refused: "Property ... already exists in schema".)
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

import pytest

from store import Engine, EngineConfig

DIM = 4
DOCS = 40


def _blob(v: list[float]) -> bytes:
    return struct.pack(f"<{DIM}f", *v)


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(EngineConfig(data_dir=None)).start()
    eng.execute("FT.CREATE", "idx", "PREFIX", "1", "d:", "SCHEMA", "v", "VECTOR", "FLAT", "6",
                "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2")  # fmt: skip
    rng = random.Random(7)
    for i in range(DOCS):
        vec = [rng.uniform(-1, 1) for _ in range(DIM)]
        eng.execute("HSET", f"d:{i}", "v", _blob(vec), "t", f"x{i}")
    yield eng
    eng.stop()


def _page(eng: Engine, query: str, *tail: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    reply = eng.execute("FT.SEARCH", "idx", query, "PARAMS", "2", "B", _blob([0.1] * DIM),
                        *tail, "DIALECT", "2")  # fmt: skip
    assert isinstance(reply, list)
    out = []
    for key, flat in zip(reply[1::2], reply[2::2], strict=True):
        out.append((key, dict(zip(flat[::2], flat[1::2], strict=True))))
    return out


def test_sortby_the_score_gives_distance_order_both_ways(engine: Engine) -> None:
    asc = _page(engine, "*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "ASC",
                "RETURN", "2", "dist", "t")  # fmt: skip
    desc = _page(engine, "*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "DESC",
                 "RETURN", "2", "dist", "t")  # fmt: skip
    unsorted = _page(engine, "*=>[KNN 10 @v $B AS dist]", "RETURN", "2", "dist", "t")
    distances = [float(f[b"dist"]) for _, f in asc]
    assert len(asc) == 10 and distances == sorted(distances)
    assert asc == sorted(unsorted, key=lambda kf: float(kf[1][b"dist"]))
    assert [float(f[b"dist"]) for _, f in desc] == sorted(distances, reverse=True)
    assert {k for k, _ in desc} == {k for k, _ in asc}


def test_a_hash_field_named_like_the_score_loses_to_the_distance(engine: Engine) -> None:
    # RediSearch 2.10 shows the distance where a hash holds a field of the score's name,
    # and sorts by the distance (tests/server/test_differential.py holds it to the peer)
    expected = _page(engine, "*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "ASC",
                     "RETURN", "1", "dist")  # fmt: skip
    for rank, (key, _) in enumerate(expected):
        engine.execute("HSET", key.decode(), "dist", str(100 - rank))
    for tail in (("RETURN", "1", "dist"), (), ("RETURN", "2", "t", "dist")):
        page = _page(engine, "*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "ASC", *tail)
        assert [(k, f[b"dist"]) for k, f in page] == [(k, f[b"dist"]) for k, f in expected]
        if not tail:  # every field: the distance first, the hash's own "dist" not shown
            assert all(next(iter(f)) == b"dist" and b"t" in f for _, f in page)
    desc = _page(engine, "*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "DESC",
                 "RETURN", "1", "dist")  # fmt: skip
    assert desc == expected[::-1]
