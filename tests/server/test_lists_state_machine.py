"""A hypothesis state machine over lists and sets (and keys switching type): every step
goes to `memvec server` and to the peer, RESP2 replies compared (set replies sorted where
the peer's order is a hash order, see docs/compatibility.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack
from tests.server.test_differential import Pair, call

VALUES = st.sampled_from([b"a", b"b", b"1", b"2", b"-7", b"300", b"x" * 65, b""])
INDEXES = st.integers(-4, 4)
SIDES = st.sampled_from([b"LEFT", b"RIGHT"])
SET_REPLIES = {b"SMEMBERS", b"SUNION", b"SDIFF", b"SINTER"}


@pytest.fixture(scope="module")
def pair(redis_stack: RedisStack) -> Iterator[Pair]:
    thread = ServerThread(ServerConfig(port=0, data_dir=None)).start()
    mine = redis.Redis(host="127.0.0.1", port=thread.port, protocol=2, socket_timeout=20)
    theirs = redis_stack.client(protocol=2, socket_timeout=20)
    try:
        yield Pair(mine, theirs)
    finally:
        mine.close()
        theirs.close()
        thread.stop()


def test_lists_and_sets_state_machine(pair: Pair) -> None:
    prefix = f"sm{uuid.uuid4().hex[:8]}"
    keys = st.sampled_from([f"{prefix}:{n}".encode() for n in "abc"])

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            for r in (pair.memvec, pair.peer):
                call(r, "DEL", *[f"{prefix}:{n}" for n in "abc"])

        def check(self, *args: Any) -> None:
            mine, theirs = pair.both(*args)
            if args[0] in SET_REPLIES and isinstance(mine, list):
                mine, theirs = sorted(mine), sorted(theirs)
            assert mine == theirs, f"{args}: memvec {mine!r} != peer {theirs!r}"

        def written(self, k: bytes) -> None:
            """After a write: the key's type and size agree too."""
            self.check(b"TYPE", k)
            self.check(b"LLEN" if call(pair.peer, "TYPE", k) == b"list" else b"SCARD", k)

        @rule(k=keys, vs=st.lists(VALUES, min_size=2, max_size=6), left=st.booleans())
        def push(self, k: bytes, vs: list[bytes], left: bool) -> None:
            self.check(b"LPUSH" if left else b"RPUSH", k, *vs)
            self.written(k)

        @rule(k=keys, count=st.one_of(st.none(), st.integers(0, 3)), left=st.booleans())
        def pop(self, k: bytes, count: int | None, left: bool) -> None:
            extra = () if count is None else (count,)
            self.check(b"LPOP" if left else b"RPOP", k, *extra)
            self.written(k)

        @rule(k=keys, i=INDEXES, j=INDEXES)
        def lrange(self, k: bytes, i: int, j: int) -> None:
            self.check(b"LRANGE", k, i, j)

        @rule(k=keys, i=INDEXES, j=INDEXES)
        def ltrim(self, k: bytes, i: int, j: int) -> None:
            self.check(b"LTRIM", k, i, j)

        @rule(k=keys, i=INDEXES, v=VALUES)
        def lset_and_rem(self, k: bytes, i: int, v: bytes) -> None:
            self.check(b"LSET", k, i, v)
            self.check(b"LREM", k, i, v)

        @rule(k=keys, pivot=VALUES, v=VALUES, before=st.booleans())
        def linsert(self, k: bytes, pivot: bytes, v: bytes, before: bool) -> None:
            self.check(b"LINSERT", k, b"BEFORE" if before else b"AFTER", pivot, v)

        @rule(a=keys, b=keys, s1=SIDES, s2=SIDES)
        def lmove(self, a: bytes, b: bytes, s1: bytes, s2: bytes) -> None:
            self.check(b"LMOVE", a, b, s1, s2)
            self.written(b)

        @rule(a=keys, b=keys, side=SIDES, count=st.integers(1, 3))
        def lmpop(self, a: bytes, b: bytes, side: bytes, count: int) -> None:
            self.check(b"LMPOP", 2, a, b, side, b"COUNT", count)

        @rule(k=keys, v=VALUES, rank=st.sampled_from([1, -1, 2]), count=st.integers(0, 2))
        def lpos(self, k: bytes, v: bytes, rank: int, count: int) -> None:
            self.check(b"LPOS", k, v, b"RANK", rank, b"COUNT", count)

        @rule(k=keys, vs=st.lists(VALUES, min_size=2, max_size=6))
        def sadd_srem(self, k: bytes, vs: list[bytes]) -> None:
            self.check(b"SADD", k, *vs)
            self.check(b"SREM", k, vs[0])
            self.written(k)

        @rule(a=keys, b=keys, v=VALUES)
        def smove(self, a: bytes, b: bytes, v: bytes) -> None:
            self.check(b"SMOVE", a, b, v)
            self.written(b)

        @rule(op=st.sampled_from([b"SUNION", b"SDIFF", b"SINTER"]), a=keys, b=keys, store=keys)
        def algebra(self, op: bytes, a: bytes, b: bytes, store: bytes) -> None:
            self.check(op, a, b)
            self.check(op + b"STORE", store, a, b)
            self.check(b"SINTERCARD", 2, a, b)
            self.written(store)

        @rule(k=keys)
        def inspect(self, k: bytes) -> None:
            self.check(b"TYPE", k)
            self.check(b"SMEMBERS", k)
            self.check(b"SCARD", k)
            self.check(b"LLEN", k)
            self.check(b"OBJECT", b"ENCODING", k)

        @rule(k=keys, string=st.booleans())
        def replace(self, k: bytes, string: bool) -> None:
            self.check(*((b"SET", k, b"s") if string else (b"DEL", k)))

    machine_settings = settings(
        max_examples=30,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        run_state_machine_as_test(Machine, settings=machine_settings)
    finally:
        for r in (pair.memvec, pair.peer):
            call(r, "DEL", *[f"{prefix}:{n}" for n in "abc"])
