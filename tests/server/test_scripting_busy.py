"""A long script as other clients see it, on `memvec server` and on the peer, transcripts
compared: BUSY past busy-reply-threshold, SCRIPT KILL of a script that has not written
(its caller gets the kill error), UNKILLABLE once it wrote, FUNCTION KILL of a function
and SCRIPT KILL refused for it, NOTBUSY when nothing runs.

The threshold is 100 ms on both servers (CONFIG SET busy-reply-threshold); scripts spin
on os.clock() so each scenario ends by itself even if a kill were lost.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient
from tests.server.test_scripting_differential import encode

SPIN = "local t = os.clock() while os.clock() - t < {s} do end "


@pytest.fixture(scope="module")
def memvec_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data: Path = tmp_path_factory.mktemp("scripting-busy")
    thread = ServerThread(
        ServerConfig(port=0, data_dir=data, appendfsync=FsyncPolicy.ALWAYS)
    ).start()
    try:
        yield thread
    finally:
        thread.stop()


def request(client: RawClient, *args: str) -> bytes:
    client.send(encode(*args))
    return client.read_reply()


def scenario(
    port: int, prefix: str, steps: list[tuple[str, ...]], script: tuple[str, ...]
) -> list[bytes]:
    """Run ``script`` on one connection; once another connection is answered BUSY, send
    ``steps`` there; then the script's own reply. The transcript of replies."""
    runner, other = RawClient(port), RawClient(port)
    out: list[bytes] = []
    result: list[bytes] = []
    try:
        thread = threading.Thread(target=lambda: result.append(request(runner, *script)))
        thread.start()
        deadline = time.monotonic() + 4
        first = request(other, "PING")  # waits while the script runs, then BUSY
        while first == b"+PONG\r\n" and time.monotonic() < deadline:  # not started yet
            first = request(other, "PING")
        out.append(first)
        out.extend(request(other, *step) for step in steps)
        thread.join(20)
        out.extend(result)
        out.append(request(other, "SCRIPT", "KILL"))  # nothing runs now
    finally:
        runner.close()
        other.close()
    return out


@pytest.fixture
def servers(memvec_server: ServerThread, redis_stack: RedisStack) -> Iterator[list[int]]:
    ports = [memvec_server.port, redis_stack.port]
    for port in ports:
        c = RawClient(port)
        assert request(c, "CONFIG", "SET", "busy-reply-threshold", "100") == b"+OK\r\n"
        c.close()
    try:
        yield ports
    finally:
        for port in ports:
            c = RawClient(port)
            request(c, "CONFIG", "SET", "busy-reply-threshold", "5000")
            c.close()


def test_busy_and_kill_as_the_peer(servers: list[int]) -> None:
    prefix = f"sb{uuid.uuid4().hex[:8]}"
    key = f"{prefix}k"
    cases = [
        # a reader: killed, its caller gets the kill error
        ([("GET", key), ("FUNCTION", "KILL"), ("SCRIPT", "KILL")],
         ("EVAL", SPIN.format(s=5) + "return 1", "0")),
        # a writer: unkillable; it finishes by itself
        ([("SCRIPT", "KILL"), ("FUNCTION", "KILL"), ("SET", key, "x")],
         ("EVAL", f"redis.call('set', '{key}', 'v') " + SPIN.format(s=0.6) + "return 2", "0")),
    ]  # fmt: skip
    transcripts = []
    for port in servers:
        transcripts.append([scenario(port, prefix, steps, script) for steps, script in cases])
        c = RawClient(port)
        transcripts[-1].append([request(c, "GET", key), request(c, "DEL", key)])
        c.close()
    assert transcripts[0] == transcripts[1]


def test_function_kill_as_the_peer(servers: list[int]) -> None:
    prefix = f"sb{uuid.uuid4().hex[:8]}"
    lib = f"{prefix}lib"
    code = (
        f"#!lua name={lib}\nredis.register_function('{prefix}spin', function(keys, args) "
        + SPIN.format(s=5)
        + "return 1 end)"
    )
    transcripts = []
    for port in servers:
        c = RawClient(port)
        assert request(c, "FUNCTION", "LOAD", code) == b"$%d\r\n%s\r\n" % (len(lib), lib.encode())
        try:
            transcripts.append(
                scenario(
                    port,
                    prefix,
                    [("SCRIPT", "KILL"), ("FUNCTION", "KILL")],
                    ("FCALL", f"{prefix}spin", "0"),
                )
            )
        finally:
            request(c, "FUNCTION", "DELETE", lib)
            c.close()
    assert transcripts[0] == transcripts[1]


def test_shutdown_nosave_stops_an_unkillable_script_and_logs_none_of_it(tmp_path: Path) -> None:
    config = ServerConfig(
        port=0, data_dir=tmp_path, appendfsync=FsyncPolicy.ALWAYS, busy_reply_threshold_ms=50
    )
    thread = ServerThread(config).start()
    try:
        port = thread.port
        client, runner = RawClient(port), RawClient(port)
        assert request(client, "SET", "before", "1") == b"+OK\r\n"
        runner.send(encode("EVAL", "redis.call('set', 'partial', '1') while true do end", "0"))
        deadline = time.monotonic() + 10
        reply = request(client, "PING")
        while reply == b"+PONG\r\n" and time.monotonic() < deadline:
            reply = request(client, "PING")
        assert reply.startswith(b"-BUSY")
        assert request(client, "SCRIPT", "KILL").startswith(b"-UNKILLABLE")
        assert request(client, "SHUTDOWN").startswith(b"-BUSY")  # only NOSAVE gets through
        client.send(encode("SHUTDOWN", "NOSAVE"))
        assert client.read_until_closed() == b""
        client.close()
        runner.close()
    finally:
        thread.stop()
    with ServerThread(ServerConfig(port=0, data_dir=tmp_path)) as again:
        c = RawClient(again.port)
        assert request(c, "GET", "before") == b"$1\r\n1\r\n"
        assert request(c, "GET", "partial") == b"$-1\r\n"  # no part of the script was logged
        c.close()
