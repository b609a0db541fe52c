"""Index management against the peer: aliases, FT.ALTER, FT.EXPLAIN(CLI), FT.PROFILE,
FT.TAGVALS, FT.CONFIG, synonyms (refused), FLUSHALL dropping indexes, and durability of
aliases and altered schemas across restarts and snapshots.

Arity errors are not compared: memvec spells the command in lower case ("wrong number of
arguments for 'ft.aliasdel' command"), the peer as registered ('FT.ALIASDEL'); that text
comes from the command table (docs/compatibility.md).

One memvec server for the module (tests use their own index names and key prefixes);
the shared peer is never flushed: FLUSHALL is compared on a private peer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.harness.wait import wait_for
from tests.replication.nodes import Node, converged
from tests.server.test_differential import Pair, call


@pytest.fixture(scope="module")
def memvec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = tmp_path_factory.mktemp("admin")
    thread = ServerThread(ServerConfig(port=0, data_dir=data, appendfsync=FsyncPolicy.NO))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def p(pair: Pair) -> Iterator[str]:
    """A prefix / index name unique to the test; its keys and indexes are removed after."""
    name = f"ia{uuid.uuid4().hex[:10]}"
    yield name
    for r in (pair.memvec, pair.peer):
        for idx in call(r, "FT._LIST") or []:
            idx = idx.decode() if isinstance(idx, bytes) else idx
            if idx.startswith(name):
                call(r, "FT.DROPINDEX", idx)
        keys = call(r, "KEYS", f"{name}*")
        if keys:
            call(r, "DEL", *keys)


def vec(*xs: float) -> bytes:
    return np.array(list(xs) + [0.0] * (4 - len(xs)), dtype=np.float32).tobytes()


def create(pair: Pair, idx: str, prefix: str, *extra: str) -> None:
    pair.same(
        "FT.CREATE", idx, "ON", "HASH", "PREFIX", "1", prefix, "SCHEMA",
        "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
        "t", "TAG", *extra,
    )  # fmt: skip


def load(pair: Pair, p: str) -> None:
    for i, tag in enumerate(["a,b", "b", "C", "a"]):
        pair.same("HSET", f"{p}:{i}", "v", vec(i), "t", tag, "n", str(i), "w", f"w{i % 2}")


def peer_indexed(pair: Pair, idx: str) -> None:
    """The peer indexes in the background after FT.CREATE/FT.ALTER: wait until it is done."""
    wait_index_scanned(pair.peer, idx)


def search(pair: Pair, idx: str, query: str, *extra: object) -> Any:
    return pair.same("FT.SEARCH", idx, query, "SORTBY", "n", "ASC", "RETURN", "1", "t", *extra,
                     "DIALECT", "2")  # fmt: skip


def test_aliases(pair: Pair, p: str) -> None:
    create(pair, f"{p}i1", f"{p}:", "n", "NUMERIC", "SORTABLE")
    create(pair, f"{p}i2", f"{p}:", "n", "NUMERIC", "SORTABLE")
    load(pair, p)
    pair.same("FT.ALIASADD", f"{p}al", f"{p}i1")
    pair.same("FT.ALIASADD", f"{p}al", f"{p}i1")  # Alias already exists
    pair.same("FT.ALIASADD", f"{p}al2", f"{p}nope")  # unknown index
    pair.same("FT.ALIASADD", f"{p}al2", f"{p}al")  # an alias is not an index
    search(pair, f"{p}al", "@t:{a}")
    info_mine, info_peer = pair.both("FT.INFO", f"{p}al")
    assert isinstance(info_mine, (list, dict)) and isinstance(info_peer, (list, dict))
    name_of = (lambda i: i[b"index_name"]) if isinstance(info_mine, dict) else (lambda i: i[1])
    assert name_of(info_mine) == name_of(info_peer) == f"{p}i1".encode()
    pair.same("FT.TAGVALS", f"{p}al", "t")
    pair.same("FT.ALIASUPDATE", f"{p}al", f"{p}i2")
    pair.same("FT.ALIASUPDATE", f"{p}al3", f"{p}i2")  # creates it
    pair.same("FT.ALIASUPDATE", f"{p}al3", f"{p}nope")
    search(pair, f"{p}al3", "*")
    pair.same("FT.ALIASDEL", f"{p}al3")
    pair.same("FT.ALIASDEL", f"{p}al3")  # Alias does not exist
    pair.same("FT.SEARCH", f"{p}al3", "*")  # no such index
    # dropping through an alias drops the index and every alias pointing at it
    pair.same("FT.DROPINDEX", f"{p}al")
    pair.same("FT.SEARCH", f"{p}i2", "*")
    pair.same("FT.ALIASDEL", f"{p}al")
    pair.same("FT.ALIASADD", f"{p}al", f"{p}i1")


def test_alter_adds_fields_and_reindexes(pair: Pair, p: str) -> None:
    create(pair, f"{p}i", f"{p}:")
    load(pair, p)
    pair.same("FT.ALTER", f"{p}i", "SCHEMA", "ADD", "n", "NUMERIC", "SORTABLE")
    peer_indexed(pair, f"{p}i")
    search(pair, f"{p}i", "@n:[1 2]")
    search(pair, f"{p}i", "@t:{a}=>[KNN 2 @v $B]", "PARAMS", "2", "B", vec(3))
    pair.same("FT.ALTER", f"{p}i", "SCHEMA", "ADD", "n", "NUMERIC")  # Duplicate field
    pair.same("FT.ALTER", f"{p}nope", "SCHEMA", "ADD", "x", "TAG")  # Unknown index name
    pair.same("FT.ALTER", f"{p}i", "SCHEMA", "DROP", "x")  # Unknown action
    pair.same("FT.ALTER", f"{p}i", "ADD", "x", "TAG")  # ALTER must be followed by SCHEMA
    pair.same("FT.ALTER", f"{p}i", "SKIPINITIALSCAN", "ADD", "x", "TAG")
    pair.same("FT.ALTER", f"{p}i", "SCHEMA", "ADD", "x")  # Field `x` does not have a type
    pair.same("FT.ALTER", f"{p}i", "SCHEMA", "ADD", "x", "BLOB")  # Invalid field type
    pair.same("FT.ALTER", f"{p}i", "SKIPINITIALSCAN", "SCHEMA", "ADD", "w", "TAG")
    pair.same("HSET", f"{p}:9", "v", vec(9), "t", "z", "n", "9", "w", "w1")
    search(pair, f"{p}i", "@w:{w1}")  # only the document written after the ALTER
    attrs_mine, attrs_peer = (_attributes(r) for r in pair.both("FT.INFO", f"{p}i"))
    assert attrs_mine == attrs_peer


def _attributes(info: Any) -> Any:
    if isinstance(info, dict):
        return info[b"attributes"]
    return info[info.index(b"attributes") + 1]


EXPLAIN_QUERIES = [
    "*",
    "@t:{a}",
    "@t:{a|b|c}",
    "@t:{ab*}",
    "-@t:{a}",
    "@t:{a} | @n:[1 2]",
    "@t:{a} @n:[(1 +inf] -@t:{b}",
    "@n:[-inf 5]",
    "*=>[KNN 3 @v $B]",
    "(@t:{a} @n:[1 3])=>[KNN 3 @v $B AS dist]",
    "@t:{a} ~@t:{b}",
    "(~@t:{a|b})=>[KNN 3 @v $B AS dist]",
]


@pytest.mark.parametrize("query", EXPLAIN_QUERIES)
def test_explain(pair: Pair, p: str, query: str) -> None:
    create(pair, f"{p}i", f"{p}:", "n", "NUMERIC")
    args = ("PARAMS", "2", "B", vec(1), "DIALECT", "2")
    pair.same("FT.EXPLAIN", f"{p}i", query, *args)
    pair.same("FT.EXPLAINCLI", f"{p}i", query, *args)


def test_explain_errors(pair: Pair, p: str) -> None:
    create(pair, f"{p}i", f"{p}:")
    pair.same("FT.EXPLAIN", f"{p}nope", "*")


PROFILE_QUERIES = [
    ("@t:{a}", ()),
    ("*", ("NOCONTENT",)),
    ("@t:{a}", ("LIMIT", "0", "1")),
    ("@t:{a|b}", ()),
    ("-@t:{a}", ()),
    ("@t:{a} @n:[1 3]", ()),
    ("@t:{a} | @n:[1 3]", ("SORTBY", "n", "NOCONTENT", "DIALECT", "2")),
    ("*=>[KNN 2 @v $B]", ("PARAMS", "2", "B", vec(1.2), "DIALECT", "2")),
    ("@t:{b}", ("SORTBY", "n", "RETURN", "1", "t")),
]


def test_profile_search(pair: Pair, p: str) -> None:
    """The search reply is the same; the profile has the same keys, iterator tree and
    result processors. Left out: times, the numeric iterator's range and size (RediSearch's
    range-tree nodes) and children's counters (how far each read ahead)."""
    create(pair, f"{p}i", f"{p}:", "n", "NUMERIC", "SORTABLE")
    # writes racing the peer's background scan are indexed twice there (new doc ids, the
    # old ones garbage until its GC runs), which shows in the iterators' sizes
    peer_indexed(pair, f"{p}i")
    load(pair, p)
    for query, extra in PROFILE_QUERIES:
        for limited in ((), ("LIMITED",)):
            args = ("FT.PROFILE", f"{p}i", "SEARCH", *limited, "QUERY", query, *extra)
            mine, theirs = pair.both(*args)
            reply_mine, profile_mine = _split_profile(mine)
            reply_peer, profile_peer = _split_profile(theirs)
            assert reply_mine == reply_peer, args
            assert list(profile_mine) == list(profile_peer), args
            iterators = b"Iterators profile"
            assert _tree(profile_mine[iterators]) == _tree(profile_peer[iterators]), args
            processors = b"Result processors profile"
            assert _kinds(profile_mine[processors]) == _kinds(profile_peer[processors]), args
    pair.same("FT.PROFILE", f"{p}i", "FOO", "QUERY", "*")
    pair.same("FT.PROFILE", f"{p}i", "SEARCH", "LIMITED", "*")  # The QUERY keyword is expected
    pair.same("FT.PROFILE", f"{p}nope", "SEARCH", "QUERY", "*")


