"""SCAN/HSCAN guarantees and hash-field expiry (issue #20 items 6 and 7) on a real
``memvec server`` process, compared with the peer (``redis_stack``).

One server process for the module; every test uses its own key prefix and deletes what
it created on the peer. Durability (log replay, snapshots, replicas) of field deadlines is
tested at the store level (tests/store/test_hash_ttl.py). redis-om is not installed in the shared virtualenv, so its
HashModel save (which sends HTTL) is covered by the raw commands it sends.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.harness.components import RedisStack
from tests.harness.wait import wait_for
from tests.replication.nodes import Node, converged
from tests.server.test_differential import Pair, call, connected_pair
from tests.server.test_process import ServerProcess


@pytest.fixture(scope="module")
def proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(Path(tmp_path_factory.mktemp("scan_httl")))
    try:
        yield server
    finally:
        server.terminate()


@pytest.fixture(scope="module")
def pair(proc: ServerProcess, redis_stack: RedisStack) -> Iterator[Pair]:
    with connected_pair(proc.port, redis_stack) as pair:
        yield pair


@pytest.fixture
def p(pair: Pair) -> Iterator[str]:
    prefix = f"sh{uuid.uuid4().hex[:8]}"
    yield prefix
    for r in (pair.memvec, pair.peer):
        keys = [k for k in call(r, "KEYS", f"{prefix}*")]
        if keys:
            call(r, "DEL", *keys)


def scan_all(r: redis.Redis, pattern: str, *, delete: bool) -> tuple[list[bytes], int]:
    """SCAN to the end with COUNT 10, deleting each batch if asked; (seen, calls)."""
    seen: list[bytes] = []
    cursor, calls = b"0", 0
    while True:
        cursor, batch = call(r, "SCAN", cursor, "MATCH", pattern, "COUNT", "10")
        calls += 1
        seen += batch
        if delete and batch:
            call(r, "DEL", *batch)
        if cursor == b"0":
            return seen, calls


def test_scan_while_deleting_returns_every_key(pair: Pair, p: str) -> None:
    """The reported case: 200 keys scanned and deleted batch by batch."""
    for r in (pair.memvec, pair.peer):
        call(r, "MSET", *[x for i in range(200) for x in (f"{p}:{i}", "v")])
        seen, _ = scan_all(r, f"{p}:*", delete=True)
        assert len(set(seen)) == 200
        assert call(r, "KEYS", f"{p}:*") == []


def test_scan_while_adding_returns_every_original_key(pair: Pair, p: str) -> None:
    call(pair.memvec, "MSET", *[x for i in range(100) for x in (f"{p}:{i}", "v")])
    seen: set[bytes] = set()
    cursor, n = b"0", 0
    while True:
        cursor, batch = call(pair.memvec, "SCAN", cursor, "MATCH", f"{p}:*")
        seen.update(batch)
        call(pair.memvec, "SET", f"{p}:new{n}", "v")
        n += 1
        if cursor == b"0":
            break
    assert {f"{p}:{i}".encode() for i in range(100)} <= seen


def test_scan_options_and_errors(pair: Pair, p: str) -> None:
    pair.same("HSET", f"{p}:h", "a", "1", "b", "2", "c", "3")
    pair.same("SET", f"{p}:s", "x")
    for args in (
        ("SCAN", "abc"), ("SCAN", "-1"), ("SCAN", str(2**64)), ("SCAN", "0", "COUNT", "0"),
        ("SCAN", "0", "COUNT", "x"), ("SCAN", "0", "MATCH"), ("SCAN", "0", "TYPE", "foo"),
        ("SCAN", "0", "NOVALUES"), ("SCAN", "0", "BOGUS", "1"),
        ("SCAN", str(2**64 - 1), "MATCH", f"{p}:*", "TYPE", "zset"),
        ("HSCAN", f"{p}:h", "abc"), ("HSCAN", f"{p}:s", "0"), ("HSCAN", f"{p}:none", "0"),
        ("HSCAN", f"{p}:none", "0", "BOGUS"), ("HSCAN", f"{p}:h", "0", "TYPE", "hash"),
        ("HSCAN", f"{p}:h", "0", "COUNT"), ("HSCAN", f"{p}:h", "0", "COUNT", "0"),
        ("HSCAN", f"{p}:h", "0", "NOVALUES"), ("HSCAN", f"{p}:h", "0", "MATCH", "[ab]"),
        ("HSCAN", f"{p}:h", "0", "MATCH", "b", "NOVALUES", "COUNT", "5"),
        ("HSCAN", f"{p}:h", "7"),
    ):  # fmt: skip
        pair.same(*args)
    for want in ("hash", "HASH", "string", "list"):
        mine = scan_all(pair.memvec, f"{p}:*", delete=False)[0]
        theirs = scan_all(pair.peer, f"{p}:*", delete=False)[0]
        assert sorted(mine) == sorted(theirs), want
        cursor, mine_typed = call(pair.memvec, "SCAN", "0", "MATCH", f"{p}:*", "COUNT",
                                  "1000", "TYPE", want)  # fmt: skip
        assert cursor == b"0"
        _, theirs_typed = call(pair.peer, "SCAN", "0", "MATCH", f"{p}:*", "COUNT", "100000",
                               "TYPE", want)  # fmt: skip
        assert sorted(mine_typed) == sorted(theirs_typed), want


def test_large_values_scan_in_pages_like_the_peer(pair: Pair, p: str) -> None:
    """A 1,000-element hash, set and sorted set, scanned to the end with COUNT 10: every
    element on both servers, in pages (memvec's hold at most COUNT; Redis's bucket walk
    may hand a few more), not in one reply."""
    h, s, z = f"{p}:h", f"{p}:s", f"{p}:z"
    for r in (pair.memvec, pair.peer):
        call(r, "HSET", h, *[x for i in range(1000) for x in (f"f{i}", f"v{i}")])
        call(r, "SADD", s, *[f"m{i}" for i in range(1000)])
        call(r, "ZADD", z, *[x for i in range(1000) for x in (str(i / 4), f"m{i}")])
    for command, key, width in (("HSCAN", h, 2), ("SSCAN", s, 1), ("ZSCAN", z, 2)):
        found = []
        for r in (pair.memvec, pair.peer):
            seen: dict[bytes, bytes] = {}
            cursor, calls, biggest = b"0", 0, 0
            while True:
                cursor, flat = call(r, command, key, cursor, "COUNT", "10")
                calls += 1
                biggest = max(biggest, len(flat) // width)
                for i in range(0, len(flat), width):
                    seen[flat[i]] = flat[i + width - 1]
                if cursor == b"0":
                    break
            assert calls >= 50, (command, calls)
            if r is pair.memvec:
                assert biggest <= 10, (command, biggest)
            found.append(seen)
        assert found[0] == found[1], command


def same_times(pair: Pair, *args: object, slack: int = 1) -> None:
    """Replies of a TTL reader, equal but for ``slack`` (the two servers read their
    clocks a moment apart, so a relative deadline may land across a second boundary)."""
    mine, theirs = pair.both(*args)
    assert isinstance(mine, list) and isinstance(theirs, list), (mine, theirs)
    assert len(mine) == len(theirs), (args, mine, theirs)
    for a, b in zip(mine, theirs, strict=True):
        assert (a == b) if min(a, b) < 0 else abs(a - b) <= slack, (args, mine, theirs)


def test_hash_field_expiry_commands(pair: Pair, p: str) -> None:
    h, s = f"{p}:h", f"{p}:s"
    far = str(int(time.time()) + 10_000)
    pair.script([
        ("HSET", h, "a", "1", "b", "2", "c", "3", "d", "4"),
        ("SET", s, "x"),
        ("HEXPIRE", f"{p}:none", "100", "FIELDS", "2", "a", "b"),
        ("HEXPIRE", s, "100", "FIELDS", "1", "a"),
        ("HEXPIRE", h, "100", "FIELDS", "2", "a"),
        ("HEXPIRE", h, "100", "FIELDS", "1", "a", "b"),
        ("HEXPIRE", h, "100", "FIELDS", "0"),
        ("HEXPIRE", h, "100", "FIELDS", "-1", "a"),
        ("HEXPIRE", h, "100", "FIELDS", "x", "a"),
        ("HEXPIRE", h, "-1", "FIELDS", "1", "a"),
        ("HEXPIRE", h, "abc", "FIELDS", "1", "a"),
        ("HEXPIRE", h, str(2**62), "FIELDS", "1", "a"),
        ("HEXPIRE", h, "100", "YY", "FIELDS", "1", "a"),
        ("HEXPIRE", h, "100", "NX", "XX", "FIELDS", "1", "a"),
        ("HEXPIRE", h, "100", "GT", "LT", "FIELDS", "1", "a"),
        ("HEXPIRE", h, "100", "FOO", "1", "a"),
        ("HEXPIRE", h, "100", "FIELDS", "1", "a", "NX"),
        ("HEXPIRE", h, "100"),
        ("HEXPIRE", h, "100", "NX", "FIELDS", "2", "a", "zz"),
        ("HSET", h, "e", "5"),
        ("HEXPIRE", h, "100", "NX", "FIELDS", "2", "e", "e"),
        ("HEXPIRE", h, "0", "FIELDS", "2", "e", "e"),
        ("HEXPIRE", h, "100", "NX", "FIELDS", "2", "a", "b"),
        ("HEXPIRE", h, "200", "GT", "FIELDS", "2", "a", "b"),
        ("HEXPIRE", h, "50", "GT", "FIELDS", "1", "a"),
        ("HEXPIRE", h, "50", "LT", "FIELDS", "2", "a", "c"),
        ("HEXPIRE", h, "500", "LT", "FIELDS", "1", "a"),
        ("HEXPIRE", h, "50", "XX", "FIELDS", "2", "a", "c"),
        ("HEXPIREAT", h, far, "fields", "1", "c"),
    ])  # fmt: skip
    same_times(pair, "HEXPIRETIME", h, "FIELDS", "4", "a", "b", "c", "zz")
    same_times(pair, "HTTL", h, "FIELDS", "3", "a", "d", "zz")
    same_times(pair, "HPTTL", h, "FIELDS", "2", "a", "d", slack=100)
    pair.script([
        ("HEXPIRETIME", h, "FIELDS", "2", "c", "zz"),
        ("HPEXPIRETIME", h, "FIELDS", "1", "c"),
        ("HTTL", f"{p}:none", "FIELDS", "1", "a"),
        ("HTTL", s, "FIELDS", "1", "a"),
        ("HTTL", h, "FIELDS", "2", "a"),
        ("HTTL", h, "FIELDS", "0", "a"),
        ("HTTL", h, "FOO", "1", "a"),
        ("HTTL", h, "FIELDS", "x", "a"),
        ("HPTTL", h, "FIELDS"),
        ("HPERSIST", h, "FIELDS", "3", "a", "d", "zz"),
        ("HPERSIST", h, "FIELDS", "1", "a"),
        ("HPERSIST", h, "FIELDS", "2", "a"),
        ("HPERSIST", f"{p}:none", "FIELDS", "1", "a"),
        ("HPERSIST", s, "FIELDS", "1", "a"),
        ("HTTL", h, "FIELDS", "1", "a"),
        # HSET forgets the TTL, HINCRBY / HINCRBYFLOAT / HSETNX keep it
        ("HEXPIRE", h, "100", "FIELDS", "3", "a", "b", "d"),
        ("HSET", h, "a", "9"),
        ("HINCRBY", h, "b", "5"),
        ("HINCRBYFLOAT", h, "d", "1.5"),
        ("HSETNX", h, "b", "0"),
    ])  # fmt: skip
    same_times(pair, "HTTL", h, "FIELDS", "3", "a", "b", "d")
    pair.script([
        # a deadline already past deletes at once (2); the last field deletes the key
        ("HPEXPIREAT", h, "1", "FIELDS", "2", "b", "zz"),
        ("HPEXPIRE", h, "0", "FIELDS", "1", "c"),
        ("HEXPIRE", h, "0", "XX", "FIELDS", "1", "a"),
        ("HGETALL", h),
        ("HEXPIRE", h, "0", "FIELDS", "2", "a", "d"),
        ("EXISTS", h),
        ("HTTL", h, "FIELDS", "1", "a"),
    ])  # fmt: skip


def test_expired_fields_disappear_for_every_read(pair: Pair, p: str) -> None:
    h = f"{p}:h"
    pair.same("HSET", h, "a", "1", "b", "2", "c", "3")
    pair.same("HPEXPIRE", h, "150", "FIELDS", "2", "a", "b")
    time.sleep(0.2)  # past the deadline (a clock condition); reads may beat the sweeper
    for args in (
        ("HGET", h, "a"), ("HMGET", h, "a", "c"), ("HGETALL", h), ("HKEYS", h),
        ("HVALS", h), ("HEXISTS", h, "b"), ("HSTRLEN", h, "a"), ("HSCAN", h, "0"),
        ("HTTL", h, "FIELDS", "2", "a", "c"), ("HSET", h, "a", "new"), ("HGETALL", h),
    ):  # fmt: skip
        pair.same(*args)
    # the peer's HLEN counts expired fields its sweeper has not deleted yet (documented
    # in docs/compatibility.md); memvec's never does
    pair.same("HPEXPIRE", h, "100", "FIELDS", "1", "c")
    time.sleep(0.15)  # past c's deadline
    assert call(pair.memvec, "HLEN", h) == 1
    pair.same("HPEXPIRE", h, "100", "FIELDS", "1", "a")
    # the sweeper deletes the key once its last field goes
    wait_for(lambda: pair.both("EXISTS", h) == (0, 0), 10)
    assert call(pair.memvec, "KEYS", f"{p}*") == []


def expired_subkeys(r: redis.Redis) -> int:
    return int(r.info("stats")["expired_subkeys"])


def test_search_index_follows_field_expiry(pair: Pair, p: str) -> None:
    idx = f"{p}idx"
    pair.same("FT.CREATE", idx, "ON", "HASH", "PREFIX", "1", f"{p}:", "SCHEMA",
              "tag", "TAG", "n", "NUMERIC")  # fmt: skip
    try:
        pair.same("HSET", f"{p}:1", "tag", "red", "n", "1", "other", "x")
        pair.same("HSET", f"{p}:2", "tag", "red", "n", "2")
        swept_before = expired_subkeys(pair.memvec)
        pair.same("HPEXPIRE", f"{p}:1", "100", "FIELDS", "1", "tag")
        pair.same("HPEXPIRE", f"{p}:2", "100", "FIELDS", "2", "tag", "n")
        # both sweepers removed tag from 1 and deleted 2 (its last fields went); memvec
        # hides expired fields from HLEN at once, so its sweep is read from INFO
        wait_for(lambda: expired_subkeys(pair.memvec) >= swept_before + 3, 10)
        wait_for(lambda: call(pair.peer, "HLEN", f"{p}:1") == 2, 10)
        pair.same("FT.SEARCH", idx, "@tag:{red}", "NOCONTENT")
        pair.same("FT.SEARCH", idx, "@n:[0 10]", "NOCONTENT")
        pair.same("HGETALL", f"{p}:1")
    finally:
        for r in (pair.memvec, pair.peer):
            call(r, "FT.DROPINDEX", idx)


def test_field_deadlines_replicate(tmp_path: Path) -> None:
    """A replica gets the primary's absolute deadlines, its HPERSIST, and the HDEL of a
    field the primary expired (the replica never expiring by its own clock is tested in
    tests/store/test_hash_ttl.py)."""
    primary = Node(tmp_path / "p")
    replica: Node | None = None
    try:
        replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
        p, r = primary.r, replica.r
        p.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
        p.execute_command("HEXPIREAT", "h", str(int(time.time()) + 1000), "FIELDS", "2", "a", "c")
        p.execute_command("HPERSIST", "h", "FIELDS", "1", "c")
        p.execute_command("HPEXPIRE", "h", "100", "FIELDS", "1", "b")
        # the primary's sweeper deleted b (reads hid it before); the replica, at the same
        # offset, applied that HDEL record
        wait_for(lambda: p.info("stats")["expired_subkeys"] == 1, 30)
        wait_for(lambda: converged(primary, replica), 30)
        assert r.hgetall("h") == {b"a": b"1", b"c": b"3"}
        assert r.execute_command("HEXPIRETIME", "h", "FIELDS", "3", "a", "b", "c") == [
            *p.execute_command("HEXPIRETIME", "h", "FIELDS", "1", "a"),
            -2,
            -1,
        ]
        assert r.info("keyspace")["db0"]["subexpiry"] == 1
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
