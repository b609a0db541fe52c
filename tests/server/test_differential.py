"""Differential tests: the same command scripts sent to `memvec server` and to the reference
peer (valkey + RediSearch 2.10, the session fixture `redis_stack`), replies compared.

Both servers are driven through redis-py connections without response callbacks (raw
RESP2 or RESP3 replies), so the comparison sees what a client library would parse. Error
replies are compared by their exact text. Each test uses its own key prefix and index
name and deletes what it created on the shared peer (never FLUSHALL there).

Differences that are intended are asserted as memvec behaviour in
`test_intentional_differences` and listed with their reasons in `docs/compatibility.md`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import redis

from store.commands import knn_plans
from store.server import ServerThread
from tests.harness.components import RedisStack, wait_index_scanned

Reply = Any


def call(r: redis.Redis, *args: object) -> Reply:
    """The raw reply to one command; an error reply becomes ``("ERR", text)``."""
    conn = r.connection_pool.get_connection()
    try:
        conn.send_command(*args)
        try:
            return normalize(conn.read_response())
        except redis.ResponseError as exc:
            return ("ERR", str(exc))
    finally:
        r.connection_pool.release(conn)


def normalize(reply: Reply) -> Reply:
    """Errors nested in replies (EXEC) become ``("ERR", text)`` so they compare by text."""
    if isinstance(reply, redis.ResponseError):
        return ("ERR", str(reply))
    if isinstance(reply, list):
        return [normalize(x) for x in reply]
    if isinstance(reply, dict):
        return {k: normalize(v) for k, v in reply.items()}
    return reply


class Pair:
    """One redis-py client on memvec and one on the peer, same protocol."""

    def __init__(self, memvec: redis.Redis, peer: redis.Redis) -> None:
        self.memvec = memvec
        self.peer = peer

    def both(self, *args: object) -> tuple[Reply, Reply]:
        return call(self.memvec, *args), call(self.peer, *args)

    def same(self, *args: object) -> Reply:
        """Send to both, assert equal replies, return the reply."""
        mine, theirs = self.both(*args)
        assert mine == theirs, f"{_show(args)}: memvec {mine!r} != peer {theirs!r}"
        return mine

    def script(self, commands: list[tuple[object, ...]]) -> None:
        for command in commands:
            self.same(*command)


@contextmanager
def connected_pair(port: int, peer: RedisStack, protocol: int | None = None) -> Iterator[Pair]:
    """A :class:`Pair`: redis-py on the memvec server at ``port`` and on ``peer``, the same
    RESP ``protocol`` (None: redis-py's default); both connections closed on exit."""
    options: dict[str, Any] = {"socket_timeout": 20}
    if protocol is not None:
        options["protocol"] = protocol
    mine = redis.Redis(host="127.0.0.1", port=port, **options)
    theirs = peer.client(**options)
    try:
        yield Pair(mine, theirs)
    finally:
        mine.close()
        theirs.close()


def _show(args: tuple[object, ...]) -> str:
    return " ".join(a.decode("latin-1") if isinstance(a, bytes) else str(a) for a in args)[:200]


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(
    request: pytest.FixtureRequest, server: ServerThread, redis_stack: RedisStack
) -> Iterator[Pair]:
    protocol = request.param
    mine = redis.Redis(host="127.0.0.1", port=server.port, protocol=protocol, socket_timeout=20)
    theirs = redis_stack.client(protocol=protocol, socket_timeout=20)
    try:
        yield Pair(mine, theirs)
    finally:
        mine.close()
        theirs.close()


@pytest.fixture
def p() -> str:
    """A key prefix / index name unique to this test."""
    return f"dt{uuid.uuid4().hex[:10]}"


@pytest.fixture
def cleanup(pair: Pair) -> Iterator[list[str]]:
    """Names appended here are deleted (keys) or dropped (``idx:`` + name) on both servers."""
    names: list[str] = []
    yield names
    for r in (pair.memvec, pair.peer):
        for name in names:
            if name.startswith("idx:"):
                call(r, "FT.DROPINDEX", name[4:], "DD")
            else:
                call(r, "DEL", name)


# -- strings, hashes, expiry -------------------------------------------------------------


def test_strings(pair: Pair, p: str, cleanup: list[str]) -> None:
    s, n, i = f"{p}:s", f"{p}:n", f"{p}:i"
    cleanup += [s, n, i]
    pair.script(
        [
            ("SET", s, "v"),
            ("GET", s),
            ("GET", f"{p}:missing"),
            ("SET", s, "w", "NX"),
            ("SET", s, "w", "XX", "GET"),
            ("SET", n, "w", "XX"),
            ("SET", n, "w", "NX", "GET"),
            ("SET", s, "a", "NX", "XX"),
            ("SET", s, "v", "EX", "0"),
            ("SET", s, "v", "EX", "abc"),
            ("INCR", i),
            ("INCRBY", i, "41"),
            ("INCRBY", i, "a"),
            ("INCR", s),
            ("APPEND", s, "zz"),
            ("APPEND", f"{p}:new", "x"),
            ("GET", s),
            ("MGET", s, i, f"{p}:missing", n),
        ]
    )
    cleanup.append(f"{p}:new")


def test_hashes(pair: Pair, p: str, cleanup: list[str]) -> None:
    h, s = f"{p}:h", f"{p}:s"
    cleanup += [h, s]
    pair.script(
        [
            ("HSET", h, "a", "1", "b", "2"),
            ("HSET", h, "a", "3", "c", "x"),
            ("HGET", h, "a"),
            ("HGET", h, "zz"),
            ("HMGET", h, "a", "zz", "b"),
            ("HGETALL", h),
            ("HGETALL", f"{p}:missing"),
            ("HINCRBY", h, "a", "5"),
            ("HINCRBY", h, "new", "-2"),
            ("HINCRBY", h, "c", "1"),
            ("HINCRBY", h, "a", "x"),
            ("HLEN", h),
            ("HDEL", h, "a", "zz"),
            ("HLEN", h),
            ("HLEN", f"{p}:missing"),
            ("SET", s, "v"),
            ("HGET", s, "a"),
            ("HSET", s, "a", "1"),
            ("GET", h),
            ("HDEL", h, "b", "c", "new"),
            ("EXISTS", h),
        ]
    )


def test_expiry(pair: Pair, p: str, cleanup: list[str]) -> None:
    k = f"{p}:k"
    cleanup.append(k)
    pair.script(
        [
            ("SET", k, "v"),
            ("TTL", k),
            ("PTTL", k),
            ("TTL", f"{p}:missing"),
            ("EXPIRE", k, "100"),
        ]
    )
    mine, theirs = pair.both("TTL", k)
    assert 98 <= mine <= 100 and 98 <= theirs <= 100
    pair.script([("PERSIST", k), ("PERSIST", k), ("TTL", k), ("EXPIRE", k, "abc")])
    pair.script([("EXPIRE", f"{p}:missing", "10"), ("PEXPIREAT", k, "99999999999999")])
    mine, theirs = pair.both("PTTL", k)
    assert abs(mine - theirs) < 2000
    pair.script([("PEXPIREAT", k, "1"), ("EXISTS", k), ("GET", k)])


# -- transactions -----------------------------------------------------------------------


def test_transactions(pair: Pair, p: str, cleanup: list[str]) -> None:
    a, s = f"{p}:a", f"{p}:s"
    cleanup += [a, s]
    pair.script(
        [
            ("SET", s, "text"),
            ("MULTI",),
            ("SET", a, "1"),
            ("INCR", s),
            ("INCR", a),
            ("EXEC",),
            ("GET", a),
            ("EXEC",),
            ("DISCARD",),
            ("MULTI",),
            ("SET", a, "2"),
            ("NOSUCHCOMMAND",),
            ("EXEC",),
            ("GET", a),
            ("MULTI",),
            ("GET",),
            ("EXEC",),
            ("MULTI",),
            ("SET", a, "3"),
            ("DISCARD",),
            ("GET", a),
        ]
    )


# -- errors -----------------------------------------------------------------------------


def test_errors(pair: Pair, p: str, cleanup: list[str]) -> None:
    s = f"{p}:s"
    cleanup.append(s)
    pair.script(
        [
            ("NOSUCH", "a", "b"),
            ("NOSUCH",),
            ("GET",),
            ("SET", s),
            ("HSET", s, "a"),
            ("HGETALL",),
            ("SELECT", "0"),
            ("SELECT", "x"),
            ("SET", s, "v", "BOGUS"),
            ("SET", s, "1"),
            ("HGET", s, "f"),
            ("EXPIRE", s, "1", "BOGUS"),
            ("FT.SEARCH", f"{p}missing", "*"),
            ("FT.INFO", f"{p}missing"),
            ("FT.CREATE", f"{p}x", "SCHEMA"),
            ("FT.CREATE", f"{p}x", "ON", "HASH", "SCHEMA", "v", "VECTOR", "FLAT", "2", "TYPE"),
        ]
    )


def test_intentional_differences(pair: Pair, p: str, cleanup: list[str]) -> None:
    """Replies that differ on purpose; each is listed in docs/compatibility.md."""
    idx = f"{p}i"
    cleanup += [f"idx:{idx}", f"{p}:1", f"{p}:2"]
    pair.same(
        "FT.CREATE", idx, "ON", "HASH", "PREFIX", "1", f"{p}:", "SCHEMA",
        "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
        "t", "TAG",
    )  # fmt: skip
    wait_index_scanned(pair.peer, idx)
    blob = np.arange(4, dtype=np.float32).tobytes()
    pair.same("HSET", f"{p}:1", "v", blob, "t", "a")

    mine, theirs = pair.both("SELECT", "1")
    assert mine == ("ERR", "DB index is out of range")
    assert theirs in (b"OK", "OK")
    call(pair.peer, "SELECT", "0")

    # A wrong-length vector is stored and counted as an indexing failure on both (memvec
    # refuses it only on a STRICT index: tests/server/test_indexing_failures.py).
    short = np.arange(5, dtype=np.float32).tobytes()
    pair.same("HSET", f"{p}:2", "v", short, "t", "a")

    knn_on_tag = ("FT.SEARCH", idx, "*=>[KNN 2 @t $B]", "PARAMS", "2", "B", blob, "DIALECT", "2")
    pair.same(*knn_on_tag)  # no longer a difference: a KNN on a TAG field matches nothing

    epsilon = ("FT.SEARCH", idx, "*=>[KNN 2 @v $B EPSILON 0.1]", "PARAMS", "2", "B", blob,
               "DIALECT", "2")  # fmt: skip
    pair.same(*epsilon)  # no longer a difference: the index checks options per algorithm

    # no longer a difference: both take an index ON JSON (tests/server/test_json_index.py)
    mine, theirs = pair.both("FT.CREATE", f"{p}j", "ON", "JSON", "SCHEMA", "$.t", "AS", "t", "TAG")
    cleanup.append(f"idx:{p}j")
    assert mine == theirs and theirs in (b"OK", "OK")

    mine, theirs = pair.both("FT.CREATE", f"{p}g", "ON", "HASH", "SCHEMA", "t", "GEOSHAPE")
    cleanup.append(f"idx:{p}g")
    assert mine[0] == "ERR" and "GEOSHAPE fields are not supported" in mine[1]
    assert theirs in (b"OK", "OK")


def test_dropindex_missing_index_text(pair: Pair, p: str) -> None:
    pair.same("FT.DROPINDEX", f"{p}missing")


@pytest.mark.xfail(
    strict=True,
    reason="valkey (the peer) names the command; Redis 7.4 says 'MULTI calls can not be "
    "nested'; memvec keeps the generic text (docs/compatibility.md)",
)
def test_nested_multi_text(pair: Pair) -> None:
    try:
        pair.same("MULTI")
        pair.same("MULTI")
    finally:
        pair.both("DISCARD")


# -- vector search ----------------------------------------------------------------------

DIM = 8
GENRES = ("comedy", "drama", "horror")


def _docs(n: int, seed: int) -> tuple[np.ndarray, list[dict[str, object]]]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    docs = [
        {"v": vectors[i].tobytes(), "genre": GENRES[i % 3], "year": 1950 + i, "title": f"t{i}"}
        for i in range(n)
    ]
    return vectors, docs


def _load(pair: Pair, p: str, docs: list[dict[str, object]]) -> None:
    for r in (pair.memvec, pair.peer):
        with r.pipeline(transaction=False) as pipe:
            for i, doc in enumerate(docs):
                pipe.hset(f"{p}:{i}", mapping=doc)  # type: ignore[arg-type]
            pipe.execute()


def _create(pair: Pair, idx: str, p: str, algorithm: str, metric: str = "L2") -> None:
    pair.same(
        "FT.CREATE", idx, "ON", "HASH", "PREFIX", "1", f"{p}:", "SCHEMA",
        "v", "VECTOR", algorithm, "6", "TYPE", "FLOAT32", "DIM", str(DIM),
        "DISTANCE_METRIC", metric,
        "genre", "TAG", "year", "NUMERIC", "SORTABLE", "title", "TAG",
    )  # fmt: skip
    wait_index_scanned(pair.peer, idx)


def _id(row: tuple[bytes, object]) -> bytes:
    return row[0]


def results(reply: Reply) -> tuple[int, list[tuple[bytes, dict[bytes, bytes] | None]]]:
    """``(total, [(id, fields or None), ...])`` from a RESP2 or RESP3 FT.SEARCH reply."""
    if isinstance(reply, dict):
        rows = []
        for row in reply[b"results"]:
            values = row.get(b"extra_attributes")
            rows.append((row[b"id"], dict(values) if values is not None else None))
        return reply[b"total_results"], rows
    total, rest = reply[0], reply[1:]
    if rest and not isinstance(rest[0], bytes):
        raise AssertionError(f"unexpected reply shape {reply!r}")
    out: list[tuple[bytes, dict[bytes, bytes] | None]] = []
    i = 0
    while i < len(rest):
        if i + 1 < len(rest) and isinstance(rest[i + 1], list):
            flat = rest[i + 1]
            out.append((rest[i], dict(zip(flat[::2], flat[1::2], strict=True))))
            i += 2
        else:
            out.append((rest[i], None))
            i += 1
    return total, out


def assert_same_results(mine: Reply, theirs: Reply, what: str, *, ordered: bool = True) -> None:
    """Ids (and their order if ``ordered``) equal; field values equal, distances within 1e-5.

    Without SORTBY RediSearch returns KNN hits in no defined order (memvec: nearest first),
    so such queries compare with ``ordered=False``.
    """
    assert not (isinstance(mine, tuple) or isinstance(theirs, tuple)), f"{what}: {mine} / {theirs}"
    m_total, m_rows = results(mine)
    t_total, t_rows = results(theirs)
    assert m_total == t_total, f"{what}: total {m_total} != {t_total}"
    if not ordered:
        m_rows, t_rows = sorted(m_rows, key=_id), sorted(t_rows, key=_id)
    assert [r[0] for r in m_rows] == [r[0] for r in t_rows], f"{what}: ids differ"
    for (doc, m_fields), (_, t_fields) in zip(m_rows, t_rows, strict=True):
        if m_fields is None or t_fields is None:
            assert m_fields == t_fields, f"{what}: {doc!r} fields {m_fields} != {t_fields}"
            continue
        assert m_fields.keys() == t_fields.keys(), f"{what}: {doc!r} field names differ"
        for name, value in m_fields.items():
            other = t_fields[name]
            if name.endswith(b"score") or name == b"dist":
                assert math.isclose(float(value), float(other), rel_tol=1e-5, abs_tol=1e-5), (
                    f"{what}: {doc!r}.{name!r} {value!r} != {other!r}"
                )
            else:
                assert value == other, f"{what}: {doc!r}.{name!r} {value!r} != {other!r}"


@pytest.mark.parametrize("metric", ["L2", "COSINE", "IP"])
def test_flat_knn_matches_peer(pair: Pair, p: str, cleanup: list[str], metric: str) -> None:
    idx = f"{p}i"
    vectors, docs = _docs(60, seed=7)
    cleanup.append(f"idx:{idx}")
    _create(pair, idx, p, "FLAT", metric)
    _load(pair, p, docs)
    q = np.random.default_rng(99).standard_normal(DIM).astype(np.float32).tobytes()
    params = ("PARAMS", "2", "B", q, "DIALECT", "2")
    knn = "*=>[KNN 10 @v $B]"
    queries: list[tuple[object, ...]] = [
        (knn, *params),
        (knn, "RETURN", "2", "genre", "__v_score", *params),
        (knn, "NOCONTENT", *params),
        (knn, "SORTBY", "__v_score", "ASC", "LIMIT", "0", "5", *params),
        (knn, "SORTBY", "__v_score", "RETURN", "1", "title", "LIMIT", "3", "4", *params),
        ("*=>[KNN 5 @v $B AS dist]", "SORTBY", "dist", "RETURN", "2", "dist", "year", *params),
        ("@genre:{comedy}=>[KNN 5 @v $B]", "SORTBY", "__v_score", *params),
        ("@genre:{comedy | drama}=>[KNN 8 @v $B]", "SORTBY", "__v_score",
         "RETURN", "2", "genre", "__v_score", *params),
        ("@year:[2000 2010]=>[KNN 6 @v $B]", "SORTBY", "__v_score", *params),
        ("(@genre:{horror} @year:[1995 +inf])=>[KNN 4 @v $B]", "SORTBY", "__v_score", *params),
        ("*=>[KNN $K @v $B]", "SORTBY", "__v_score", "NOCONTENT", "PARAMS", "4", "B", q, "K",
         "3", "DIALECT", "2"),
        ("@genre:{comedy}", "SORTBY", "year", "DESC", "RETURN", "1", "year", "LIMIT", "0", "4",
         "DIALECT", "2"),
        ("@year:[2005 2009]", "SORTBY", "year", "ASC", "NOCONTENT", "LIMIT", "0", "100"),
        ("@genre:{nosuch}=>[KNN 5 @v $B]", *params),
    ]  # fmt: skip
    for query in queries:
        mine, theirs = pair.both("FT.SEARCH", idx, *query)
        ordered = "SORTBY" in query
        assert_same_results(mine, theirs, _show(("FT.SEARCH", idx, *query)), ordered=ordered)
    assert vectors.shape == (60, DIM)


@pytest.mark.parametrize("metric", ["L2", "COSINE"])
def test_flat_knn_pages_from_kept_plans_match_peer(
    pair: Pair, p: str, cleanup: list[str], metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shapes clients repeat, each sent with six vectors: memvec answers the first
    through its general path and the rest from a kept plan (store.commands.knn_plans);
    every answer matches the peer's."""
    idx = f"{p}i"
    _, docs = _docs(60, seed=8)
    cleanup.append(f"idx:{idx}")
    _create(pair, idx, p, "FLAT", metric)
    _load(pair, p, docs)
    shapes: list[tuple[object, ...]] = [
        ("*=>[KNN 10 @v $B]", "NOCONTENT"),
        ("*=>[KNN 10 @v $B]", "RETURN", "2", "genre", "__v_score"),
        ("*=>[KNN 5 @v $B AS dist]", "SORTBY", "dist", "RETURN", "2", "dist", "year"),
        ("*=>[KNN 8 @v $B]", "SORTBY", "__v_score", "RETURN", "1", "title", "LIMIT", "2", "4"),
        ("*=>[KNN 10 @v $B]",),
    ]  # fmt: skip
    planned: list[bool] = []
    find = knn_plans.find

    def counted(ctx: Any, args: Any) -> Any:
        kept = find(ctx, args)
        planned.append(kept is not None)
        return kept

    monkeypatch.setattr(knn_plans, "find", counted)  # the server runs in this process
    monkeypatch.setattr(knn_plans, "_plans", {})  # not cleared for room during the test
    _send_shapes(pair, idx, shapes, sends=6, seed=5)
    assert sum(planned) == len(shapes) * 5  # all but each shape's first came from a plan


def _send_shapes(
    pair: Pair, idx: str, shapes: list[tuple[object, ...]], *, sends: int, seed: int
) -> None:
    """Each FT.SEARCH shape ``(query, *options)`` ``sends`` times, a new vector ``$B``
    each time, to both servers: the same results (ordered when the shape sorts)."""
    rng = np.random.default_rng(seed)
    for shape in shapes:
        for _ in range(sends):
            q = rng.standard_normal(DIM).astype(np.float32).tobytes()
            query = ("FT.SEARCH", idx, shape[0], *shape[1:], "PARAMS", "2", "B", q,
                     "DIALECT", "2")  # fmt: skip
            mine, theirs = pair.both(*query)
            assert_same_results(mine, theirs, _show(query), ordered="SORTBY" in shape)


def test_a_hash_field_named_like_the_distance_loses_to_it(
    pair: Pair, p: str, cleanup: list[str]
) -> None:
    """Every third hash holds a field named like the KNN score (and a VECTOR_RANGE
    yield), valued against the distance order: RediSearch shows the distance there and
    sorts by it, on the general path and on a kept plan's page (each shape sent twice);
    RETURNed under another name, the hash's own field is shown instead."""
    idx = f"{p}i"
    _, docs = _docs(30, seed=11)
    for i, doc in enumerate(docs):
        if i % 3 == 0:
            doc["dist"] = str(-i)
    cleanup.append(f"idx:{idx}")
    _create(pair, idx, p, "FLAT")
    _load(pair, p, docs)
    shapes: list[tuple[object, ...]] = [
        ("*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "ASC", "RETURN", "2", "dist", "year"),
        ("*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "RETURN", "1", "dist"),
        ("*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "DESC", "RETURN", "1", "dist"),
        ("*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist"),
        ("*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "NOCONTENT"),
        ("*=>[KNN 10 @v $B AS dist]", "RETURN", "2", "year", "dist"),
        ("*=>[KNN 10 @v $B AS dist]",),
        # RETURNed under another name: the hash's own field, where it holds one
        ("*=>[KNN 10 @v $B AS dist]", "SORTBY", "dist", "RETURN", "4", "dist", "AS", "d2",
         "year"),
        ("*=>[KNN 10 @v $B AS dist]", "RETURN", "5", "year", "dist", "AS", "d2", "dist"),
        ("@genre:{comedy}=>[KNN 6 @v $B AS dist]", "SORTBY", "dist"),
        ("@v:[VECTOR_RANGE 4 $B]=>{$YIELD_DISTANCE_AS: dist}", "SORTBY", "dist",
         "RETURN", "2", "dist", "title"),
    ]  # fmt: skip
    _send_shapes(pair, idx, shapes, sends=2, seed=12)


def test_hnsw_recall(pair: Pair, p: str, cleanup: list[str]) -> None:
    idx = f"{p}i"
    vectors, docs = _docs(300, seed=3)
    cleanup.append(f"idx:{idx}")
    _create(pair, idx, p, "HNSW")
    for i in range(len(docs)):
        docs[i] = {"v": docs[i]["v"], "genre": docs[i]["genre"]}
    with pair.memvec.pipeline(transaction=False) as pipe:
        for i, doc in enumerate(docs):
            pipe.hset(f"{p}:{i}", mapping=doc)  # type: ignore[arg-type]
        pipe.execute()
    rng = np.random.default_rng(5)
    hits = total = 0
    for _ in range(20):
        q = rng.standard_normal(DIM).astype(np.float32)
        exact = {f"{p}:{i}".encode() for i in np.argsort(((vectors - q) ** 2).sum(1))[:10]}
        reply = call(pair.memvec, "FT.SEARCH", idx, "*=>[KNN 10 @v $B]", "NOCONTENT",
                     "PARAMS", "2", "B", q.tobytes(), "DIALECT", "2")  # fmt: skip
        got = {doc for doc, _ in results(reply)[1]}
        hits += len(got & exact)
        total += 10
    assert hits / total >= 0.9, f"HNSW recall@10 {hits / total:.3f} < 0.9"


def test_ft_info_common_fields(pair: Pair, p: str, cleanup: list[str]) -> None:
    idx = f"{p}i"
    _, docs = _docs(25, seed=11)
    cleanup.append(f"idx:{idx}")
    _create(pair, idx, p, "HNSW", "COSINE")
    _load(pair, p, docs)
    mine, theirs = pair.both("FT.INFO", idx)
    if isinstance(mine, list):
        mine = dict(zip(mine[::2], mine[1::2], strict=True))
        theirs = dict(zip(theirs[::2], theirs[1::2], strict=True))
    for name in (b"index_name", b"index_options", b"index_definition", b"num_docs",
                 b"max_doc_id", b"num_terms", b"indexing"):  # fmt: skip
        assert mine[name] == theirs[name], f"FT.INFO {name!r}: {mine[name]!r} != {theirs[name]!r}"
    assert _attributes(mine[b"attributes"]) == _attributes(theirs[b"attributes"])
    assert float(mine[b"percent_indexed"]) == float(theirs[b"percent_indexed"]) == 1.0
    assert int(mine[b"hash_indexing_failures"]) == int(theirs[b"hash_indexing_failures"]) == 0


def _attributes(attrs: list[Any]) -> list[dict[bytes, Any]]:
    """FT.INFO attributes as dicts without HNSW tuning keys only one side reports."""
    out = []
    for attr in attrs:
        d = dict(attr) if isinstance(attr, dict) else dict(zip(attr[::2], attr[1::2], strict=True))
        for key in (b"M", b"ef_construction", b"ef_runtime", b"epsilon", b"initial_cap"):
            d.pop(key, None)
        out.append(d)
    return out
