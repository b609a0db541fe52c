"""The server answers the same bytes on uvloop and on asyncio's own loop.

``--event-loop`` (store.server.event_loop) picks the loop; ``auto``, the default, takes
uvloop when it is installed, so the rest of the suite runs on uvloop. Here two servers, one
per loop (``appendfsync always``), get the same raw request streams: the inline path's
pipelines (tests/server/test_inline_commands.py), a value of several MB each way (the
transport's write buffer and the reading pause), a blocked BLPOP that another client's
write wakes, a Pub/Sub message pushed to a subscriber, and a malformed frame after good
commands. The raw reply bytes must be equal. A server process started with each flag
reports its loop in INFO (``multiplexing_api``) and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.config import FsyncPolicy
from store.resp import encode_command
from store.server import ServerConfig, ServerThread
from store.server.cli import add_server_parser, config_from_args
from store.server.event_loop import kind_of, loop_name, new_event_loop
from tests.server.conftest import RawClient
from tests.server.test_inline_commands import STEPS, run_steps
from tests.server.test_process import ServerProcess

LOOPS = ("asyncio", "uvloop")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ServerThread]]:
    started = []
    try:
        for loop in LOOPS:
            config = ServerConfig(
                port=0,
                data_dir=tmp_path / loop,
                appendfsync=FsyncPolicy.ALWAYS,
                event_loop=loop,
            )
            started.append(ServerThread(config).start())
        yield started
    finally:
        for server in started:
            server.stop()


def _replies(client: RawClient, n: int) -> bytes:
    return b"".join(client.read_reply() for _ in range(n))


def _exchange(port: int) -> list[bytes]:
    """Every reply of the scripted session against the server on ``port``."""
    client = RawClient(port, timeout_s=20)
    other = RawClient(port, timeout_s=20)
    subscriber = RawClient(port, timeout_s=20)
    try:
        out = run_steps(client)
        # a value larger than any socket buffer, written and read back in one pipeline
        big = bytes(range(256)) * (12 * 1024)  # 3 MB
        client.send(encode_command("SET", "big", big) + encode_command("GET", "big"))
        out.append(_replies(client, 2))
        # a blocked pop that another client's push wakes
        client.send(encode_command("BLPOP", "wake", "10"))
        other.send(encode_command("RPUSH", "wake", "v"))
        out.append(other.read_reply())
        out.append(client.read_reply())
        # a message pushed to a subscriber
        subscriber.send(encode_command("SUBSCRIBE", "news"))
        out.append(subscriber.read_reply())
        other.send(encode_command("PUBLISH", "news", "hello"))
        out.append(other.read_reply())
        out.append(subscriber.read_reply())
        # good commands, then a malformed request: their replies, then the error and close
        client.send(encode_command("SET", "p", "1") + encode_command("GET", "p") + b"*1\r\n$x\r\n")
        out.append(client.read_until_closed())
    finally:
        for c in (client, other, subscriber):
            c.close()
    return out


def test_both_loops_answer_the_same_bytes(servers: list[ServerThread]) -> None:
    assert [kind_of(s.server.loop) for s in servers] == list(LOOPS)
    on_asyncio, on_uvloop = (_exchange(s.port) for s in servers)
    assert len(on_asyncio) == len(on_uvloop)
    for i, (a, b) in enumerate(zip(on_asyncio, on_uvloop, strict=True)):
        assert a == b, (i, a[:200], b[:200])
    assert on_uvloop[len(STEPS) + 1].endswith(
        b"$3145728\r\n" + bytes(range(256)) * (12 * 1024) + b"\r\n"
    )
    assert on_uvloop[-2] == b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    assert b"Protocol error" in on_uvloop[-1]


def test_loop_names() -> None:
    assert loop_name("auto") == "uvloop"  # installed with the project
    assert loop_name("UVLOOP") == "uvloop"
    assert loop_name("asyncio") == "asyncio"
    with pytest.raises(ValueError, match="auto, uvloop, asyncio"):
        loop_name("trio")
    for choice, kind in (("asyncio", "asyncio"), ("uvloop", "uvloop")):
        loop = new_event_loop(choice)
        try:
            assert kind_of(loop) == kind
        finally:
            loop.close()
    assert kind_of(None) == "asyncio"


def test_the_flag_and_its_errors() -> None:
    parser = argparse.ArgumentParser()
    add_server_parser(parser.add_subparsers())
    assert config_from_args(parser.parse_args(["server"]), {}).event_loop == "auto"
    args = parser.parse_args(["server", "--event-loop", "asyncio"])
    assert config_from_args(args, {}).event_loop == "asyncio"
    with pytest.raises(ValueError, match=r"--event-loop=.*not one of auto, uvloop, asyncio"):
        config_from_args(parser.parse_args(["server", "--event-loop", "trio"]), {})


@pytest.mark.parametrize("flag", ["asyncio", "uvloop"])
def test_a_server_process_runs_the_loop_it_is_given(tmp_path: Path, flag: str) -> None:
    server = ServerProcess(tmp_path / "data", "--event-loop", flag)
    try:
        r = server.client()
        assert r.info("server")["multiplexing_api"] == flag
        assert r.config_get("event-loop") == {"event-loop": flag}
        r.set("k", "v")
        r.close()
        assert server.terminate() == 0
        assert any("memvec server stopped" in line for line in server.stderr), server.stderr
    finally:
        server.ensure_dead()