def _tree(entry: Any) -> Any:
    """An iterator profile as nested dicts, without times (and numeric ranges/sizes)."""
    if isinstance(entry, list) and entry and isinstance(entry[0], dict):
        return [_tree(e) for e in entry]
    if isinstance(entry, list) and entry and entry[0] == b"Type":  # RESP2 flat form
        out: dict[bytes, Any] = {}
        i = 0
        while i < len(entry):
            key = entry[i]
            if key == b"Child iterators":
                rest = entry[i + 1 :]
                out[key] = rest[0] if len(rest) == 1 and isinstance(rest[0], bytes) else rest
                break
            out[key] = entry[i + 1]
            i += 2
        entry = out
    if isinstance(entry, dict):
        skip = {b"Time"} | ({b"Term", b"Size"} if entry.get(b"Type") == b"NUMERIC" else set())
        out = {}
        for k, v in entry.items():
            if k in (b"Child iterators", b"Child iterator") and not isinstance(v, bytes):
                # how far a child iterator read ahead is the engine's own business
                children = [_tree(c) for c in (v if k == b"Child iterators" else [v])]
                for child in children:
                    child.pop(b"Counter", None)
                out[k] = children if k == b"Child iterators" else children[0]
            elif k not in skip:
                out[k] = _tree(v)
        return out
    return entry


