"""COMMAND INFO, raw bytes against the peer, RESP2 and RESP3.

In RESP3 Redis sends a command's flags, ACL categories, tips, key specs and each key spec's
flags as sets (``~``), in a fixed order; memvec sends them in the same order
(:class:`store.replies.OrderedSet`). The commands below answer byte for byte what the peer
answers; the others still differ in key-spec flags (``RW access`` where Redis says
``RW update``, ``RM delete``, ...) and in cluster tips (``request_policy:...``): see
docs/compatibility.md.
"""

from __future__ import annotations

import pytest

from store.resp import encode_command
from store.server import ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient

SAME = ["bitcount", "bitfield_ro", "bitpos", "expiretime", "geodist", "geohash", "geopos",
        "georadius_ro", "geosearch", "get", "getbit", "getrange", "hexpiretime", "hget",
        "hmget", "hpttl", "httl", "lcs", "lindex", "lpos", "lrange", "pexpiretime",
        "psubscribe", "publish", "readonly", "smismember", "sort", "sort_ro", "subscribe",
        "substr", "swapdb", "xrange", "xrevrange", "zcount", "zlexcount", "zmscore", "zrange",
        "zrangebyscore", "zrank", "zrevrange", "zscore"]  # fmt: skip


def _info(port: int, protocol: int, name: str) -> bytes:
    client = RawClient(port)
    try:
        client.send(encode_command(b"HELLO", protocol))
        client.read_reply()
        client.send(encode_command(b"COMMAND", b"INFO", name))
        return client.read_reply()
    finally:
        client.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_command_info_bytes_are_the_peers(
    memvec: ServerThread, redis_stack: RedisStack, protocol: int
) -> None:
    for name in SAME:
        mine, theirs = _info(memvec.port, protocol, name), _info(redis_stack.port, protocol, name)
        assert mine == theirs, f"COMMAND INFO {name} (RESP{protocol})"
    # a set in RESP3 even where the contents differ: flags, categories, tips, key specs
    if protocol == 3:
        assert _info(memvec.port, 3, "hset").split(b"\r\n")[5] == b"~3"
