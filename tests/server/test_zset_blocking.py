"""BZPOPMIN, BZPOPMAX and BZMPOP on real servers (the parking lot of store.server.blocking):
the same park-then-write scenarios on memvec and on the peer, raw RESP2/RESP3 bytes of
every reply compared; FIFO order, wake-ups by MULTI/EXEC, writes of another type that must
not wake, timeouts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from store.server import ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient
from tests.server.test_blocking import park, resp

Raw = Callable[[int], RawClient]


@pytest.fixture
def ports(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[tuple[int, int]]:
    yield memvec.port, redis_stack.port


@pytest.fixture
def p(ports: tuple[int, int]) -> Iterator[str]:
    prefix = f"zb{uuid.uuid4().hex[:10]}"
    yield prefix
    for port in ports:
        with redis.Redis(host="127.0.0.1", port=port) as r:
            keys = r.keys(f"{prefix}*")
            if keys:
                r.delete(*keys)


def _send(raw: Raw, port: int, *commands: tuple[object, ...]) -> list[bytes]:
    """Pipeline ``commands`` on a fresh connection; their raw replies."""
    c = raw(port)
    c.send(b"".join(resp(*command) for command in commands))
    return [c.read_reply() for _ in commands]


def _scenario(raw: Raw, port: int, p: str, hello3: bool) -> list[bytes]:
    """Three clients park, writes of the right and the wrong type arrive; every blocked
    client's raw reply, in the order they were parked."""
    k1, k2, k3 = f"{p}:1", f"{p}:2", f"{p}:3"
    first = park(raw, port, "BZPOPMIN", k1, k2, 0, hello3=hello3)
    second = park(raw, port, "BZPOPMAX", k2, 0, hello3=hello3)
    third = park(raw, port, "BZMPOP", 0, 2, k3, k2, "MAX", "COUNT", 5, hello3=hello3)
    _send(raw, port, ("SET", k3, "not a zset"), ("LPUSH", k1, "x"), ("DEL", k1, k3))
    _send(raw, port, ("ZADD", k2, 1, "a", 2, "b"))  # first gets a (FIFO), second gets b
    replies = [first.read_reply(), second.read_reply()]
    _send(raw, port, ("MULTI",), ("ZADD", k3, 1.5, "c", 2.5, "d", "inf", "e"), ("EXEC",))
    replies.append(third.read_reply())
    timed_out = park(raw, port, "BZPOPMIN", k1, "0.05", hello3=hello3)
    replies.append(timed_out.read_reply())
    return replies


@pytest.mark.parametrize("hello3", [False, True], ids=["resp2", "resp3"])
def test_blocked_clients_are_served_as_by_the_peer(
    raw: Raw, ports: tuple[int, int], p: str, hello3: bool
) -> None:
    mine = _scenario(raw, ports[0], p, hello3)
    theirs = _scenario(raw, ports[1], p, hello3)
    assert mine == theirs, (mine, theirs)
    assert b"b" in mine[1] and b"inf" in mine[2]  # the writes really served the clients
