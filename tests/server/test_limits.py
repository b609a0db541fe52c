"""Limits: maxclients, idle timeout, the output buffer of a client that stopped reading,
and -OOM past maxmemory (reads keep working)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from store.engine import STARTUP_MEMORY_BYTES
from store.server import ServerThread
from store.server.config import OutputBufferLimit
from tests.harness.wait import wait_for
from tests.server.conftest import RawClient

Start = Callable[..., ServerThread]


def _redis(port: int, **kwargs: object) -> redis.Redis:
    return redis.Redis(port=port, protocol=3, retry=Retry(NoBackoff(), 0), **kwargs)  # type: ignore[arg-type]


def test_maxclients(start_server: Start, raw: Callable[[int], RawClient]) -> None:
    srv = start_server(maxclients=2)
    a, b = _redis(srv.port), _redis(srv.port)
    assert a.ping() and b.ping()
    c = raw(srv.port)
    assert c.read_until_closed() == b"-ERR max number of clients reached\r\n"
    b.close()
    wait_for(lambda: len(srv.server.clients) == 1, 5, message="closed client not forgotten")
    d = _redis(srv.port)
    assert d.ping() is True
    assert a.info("stats")["rejected_connections"] == 1
    a.close()
    d.close()


def test_idle_timeout_closes_idle_clients_only(
    start_server: Start, raw: Callable[[int], RawClient]
) -> None:
    srv = start_server(timeout_s=3)  # seconds, as redis.conf: long enough for a loaded CI box
    idle = raw(srv.port)
    busy = _redis(srv.port)

    def idle_closed() -> bool:
        assert busy.ping() is True  # a client that keeps talking stays connected
        return idle.sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b""

    wait_for(
        idle_closed, 20, interval_s=0.2, message="idle client not closed", ignore=(BlockingIOError,)
    )
    busy.close()
    # a fresh client reads the counter: on a starved machine even `busy` may have sat idle
    # past the timeout after the last check (seen under a loaded parallel run)
    fresh = _redis(srv.port)
    assert fresh.info("stats")["memvec_idle_timeout_disconnections"] >= 1
    fresh.close()


def test_output_buffer_limit_disconnects_a_client_that_stopped_reading(
    start_server: Start, raw: Callable[[int], RawClient]
) -> None:
    srv = start_server(client_output_buffer_limit_normal=OutputBufferLimit(1024 * 1024))
    other = _redis(srv.port)
    other.set("big", b"x" * 200_000)
    stuck = raw(srv.port)
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.send(b"GET big\r\n" * 200)  # 40 MB of replies, never read
    wait_for(
        lambda: other.info("stats")["client_output_buffer_limit_disconnections"] == 1,
        10,
        message="stuck client not disconnected",
    )
    assert other.get("big") == b"x" * 200_000  # everyone else is served
    received = 0
    try:
        while chunk := stuck.sock.recv(1 << 20):
            received += len(chunk)
    except ConnectionResetError:
        pass
    assert received < 200 * 200_000
    other.close()


def test_maxmemory_refuses_writes_with_oom_and_keeps_serving_reads(start_server: Start) -> None:
    srv = start_server(maxmemory_bytes=STARTUP_MEMORY_BYTES + 200_000)
    r = _redis(srv.port)
    r.set("first", "kept")
    with pytest.raises(redis.exceptions.OutOfMemoryError) as e:
        for i in range(1000):
            r.hset(f"doc:{i}", mapping={"payload": b"y" * 1000})
    assert str(e.value) == "command not allowed when used memory > 'maxmemory'."
    assert r.get("first") == b"kept"
    assert r.hget("doc:0", "payload") == b"y" * 1000
    assert r.dbsize() > 10
    assert r.delete("doc:0") == 1  # DEL is not denyoom
    assert r.config_set("maxmemory", "0") is True
    assert r.hset("doc:new", "payload", "ok") == 1
    r.close()
