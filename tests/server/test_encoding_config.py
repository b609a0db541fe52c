"""CONFIG SET/GET of the encoding limits against the peer: validation texts, the
``*-ziplist-*`` aliases, and the conversions OBJECT ENCODING shows under non-default
limits (sets, sorted sets, hashes, lists by entry count and by bytes), and the stream node
split (XINFO STREAM ``radix-tree-keys``). Both servers get the same explicit values; the
peer's own values are restored after the module, memvec's defaults too (the limits are
process-wide: store/datatypes/limits.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from store.server import ServerThread
from tests.harness.components import RedisStack
from tests.server.test_differential import Pair, call, connected_pair

LIMITS = {
    "list-max-listpack-size": "-2",
    "list-compress-depth": "0",
    "set-max-intset-entries": "512",
    "set-max-listpack-entries": "128",
    "set-max-listpack-value": "64",
    "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "64",
    "hash-max-listpack-entries": "128",
    "hash-max-listpack-value": "64",
    "stream-node-max-bytes": "4096",
    "stream-node-max-entries": "100",
}
ALIASES = ["list-max-ziplist-size", "zset-max-ziplist-entries", "zset-max-ziplist-value",
           "hash-max-ziplist-entries", "hash-max-ziplist-value"]  # fmt: skip
BAD = ["abc", "-1", "1kb", "2147483648", "-2147483649", str(2**63), "1.5"]


@pytest.fixture(scope="module")
def pair(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[Pair]:
    with connected_pair(memvec.port, redis_stack, 2) as pair:
        saved = call(pair.peer, "CONFIG", "GET", *LIMITS)
        assert isinstance(saved, list)
        try:
            yield pair
        finally:
            call(pair.peer, "CONFIG", "SET", *saved)
            flat = [x for kv in LIMITS.items() for x in kv]
            call(pair.memvec, "CONFIG", "SET", *flat)


@pytest.fixture
def p(pair: Pair) -> Iterator[str]:
    prefix = f"ec{uuid.uuid4().hex[:8]}"
    yield prefix
    for r in (pair.memvec, pair.peer):
        keys = call(r, "KEYS", f"{prefix}*")
        if keys:
            call(r, "DEL", *keys)
    flat = [x for kv in LIMITS.items() for x in kv]
    pair.same("CONFIG", "SET", *flat)


def test_validation_and_aliases(pair: Pair, p: str) -> None:
    for name in [*LIMITS, *ALIASES]:
        for value in BAD:
            pair.same("CONFIG", "SET", name, value)
    pair.same("CONFIG", "SET", "zset-max-ziplist-value", "1kb")
    pair.same("CONFIG", "GET", "zset-max-listpack-value")
    pair.same("CONFIG", "SET", "list-max-listpack-size", "5", "hash-max-ziplist-entries", "7")
    for name in [*LIMITS, *ALIASES]:
        pair.same("CONFIG", "GET", name)
    pair.same("CONFIG", "SET", "list-max-listpack-size", "5", "set-max-intset-entries", "x")
    pair.same("CONFIG", "GET", "list-max-listpack-size")  # an invalid pair changes nothing


def enc(pair: Pair, key: str) -> Any:
    return pair.same("OBJECT", "ENCODING", key)


def test_conversions_follow_the_limits(pair: Pair, p: str) -> None:
    pair.same("CONFIG", "SET", "set-max-intset-entries", "3", "set-max-listpack-entries", "4",
              "set-max-listpack-value", "5", "zset-max-listpack-entries", "2",
              "zset-max-listpack-value", "3", "hash-max-listpack-entries", "2",
              "hash-max-listpack-value", "3", "list-max-listpack-size", "3")  # fmt: skip
    i, s, v, z, zv, h, hv, lst = (f"{p}:{n}" for n in ("i", "s", "v", "z", "zv", "h", "hv", "l"))
    pair.script(
        [
            ("SADD", i, 1, 2, 3), ("OBJECT", "ENCODING", i),
            ("SADD", i, 4), ("OBJECT", "ENCODING", i),
            ("SADD", s, "a", "b", "c"), ("OBJECT", "ENCODING", s),
            ("SADD", s, "d", "e"), ("OBJECT", "ENCODING", s),
            ("SADD", v, "abcdef"), ("OBJECT", "ENCODING", v),
            ("ZADD", z, 1, "a", 2, "b"), ("OBJECT", "ENCODING", z),
            ("ZADD", z, 3, "c"), ("OBJECT", "ENCODING", z),
            ("ZADD", zv, 1, "abcd"), ("OBJECT", "ENCODING", zv),
            ("HSET", h, "a", 1, "b", 2), ("OBJECT", "ENCODING", h),
            ("HSET", h, "c", 3), ("OBJECT", "ENCODING", h),
            ("HSET", hv, "a", "abcd"), ("OBJECT", "ENCODING", hv),
            ("RPUSH", lst, 1, 2, 3), ("OBJECT", "ENCODING", lst),
            ("RPUSH", lst, 4), ("OBJECT", "ENCODING", lst),
            ("RPOP", lst, 2), ("OBJECT", "ENCODING", lst),
            ("RPOP", lst), ("OBJECT", "ENCODING", lst),
        ]
    )  # fmt: skip
    pair.same("CONFIG", "SET", "list-max-listpack-size", "-1")  # 4 KB nodes
    big = f"{p}:big"
    pair.script(
        [
            ("RPUSH", big, *["x" * 100] * 39),
            ("OBJECT", "ENCODING", big),
            ("RPUSH", big, *["x" * 100] * 2),
            ("OBJECT", "ENCODING", big),
        ]
    )


def test_stream_node_limits(pair: Pair, p: str) -> None:
    x, y = f"{p}:x", f"{p}:y"
    pair.same("CONFIG", "SET", "stream-node-max-entries", "2")
    for n in range(1, 6):
        pair.same("XADD", x, f"{n}-0", "f", "v")
    pair.same("CONFIG", "SET", "stream-node-max-entries", "0", "stream-node-max-bytes", "60")
    for n in range(1, 6):
        pair.same("XADD", y, f"{n}-0", "field", "value" * 3)
    for key in (x, y):
        mine, theirs = pair.both("XINFO", "STREAM", key)
        assert isinstance(mine, list) and isinstance(theirs, list)
        m = dict(zip(mine[0::2], mine[1::2], strict=True))
        t = dict(zip(theirs[0::2], theirs[1::2], strict=True))
        assert m[b"radix-tree-keys"] == t[b"radix-tree-keys"], (key, m, t)