def _split_profile(reply: Any) -> tuple[Any, dict[bytes, Any]]:
    """(search reply, profile as a map) from either protocol's FT.PROFILE reply."""
    if isinstance(reply, dict):
        rest = dict(reply)
        profile = rest.pop(b"profile")
        return rest, profile
    search_reply, entries = reply
    profile = {}
    for entry in entries:
        profile[entry[0]] = (
            entry[1:]
            if entry[0] == b"Result processors profile"
            else (entry[1] if len(entry) > 1 else None)
        )
    return search_reply, profile


def _kind(entry: Any) -> Any:
    if isinstance(entry, list) and entry and isinstance(entry[0], dict):
        entry = entry[0]
    if isinstance(entry, dict):
        return entry[b"Type"]
    return entry[entry.index(b"Type") + 1]


def _kinds(entries: list[Any]) -> list[Any]:
    return [_kind(e) for e in entries]


def test_tagvals(pair: Pair, p: str) -> None:
    create(pair, f"{p}i", f"{p}:", "n", "NUMERIC", "cs", "TAG", "CASESENSITIVE", "SEPARATOR", ";")
    load(pair, p)
    pair.same("HSET", f"{p}:cs", "cs", " Xy;xy ; Z ")
    pair.same("FT.TAGVALS", f"{p}i", "t")
    pair.same("FT.TAGVALS", f"{p}i", "cs")
    pair.same("FT.TAGVALS", f"{p}i", "n")  # Not a tag field
    pair.same("FT.TAGVALS", f"{p}i", "zz")  # No such field
    pair.same("FT.TAGVALS", f"{p}nope", "t")


def test_config(pair: Pair) -> None:
    pair.same("FT.CONFIG", "GET", "MINPREFIX")
    pair.same("FT.CONFIG", "GET", "nope")
    pair.same("FT.CONFIG", "HELP", "MAXSEARCHRESULTS")
    pair.same("FT.CONFIG", "XX", "TIMEOUT")
    pair.same("FT.CONFIG", "SET", "NOPE", "1")
    pair.same("FT.CONFIG", "SET", "TIMEOUT")
    mine, theirs = pair.both("FT.CONFIG", "HELP", "*")
    names = (lambda r: list(r)) if isinstance(mine, dict) else (lambda r: [e[0] for e in r])
    assert names(mine) == names(theirs) and len(names(mine)) > 30
    # SET is refused, naming the value memvec keeps (the shared peer is not changed)
    assert call(pair.memvec, "FT.CONFIG", "SET", "TIMEOUT", "100") == (
        "ERR",
        "FT.CONFIG SET is not supported by memvec: TIMEOUT is fixed at 500",
    )


