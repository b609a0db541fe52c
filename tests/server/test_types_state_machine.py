"""One hypothesis state machine over every data type at once, raw RESP bytes compared.

Each step sends the same command to `memvec server` and to the peer over raw sockets
and compares the reply bytes exactly, in RESP2 and in RESP3 (HELLO 3 on both). The keys
are few and shared by every rule, so a key often changes type under a command of another
type (WRONGTYPE replies are compared too), is renamed, copied, expired, or written inside
MULTI/EXEC. The per-type machines (lists/sets, streams, JSON, zsets, strings) go deeper
into one type each; this one is about the types living together in one keyspace.

Left out on purpose, because the peer's answer is not a function of the commands: random
picks (SPOP, SRANDMEMBER, RANDOMKEY), hash-ordered replies (sets past listpack size,
SUNION/SINTER/SDIFF replies: compared through their STORE variant and SCARD), `*` stream
ids and clock-dependent values other than whole-second TTLs.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from store.server import ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient

VALUES = st.sampled_from([b"a", b"b", b"1", b"2", b"-7", b"300", b"", b"x y"])
NUMBERS = st.integers(-5, 5)


def encode(*args: object) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        data = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_every_type_in_one_keyspace(
    memvec: ServerThread, redis_stack: RedisStack, protocol: int
) -> None:
    prefix = f"ty{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}:{n}".encode() for n in "abc"]
    keys = st.sampled_from(names)
    clients = [RawClient(memvec.port, timeout_s=20), RawClient(redis_stack.port, timeout_s=20)]

    def both(*args: object) -> list[bytes]:
        for c in clients:
            c.send(encode(*args))
        return [c.read_reply() for c in clients]

    if protocol == 3:
        mine, theirs = both("HELLO", 3)
        assert mine.startswith(b"%") and theirs.startswith(b"%")

    class Machine(RuleBasedStateMachine):
        @initialize()
        def clean(self) -> None:
            self.check("DEL", *names)

        def check(self, *args: object) -> bytes:
            mine, theirs = both(*args)
            shown = b" ".join(a if isinstance(a, bytes) else str(a).encode() for a in args)
            assert mine == theirs, f"{shown!r}: memvec {mine!r} != peer {theirs!r}"
            return mine

        def inspect(self, k: bytes) -> None:
            self.check("TYPE", k)
            self.check("EXISTS", k)

        # -- strings, bitmaps, HyperLogLog ------------------------------------------------
        @rule(k=keys, v=VALUES, op=st.sampled_from(["SET", "APPEND", "SETNX", "GETSET"]))
        def string_write(self, k: bytes, v: bytes, op: str) -> None:
            self.check(op, k, v)
            self.check("GET", k)
            self.check("STRLEN", k)

        @rule(k=keys, n=NUMBERS)
        def incr(self, k: bytes, n: int) -> None:
            self.check("INCRBY", k, n)

        @rule(k=keys, i=NUMBERS, j=NUMBERS, v=VALUES)
        def ranges(self, k: bytes, i: int, j: int, v: bytes) -> None:
            self.check("GETRANGE", k, i, j)
            self.check("SETRANGE", k, abs(i), v)

        @rule(k=keys, bit=st.integers(0, 40), on=st.booleans())
        def bits(self, k: bytes, bit: int, on: bool) -> None:
            self.check("SETBIT", k, bit, int(on))
            self.check("GETBIT", k, bit)
            self.check("BITCOUNT", k)
            self.check("BITPOS", k, int(on))

        @rule(k=keys, vs=st.lists(VALUES, min_size=1, max_size=4))
        def hll(self, k: bytes, vs: list[bytes]) -> None:
            self.check("PFADD", k, *vs)
            self.check("PFCOUNT", k)

        # -- hashes ---------------------------------------------------------------------
        @rule(k=keys, f=VALUES, v=VALUES)
        def hash_write(self, k: bytes, f: bytes, v: bytes) -> None:
            self.check("HSET", k, f or b"f", v)
            self.check("HGETALL", k)

        @rule(k=keys, f=VALUES, n=NUMBERS)
        def hash_edit(self, k: bytes, f: bytes, n: int) -> None:
            self.check("HINCRBY", k, f or b"f", n)
            self.check("HDEL", k, b"a")
            self.check("HLEN", k)

        # -- lists and sets -------------------------------------------------------------
        @rule(k=keys, vs=st.lists(VALUES, min_size=1, max_size=4), left=st.booleans())
        def list_push(self, k: bytes, vs: list[bytes], left: bool) -> None:
            self.check("LPUSH" if left else "RPUSH", k, *vs)
            self.check("LRANGE", k, 0, -1)

        @rule(k=keys, left=st.booleans(), count=st.integers(1, 3))
        def list_pop(self, k: bytes, left: bool, count: int) -> None:
            self.check("LPOP" if left else "RPOP", k, count)
            self.check("LLEN", k)

        @rule(a=keys, b=keys)
        def list_move(self, a: bytes, b: bytes) -> None:
            self.check("LMOVE", a, b, "LEFT", "RIGHT")
            self.check("LRANGE", b, 0, -1)

        @rule(k=keys, vs=st.lists(VALUES, min_size=1, max_size=4))
        def set_add(self, k: bytes, vs: list[bytes]) -> None:
            self.check("SADD", k, *vs)
            self.check("SREM", k, vs[0])
            self.check("SMEMBERS", k)
            self.check("SCARD", k)

        @rule(a=keys, b=keys, dest=keys, op=st.sampled_from(["SUNIONSTORE", "SINTERSTORE"]))
        def set_algebra(self, a: bytes, b: bytes, dest: bytes, op: str) -> None:
            self.check(op, dest, a, b)
            self.check("SCARD", dest)
            self.check("SINTERCARD", 2, a, b)

        # -- sorted sets and geo ----------------------------------------------------------
        @rule(k=keys, score=NUMBERS, v=VALUES, flag=st.sampled_from([[], ["NX"], ["GT"], ["CH"]]))
        def zset_add(self, k: bytes, score: int, v: bytes, flag: list[str]) -> None:
            self.check("ZADD", k, *flag, score, v)
            self.check("ZINCRBY", k, 0.5, v)
            self.check("ZRANGE", k, 0, -1, "WITHSCORES")
            self.check("ZRANK", k, v)

        @rule(k=keys, count=st.integers(1, 2), high=st.booleans())
        def zset_pop(self, k: bytes, count: int, high: bool) -> None:
            self.check("ZPOPMAX" if high else "ZPOPMIN", k, count)
            self.check("ZCARD", k)

        @rule(a=keys, b=keys, dest=keys, op=st.sampled_from(["ZUNIONSTORE", "ZINTERSTORE"]))
        def zset_algebra(self, a: bytes, b: bytes, dest: bytes, op: str) -> None:
            self.check(op, dest, 2, a, b, "WEIGHTS", 1, 2)
            self.check("ZRANGE", dest, "-inf", "+inf", "BYSCORE", "WITHSCORES")

        @rule(k=keys, v=VALUES)
        def geo(self, k: bytes, v: bytes) -> None:
            self.check("GEOADD", k, "13.361389", "38.115556", v)
            self.check("GEOPOS", k, v)
            self.check("GEOSEARCH", k, "FROMLONLAT", 13, 38, "BYRADIUS", 200, "km", "ASC")

        # -- streams (explicit ids only) ------------------------------------------------
        @rule(k=keys, ms=st.integers(1, 30), v=VALUES)
        def stream_add(self, k: bytes, ms: int, v: bytes) -> None:
            self.check("XADD", k, f"{ms}-1", "f", v)
            self.check("XRANGE", k, "-", "+")
            self.check("XLEN", k)

        @rule(k=keys, n=st.integers(0, 3))
        def stream_trim(self, k: bytes, n: int) -> None:
            self.check("XTRIM", k, "MAXLEN", n)
            self.check("XREVRANGE", k, "+", "-", "COUNT", 2)

        # -- JSON -----------------------------------------------------------------------
        @rule(k=keys, n=NUMBERS, name=st.sampled_from(["a", "b"]))
        def json_write(self, k: bytes, n: int, name: str) -> None:
            self.check("JSON.SET", k, "$", '{"a": 1, "l": [1, "x"]}', "NX")
            self.check("JSON.SET", k, f"$.{name}", n)
            self.check("JSON.NUMINCRBY", k, "$.a", 2)
            self.check("JSON.ARRAPPEND", k, "$.l", n)
            self.check("JSON.GET", k)
            self.check("JSON.TYPE", k, "$.l")

        # -- keys -----------------------------------------------------------------------
        @rule(a=keys, b=keys, replace=st.booleans())
        def copy(self, a: bytes, b: bytes, replace: bool) -> None:
            self.check("COPY", a, b, *(["REPLACE"] if replace else []))
            self.inspect(b)

        @rule(a=keys, b=keys, nx=st.booleans())
        def rename(self, a: bytes, b: bytes, nx: bool) -> None:
            self.check("RENAMENX" if nx else "RENAME", a, b)
            self.inspect(a)
            self.inspect(b)

        @rule(k=keys, seconds=st.integers(100, 1000))
        def expire(self, k: bytes, seconds: int) -> None:
            self.check("EXPIRE", k, seconds)
            self.check("TTL", k)
            self.check("PERSIST", k)

        @rule(k=keys)
        def delete(self, k: bytes) -> None:
            self.check("DEL", k)

        # -- transactions ---------------------------------------------------------------
        @rule(k=keys, v=VALUES)
        def transaction(self, k: bytes, v: bytes) -> None:
            self.check("MULTI")
            self.check("RPUSH", k, v)  # QUEUED, or WRONGTYPE at EXEC
            self.check("SADD", k, v)
            self.check("INCR", k)
            self.check("EXEC")
            self.inspect(k)

    machine_settings = settings(
        max_examples=25,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        run_state_machine_as_test(Machine, settings=machine_settings)
    finally:
        both("DEL", *names)
        for c in clients:
            c.close()
