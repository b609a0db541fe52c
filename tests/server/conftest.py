"""Fixtures for the RESP server tests: an in-process server on a free loopback port.

- `start_server(**config)` -> a started `ServerThread` (port chosen by the OS), stopped at
  the end of the test; `data_dir` defaults to a fresh tmp dir with `appendfsync always`.
- `server` -> one such server with the defaults; `client(**kwargs)` -> redis-py clients on
  it (closed at the end), RESP3 by default as redis-py 8 does.
- `raw(port)` -> a `RawClient` speaking bytes over a plain socket (protocol errors,
  inline commands, fuzzing).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack
from tests.server.test_differential import Pair, call, connected_pair
from tests.server.test_process import ServerProcess


class RawClient:
    """A socket that sends bytes and reads replies with a deadline (never sleeps)."""

    def __init__(self, port: int, timeout_s: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until_closed(self) -> bytes:
        """Everything until the server closes the connection (raises on timeout)."""
        chunks = [self.buf]
        self.buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    def read_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed after {self.buf!r}")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed after {self.buf!r}")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line + b"\r\n"

    def read_reply(self) -> bytes:
        """One whole RESP2/RESP3 reply as raw bytes."""
        line = self.read_line()
        kind = line[:1]
        if kind in b"$=!" and line[1:3] != b"-1":
            return line + self.read_exactly(int(line[1:-2]) + 2)
        if kind in b"*%~>" and line[1:3] != b"-1":
            n = int(line[1:-2]) * (2 if kind == b"%" else 1)
            return line + b"".join(self.read_reply() for _ in range(n))
        return line

    def close(self) -> None:
        self.sock.close()


def info_stat(port: int, name: str) -> int:
    """The INFO stats field ``name`` of the server on ``port``, read on a new connection."""
    client = RawClient(port)
    try:
        client.send(b"*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n")
        text = client.read_reply().decode()
    finally:
        client.close()
    return int(next(x for x in text.splitlines() if x.startswith(name + ":")).split(":")[1])


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerThread]]:
    started: list[ServerThread] = []

    def start(**changes: Any) -> ServerThread:
        changes.setdefault("data_dir", tmp_path / f"data{len(started)}")
        changes.setdefault("appendfsync", FsyncPolicy.ALWAYS)
        config = ServerConfig(port=0, **changes)
        thread = ServerThread(config).start()
        started.append(thread)
        return thread

    try:
        yield start
    finally:
        for thread in started:
            thread.stop()


@pytest.fixture
def server(start_server: Callable[..., ServerThread]) -> ServerThread:
    return start_server()


@pytest.fixture
def client(server: ServerThread) -> Iterator[Callable[..., redis.Redis]]:
    made: list[redis.Redis] = []

    def make(**kwargs: Any) -> redis.Redis:
        kwargs.setdefault("protocol", 3)
        kwargs.setdefault("socket_timeout", 20)
        r = redis.Redis(host="127.0.0.1", port=kwargs.pop("port", server.port), **kwargs)
        made.append(r)
        return r

    try:
        yield make
    finally:
        for r in made:
            r.close()


@pytest.fixture
def raw() -> Iterator[Callable[[int], RawClient]]:
    made: list[RawClient] = []

    def make(port: int) -> RawClient:
        c = RawClient(port)
        made.append(c)
        return c

    try:
        yield make
    finally:
        for c in made:
            c.close()


# The differential modules (same commands to memvec and to the peer, replies compared)
# share these three fixtures; a module needing other server options defines its own.


@pytest.fixture(scope="module")
def memvec() -> Iterator[ServerThread]:
    """One in-process memvec server (no data dir) for the module."""
    thread = ServerThread(ServerConfig(port=0, data_dir=None)).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="module", params=[2, 3], ids=["resp2", "resp3"])
def pair(
    request: pytest.FixtureRequest, memvec: ServerThread, redis_stack: RedisStack
) -> Iterator[Pair]:
    """redis-py on `memvec` and on the peer, RESP2 then RESP3 (each test runs under both)."""
    with connected_pair(memvec.port, redis_stack, request.param) as pair:
        yield pair


@pytest.fixture
def p(pair: Pair) -> Iterator[str]:
    """A key prefix unique to the test; its keys are deleted from both servers after it."""
    prefix = f"d{uuid.uuid4().hex[:10]}"
    yield prefix
    for r in (pair.memvec, pair.peer):
        keys = call(r, "KEYS", f"{prefix}*")
        if keys:
            call(r, "DEL", *keys)


@pytest.fixture(scope="module")
def memvec_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real ``memvec server`` process (``python -m pipeline.cli server``, appendfsync
    always) for the module: the client-library flows run against it, as users run them."""
    proc = ServerProcess(tmp_path_factory.mktemp("memvec-process"))
    try:
        yield proc
    finally:
        proc.ensure_dead()