def test_synonyms_are_refused(pair: Pair, p: str) -> None:
    create(pair, f"{p}i", f"{p}:")
    assert call(pair.memvec, "FT.SYNUPDATE", f"{p}i", "g", "a", "b") == (
        "ERR",
        "FT.SYNUPDATE is not supported by memvec: queries are not expanded with synonyms",
    )
    assert call(pair.memvec, "FT.SYNDUMP", f"{p}i")[0] == "ERR"


def test_flushall_drops_indexes_and_aliases(
    tmp_path: Path, redis_stack_factory: Callable[..., RedisStack]
) -> None:
    peer = redis_stack_factory()
    flushed = ServerThread(ServerConfig(port=0, data_dir=tmp_path / "flush"))
    flushed.start()
    try:
        pair = Pair(redis.Redis(port=flushed.port, protocol=2), peer.client(protocol=2))
        for flush in ("FLUSHALL", "FLUSHDB"):
            pair.same("FT.CREATE", "fi", "ON", "HASH", "SCHEMA", "t", "TAG")
            pair.same("HSET", "k", "t", "a")
            pair.same("FT.ALIASADD", "fa", "fi")
            pair.same(flush)
            pair.same("FT._LIST")
            pair.same("FT.ALIASDEL", "fa")
            pair.same("FT.SEARCH", "fi", "*")
    finally:
        flushed.stop()


def test_aliases_alter_and_strict_survive_restart_and_snapshot(tmp_path: Path) -> None:
    def start() -> ServerThread:
        return ServerThread(ServerConfig(port=0, data_dir=tmp_path / "d")).start()

    server = start()
    try:
        r = redis.Redis(port=server.port, protocol=2)
        r.execute_command("FT.CREATE", "i", "ON", "HASH", "PREFIX", "1", "d:", "STRICT",
                          "SCHEMA", "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4",
                          "DISTANCE_METRIC", "L2")  # fmt: skip
        r.hset("d:1", mapping={"v": vec(1), "n": "5"})
        r.execute_command("FT.ALIASADD", "a1", "i")
        r.execute_command("FT.ALTER", "i", "SCHEMA", "ADD", "n", "NUMERIC")
        r.close()
    finally:
        server.stop()
    for snapshot in (False, True):
        server = start()
        try:
            r = redis.Redis(port=server.port, protocol=2)
            assert r.execute_command("FT.SEARCH", "a1", "@n:[5 5]", "NOCONTENT") == [1, b"d:1"]
            with pytest.raises(redis.ResponseError, match="blob size 3"):
                r.hset("d:2", "v", b"abc")
            assert r.exists("d:2") == 0
            if not snapshot:
                r.execute_command("FT.ALIASADD", "a2", "i")
                assert r.save()
                r.execute_command("FT.ALIASDEL", "a1")
                r.execute_command("FT.ALIASADD", "a1", "i")  # after the snapshot: log tail
            else:
                assert r.execute_command("FT.SEARCH", "a2", "*", "NOCONTENT") == [1, b"d:1"]
            r.close()
        finally:
            server.stop()


def test_aliases_alter_and_flush_replicate(tmp_path: Path) -> None:
    """Aliases, FT.ALTER and FLUSHALL's index drop reach a replica (a full sync from a
    snapshot, then the stream), whose searches by alias answer as the primary's."""
    primary = Node(tmp_path / "p")
    replica: Node | None = None
    try:
        r = primary.client(protocol=2)
        r.execute_command("FT.CREATE", "i", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA",
                          "t", "TAG")  # fmt: skip
        r.hset("d:1", mapping={"t": "a", "n": "3"})
        r.execute_command("FT.ALIASADD", "before", "i")
        assert r.save()  # the replica's full sync carries this alias in the snapshot
        replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
        rr = replica.client(protocol=2)
        r.execute_command("FT.ALIASADD", "after", "i")
        r.execute_command("FT.ALTER", "i", "SCHEMA", "ADD", "n", "NUMERIC")
        query = ("FT.SEARCH", "after", "@n:[3 3]", "NOCONTENT")
        wait_for(lambda: converged(primary, replica), 30, message="replica caught up")
        for alias in ("before", "after"):
            assert rr.execute_command("FT.SEARCH", alias, "*", "NOCONTENT") == [1, b"d:1"]
        assert rr.execute_command(*query) == r.execute_command(*query) == [1, b"d:1"]
        r.flushall()
        wait_for(lambda: converged(primary, replica), 30, message="replica caught up")
        assert rr.execute_command("FT._LIST") == []
        with pytest.raises(redis.ResponseError, match="after: no such index"):
            rr.execute_command("FT.SEARCH", "after", "*")
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
