"""MULTI/EXEC/DISCARD/WATCH over the wire, with Redis's replies and error texts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from store.server import ServerThread
from tests.server.conftest import RawClient

Client = Callable[..., Any]


@pytest.mark.parametrize("protocol", [2, 3])
def test_multi_exec_is_atomic_and_ordered(client: Client, protocol: int) -> None:
    r = client(protocol=protocol)
    with r.pipeline(transaction=True) as p:
        p.set("a", "1").incr("a").hset("h", "f", "v").get("a").hget("h", "f")
        assert p.execute() == [True, 2, 1, b"2", b"v"]


def test_runtime_error_inside_exec_does_not_abort(client: Client) -> None:
    r = client()
    r.set("s", "x")
    with r.pipeline(transaction=True) as p:
        p.set("k", "1").hget("s", "f").set("k2", "2")
        out = p.execute(raise_on_error=False)
    assert out[0] is True and out[2] is True
    assert isinstance(out[1], redis.ResponseError) and "WRONGTYPE" in str(out[1])
    assert r.get("k") == b"1" and r.get("k2") == b"2"


def test_queue_time_error_aborts_with_execabort(
    raw: Callable[[int], RawClient], server: ServerThread
) -> None:
    c = raw(server.port)
    c.send(b"MULTI\r\nSET a 1\r\nNOSUCH x\r\nGET\r\nEXEC\r\nGET a\r\nEXEC\r\nDISCARD\r\n")
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"+QUEUED\r\n"
    assert c.read_reply().startswith(b"-ERR unknown command 'NOSUCH'")
    assert c.read_reply() == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert c.read_reply() == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    assert c.read_reply() == b"$-1\r\n"  # nothing of the transaction ran
    assert c.read_reply() == b"-ERR EXEC without MULTI\r\n"
    assert c.read_reply() == b"-ERR DISCARD without MULTI\r\n"


def test_nested_multi_and_watch_inside_multi(
    raw: Callable[[int], RawClient], server: ServerThread
) -> None:
    c = raw(server.port)
    c.send(b"MULTI\r\nMULTI\r\nWATCH k\r\nDISCARD\r\nMULTI\r\nPING\r\nCLIENT ID\r\nEXEC\r\n")
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"-ERR Command not allowed inside a transaction\r\n"
    assert c.read_reply() == b"-ERR Command not allowed inside a transaction\r\n"
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"+QUEUED\r\n"
    assert c.read_reply() == b"+QUEUED\r\n"
    reply = c.read_reply()
    assert reply.startswith(b"*2\r\n+PONG\r\n:")  # connection-scope commands run in EXEC too


def test_watch_conflict_returns_null(client: Client) -> None:
    r = client()
    other = client()
    r.set("balance", 100)
    with r.pipeline(transaction=True) as p:
        p.watch("balance")
        current = int(p.get("balance"))
        other.set("balance", 5)  # a concurrent write to the watched key
        p.multi()
        p.set("balance", current - 10)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("balance") == b"5"


def test_watch_without_conflict_commits(client: Client) -> None:
    r = client()
    r.set("counter", 1)

    def bump(p: Any) -> None:
        value = int(p.get("counter"))
        p.multi()
        p.set("counter", value + 1)

    r.transaction(bump, "counter")
    assert r.get("counter") == b"2"


def test_watch_sees_flushall_and_expiry_deletes(client: Client) -> None:
    r = client()
    other = client()
    r.set("w", 1)
    with r.pipeline(transaction=True) as p:
        p.watch("w")
        other.flushall()
        p.multi()
        p.set("w", 2)
        with pytest.raises(redis.WatchError):
            p.execute()
    with r.pipeline(transaction=True) as p:
        p.watch("w")
        p.unwatch()
        other.set("w", 9)
        p.multi()
        p.set("w", 3)
        assert p.execute() == [True]


def test_raw_exec_null_reply_in_both_protocols(
    raw: Callable[[int], RawClient], server: ServerThread
) -> None:
    for hello, null in ((b"HELLO 2\r\n", b"*-1\r\n"), (b"HELLO 3\r\n", b"_\r\n")):
        c = raw(server.port)
        w = raw(server.port)
        c.send(hello)
        c.read_reply()
        c.send(b"WATCH k\r\n")
        assert c.read_reply() == b"+OK\r\n"
        w.send(b"SET k changed\r\n")
        assert w.read_reply() == b"+OK\r\n"
        c.send(b"MULTI\r\nSET k mine\r\nEXEC\r\nGET k\r\n")
        assert c.read_reply() == b"+OK\r\n"
        assert c.read_reply() == b"+QUEUED\r\n"
        assert c.read_reply() == null
        assert c.read_reply() == b"$7\r\nchanged\r\n"
