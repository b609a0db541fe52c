"""Keyspace events on a replica: it publishes the events of the records it applies (as a
Redis replica does for the commands its primary streams); PUBLISH itself is not
propagated (docs/compatibility.md)."""

from __future__ import annotations

from collections.abc import Callable

from store.server import ServerThread
from tests.harness.wait import wait_for
from tests.server.conftest import RawClient
from tests.server.test_pubsub import encode


def test_replica_publishes_events_of_applied_writes(
    start_server: Callable[..., ServerThread],
) -> None:
    primary = start_server()
    replica = start_server(replicaof=f"127.0.0.1:{primary.port}")
    sub, cmd, writer = RawClient(replica.port), RawClient(replica.port), RawClient(primary.port)
    try:
        cmd.send(encode(["CONFIG", "SET", "notify-keyspace-events", "KEA"]))
        assert cmd.read_reply() == b"+OK\r\n"

        def linked() -> bool:
            cmd.send(encode(["INFO", "replication"]))
            return b"master_link_status:up" in cmd.read_reply()

        wait_for(linked, 20, message="replica linked")
        sub.send(encode(["PSUBSCRIBE", "__keyevent@0__:*"]) + encode(["SUBSCRIBE", "chan"]))
        sub.read_reply(), sub.read_reply()
        writer.send(
            encode(["PUBLISH", "chan", "not propagated"])
            + encode(["HSET", "rk:h", "f", "v"])
            + encode(["DEL", "rk:h"])
        )
        assert [writer.read_reply() for _ in range(3)] == [b":0\r\n", b":1\r\n", b":1\r\n"]
        frames = [sub.read_reply() for _ in range(2)]
        assert b"__keyevent@0__:hset" in frames[0] and b"rk:h" in frames[0]
        assert b"__keyevent@0__:del" in frames[1] and b"rk:h" in frames[1]
    finally:
        for c in (sub, cmd, writer):
            c.close()
