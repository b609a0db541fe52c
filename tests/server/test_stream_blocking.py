"""XREAD / XREADGROUP BLOCK on real servers: the stream handlers' WouldBlock and the
parking lot together, byte for byte against the peer.

The handler resolves ``$`` to the stream's last id at the first call and hands the
rewritten call back in ``WouldBlock.resume["args"]``; the lot re-runs that call, so an
entry added after the client blocked is served and none from before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import redis

from store.server import ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient
from tests.server.test_blocking import park

Raw = Callable[[int], RawClient]


def servers(memvec: ServerThread, peer: RedisStack) -> list[tuple[str, int]]:
    return [("memvec", memvec.port), ("peer", peer.port)]


@pytest.mark.parametrize("hello3", [False, True], ids=["resp2", "resp3"])
def test_xread_block_dollar_serves_only_what_came_after(
    memvec: ServerThread, redis_stack: RedisStack, raw: Raw, hello3: bool
) -> None:
    replies = {}
    for name, port in servers(memvec, redis_stack):
        key = f"xb:{uuid.uuid4().hex[:8]}"
        with redis.Redis(host="127.0.0.1", port=port, protocol=2) as r:
            r.xadd(key, {"old": "1"}, id="1-1")
            waiter = park(raw, port, "XREAD", "BLOCK", 0, "STREAMS", key, "$", hello3=hello3)
            r.xadd(key, {"new": "2"}, id="2-1")
            reply = waiter.read_reply()
            replies[name] = reply.replace(key.encode(), b"KEY")
            r.delete(key)
    assert replies["memvec"] == replies["peer"]
    assert b"new" in replies["memvec"] and b"old" not in replies["memvec"]


def test_xreadgroup_block_is_served_and_the_entry_becomes_pending(
    memvec: ServerThread, redis_stack: RedisStack, raw: Raw
) -> None:
    replies = {}
    for name, port in servers(memvec, redis_stack):
        key = f"xg:{uuid.uuid4().hex[:8]}"
        with redis.Redis(host="127.0.0.1", port=port, protocol=2) as r:
            r.xgroup_create(key, "g", id="$", mkstream=True)
            waiter = park(
                raw, port, "XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", key, ">"
            )
            r.xadd(key, {"f": "v"}, id="5-1")
            reply = waiter.read_reply()
            pending = r.xpending(key, "g")
            replies[name] = (reply.replace(key.encode(), b"KEY"), pending["pending"])
            r.delete(key)
    assert replies["memvec"] == replies["peer"]
    assert replies["memvec"][1] == 1


def test_xread_block_times_out_with_a_null_array(
    memvec: ServerThread, redis_stack: RedisStack, raw: Raw
) -> None:
    replies = {}
    for name, port in servers(memvec, redis_stack):
        key = f"xt:{uuid.uuid4().hex[:8]}"
        c = raw(port)
        c.send(b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$2\r\n50\r\n$7\r\nSTREAMS\r\n")
        c.send(b"$%d\r\n%b\r\n$1\r\n$\r\n" % (len(key), key.encode()))
        replies[name] = c.read_reply()
    assert replies["memvec"] == replies["peer"] == b"*-1\r\n"
