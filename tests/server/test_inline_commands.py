"""The inline command path answers byte for byte as the task path.

Two servers, ``appendfsync always``, one with simple commands run from the socket callback
(store.server.inline_commands, the default) and one without (``inline_commands=False``),
get the same raw request streams: single commands, pipelines that mix simple commands with
what the inline path hands to the task (MULTI/EXEC, a blocking command that waits, HELLO
switching protocols, an unknown command, an arity error, FT.SEARCH), and a protocol error
after good commands. Their raw reply bytes must be equal, and the inline server must have run
commands inline (INFO ``memvec_inline_commands``), the other none. Durability on this path
is covered by tests/server/test_inline_crash.py (kill -9 under clients sending one command
at a time) and test_disk_full.py (a full disk under single SETs and HSETs, among others).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.config import FsyncPolicy
from store.resp import encode_command
from store.server import ServerConfig, ServerThread
from tests.server.conftest import RawClient, info_stat

STEPS: list[list[list[str]]] = [
    [["SET", "k", "1"]],
    [["GET", "k"]],
    [["INCR", "k"], ["INCRBY", "k", "5"], ["GET", "k"]],
    [["RPUSH", "l", "a", "b", "c"], ["LRANGE", "l", "0", "-1"], ["LPOP", "l"]],
    [["ZADD", "z", "1", "a", "2", "b"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"]],
    [["XADD", "s", "1-1", "f", "v"], ["XLEN", "s"], ["XRANGE", "s", "-", "+"]],
    [["SADD", "set", "x", "y"], ["SCARD", "set"], ["EXPIRE", "k", "100"], ["TTL", "k"]],
    # handed to the task mid-pipeline; what follows runs after it, in order
    [["SET", "a", "1"], ["MULTI"], ["INCR", "a"], ["GET", "a"], ["EXEC"], ["GET", "a"]],
    [["SET", "b", "1"], ["BLPOP", "empty", "0.05"], ["GET", "b"]],
    [["SET", "c", "1"], ["NOSUCHCOMMAND", "x"], ["GET"], ["GET", "c"]],
    [["SET", "d", "1"], ["HELLO", "3"], ["HSET", "h", "f", "v"], ["HGETALL", "h"]],
    [["HSET", "doc:1", "t", "hello"], ["FT.SEARCH", "idx", "hello"], ["DEL", "doc:1"]],
    [["LPUSH", "q", "1"], ["BRPOP", "q", "1"], ["SET", "e", "2"], ["GET", "e"]],
]


def _server(tmp_path: Path, inline: bool) -> ServerThread:
    config = ServerConfig(
        port=0,
        data_dir=tmp_path / ("inline" if inline else "task"),
        appendfsync=FsyncPolicy.ALWAYS,
        inline_commands=inline,
    )
    return ServerThread(config).start()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[ServerThread, ServerThread]]:
    inline, task = _server(tmp_path, True), _server(tmp_path, False)
    try:
        yield inline, task
    finally:
        inline.stop()
        task.stop()


def _replies(client: RawClient, n: int) -> bytes:
    return b"".join(client.read_reply() for _ in range(n))


def run_steps(client: RawClient) -> list[bytes]:
    """An index on ``doc:``, then every step of :data:`STEPS` as one pipeline each: the
    replies, one entry per write."""
    client.send(encode_command("FT.CREATE", "idx", "PREFIX", "1", "doc:", "SCHEMA",
                               "t", "TEXT"))  # fmt: skip
    out = [client.read_reply()]
    for step in STEPS:  # each step's commands in one write: a pipeline
        client.send(b"".join(encode_command(*cmd) for cmd in step))
        out.append(_replies(client, len(step)))
    return out


def _inline_count(port: int) -> int:
    return info_stat(port, "memvec_inline_commands")


def test_inline_and_task_paths_answer_the_same_bytes(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    answers = []
    for server in servers:
        client = RawClient(server.port, timeout_s=10)
        try:
            out = run_steps(client)
            # good commands, then a malformed request: their replies, then the error
            client.send(
                encode_command("SET", "p", "1") + encode_command("GET", "p") + b"*1\r\n$x\r\n"
            )
            out.append(client.read_until_closed())
        finally:
            client.close()
        answers.append(out)
    inline, task = answers
    for i, (a, b) in enumerate(zip(inline, task, strict=True)):
        assert a == b, (i, a, b)
    assert b"Protocol error" in inline[-1] and inline[-1].startswith(b"+OK\r\n$1\r\n1\r\n")
    assert _inline_count(servers[0].port) > 20
    assert _inline_count(servers[1].port) == 0


def test_many_clients_one_command_at_a_time(servers: tuple[ServerThread, ServerThread]) -> None:
    """Interleaved single commands of several clients (the types mix's shape): each
    client reads its own writes in order, on both paths."""
    for server in servers:
        clients = [RawClient(server.port, timeout_s=10) for _ in range(6)]
        try:
            for round_ in range(20):
                for i, c in enumerate(clients):
                    c.send(encode_command("RPUSH", f"list{i}", str(round_)))
                for c in clients:
                    assert c.read_reply() == b":%d\r\n" % (round_ + 1)
            for i, c in enumerate(clients):
                c.send(encode_command("LRANGE", f"list{i}", "0", "-1"))
                assert c.read_reply() == encode_command(*[str(r) for r in range(20)])
        finally:
            for c in clients:
                c.close()


def test_a_lone_clients_search_runs_inline(servers: tuple[ServerThread, ServerThread]) -> None:
    """FT.SEARCH from a client alone runs on the loop either way (the search pool only
    pays with other clients active): the inline path takes it without the task step, with
    the task path's bytes."""
    answers = []
    for server in servers:
        client = RawClient(server.port, timeout_s=10)
        try:
            client.send(encode_command("FT.CREATE", "s", "PREFIX", "1", "s:", "SCHEMA", "t",
                                       "TEXT"))  # fmt: skip
            client.send(encode_command("HSET", "s:1", "t", "hello world"))
            assert _replies(client, 2) == b"+OK\r\n:1\r\n"
            before = _inline_count(server.port)
            client.send(encode_command("FT.SEARCH", "s", "hello", "NOCONTENT"))
            answers.append(client.read_reply())
            client.send(encode_command("FT.AGGREGATE", "s", "*", "LOAD", "1", "@t"))
            answers.append(client.read_reply())
            ran = _inline_count(server.port) - before
        finally:
            client.close()
        assert ran == (2 if server is servers[0] else 0)
    assert answers[:2] == answers[2:]
    assert answers[0] == b"*2\r\n:1\r\n$3\r\ns:1\r\n"


def test_a_pipelined_run_of_hsets_stays_on_the_task_path(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    """Key writes the task path batches (one ``submit_many`` for a lone client's pipelined
    run) never run inline: one command at a time they lost the batch (durable ingest at
    1 client fell from 0.9x to 0.66x the peer). The replies are the same either way."""
    answers = []
    for server in servers:
        client = RawClient(server.port, timeout_s=10)
        try:
            before = _inline_count(server.port)
            run = [["HSET", f"h:{i}", "f", str(i)] for i in range(8)]
            client.send(b"".join(encode_command(*cmd) for cmd in run))
            answers.append(_replies(client, len(run)))
            assert _inline_count(server.port) == before
        finally:
            client.close()
    assert answers[0] == answers[1] == b":1\r\n" * 8


def test_single_key_writes_of_many_clients_join_the_combiner_inline(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    """Clients each sending one HSET at a time (the vector mix's shape) get them queued to
    the WriteCombiner straight from data_received and answered from its batch, with the
    bytes the task path answers. A client that sends its next command in its own segment
    before reading the HSET's reply sees it run after the HSET: every HGET reads the value
    its own HSET wrote, and every reply comes in order."""
    rounds, clients = 150, 6
    for server in servers:
        failures: list[str] = []

        def client(c: int, port: int = server.port, failures: list[str] = failures) -> None:
            raw = RawClient(port, timeout_s=20)
            raw.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                for i in range(rounds):
                    raw.send(encode_command("HSET", f"c:{c}", "f", str(i)))
                    if i % 2:  # the next command before the reply, in its own segment
                        raw.send(encode_command("HGET", f"c:{c}", "f"))
                        got = _replies(raw, 2)
                        want = b":0\r\n$%d\r\n%d\r\n" % (len(str(i)), i)
                    else:
                        got = _replies(raw, 1)
                        want = b":1\r\n" if i == 0 else b":0\r\n"
                    if got != want:
                        failures.append(f"client {c} round {i}: {got!r} != {want!r}")
                        return
            except Exception as exc:
                failures.append(f"client {c}: {exc!r}")
            finally:
                raw.close()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not failures, failures[:3]
        combined = info_stat(server.port, "memvec_combined_writes")
        inline = _inline_count(server.port)
        if server is servers[0]:
            assert combined > 0 and inline > 0, (combined, inline)
        else:
            assert inline == 0


def test_searches_of_a_small_flat_index_stay_on_the_loop(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    """With another client active (here: blocked in BLPOP) a search goes to the search
    pool, unless it is at most a short FLAT scan (IndexManager.short_scans): on the pool
    such scans convoy with the loop for the GIL. An HNSW index's searches still go."""
    server = servers[0]
    setup = RawClient(server.port, timeout_s=10)
    blocked = RawClient(server.port, timeout_s=10)
    try:
        for name, algo in (("f", "FLAT"), ("h", "HNSW")):
            setup.send(encode_command("FT.CREATE", name, "ON", "HASH", "PREFIX", "1",
                                      f"{name}:", "SCHEMA", "v", "VECTOR", algo, "6", "TYPE",
                                      "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2"))  # fmt: skip
            assert setup.read_reply() == b"+OK\r\n"
            for i in range(20):
                setup.send(
                    encode_command("HSET", f"{name}:{i}", "v", struct.pack("4f", i, 0, 0, 0))
                )
                assert setup.read_reply() == b":1\r\n"
        blocked.send(encode_command("BLPOP", "nothing", "0"))  # an active client from now on
        time.sleep(0.2)  # past WRITE_QUIET_NS: searches right after a write stay on the loop
        offloaded = {}
        for name in ("f", "h"):
            before = info_stat(server.port, "memvec_searches_offloaded")
            for i in range(10):
                setup.send(encode_command("FT.SEARCH", name, "*=>[KNN 1 @v $q]", "PARAMS", "2",
                                          "q", struct.pack("4f", i, 0, 0, 0), "NOCONTENT",
                                          "DIALECT", "2"))  # fmt: skip
                want = f"{name}:{i}".encode()
                assert setup.read_reply() == b"*2\r\n:1\r\n$%d\r\n%s\r\n" % (len(want), want)
            offloaded[name] = info_stat(server.port, "memvec_searches_offloaded") - before
        assert offloaded == {"f": 0, "h": 10}
        setup.send(encode_command("LPUSH", "nothing", "x"))
        assert setup.read_reply() == b":1\r\n"
        assert blocked.read_reply() == encode_command("nothing", "x")
    finally:
        setup.close()
        blocked.close()


def test_a_reply_heavy_pipeline_leaves_the_inline_path_at_flush_bytes(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    """Replies the inline path holds stay near FLUSH_BYTES: in one pipeline of GETs of
    100 KB values, the command after the replies reach 256 KB goes to the task (which
    flushes as it goes), and every reply still arrives, in order, as on the task path."""
    big = b"x" * 100_000
    answers = []
    for server in servers:
        client = RawClient(server.port, timeout_s=10)
        try:
            client.send(encode_command("SET", "big", big))
            assert client.read_reply() == b"+OK\r\n"
            before = _inline_count(server.port)
            gets = [encode_command("GET", "big") for _ in range(4)]
            client.send(b"".join(gets) + encode_command("GET", "missing"))
            answers.append(_replies(client, 5))
            ran = _inline_count(server.port) - before
        finally:
            client.close()
        # inline: the first three (100, 200, then 300 KB held: the fourth waits)
        assert ran == (3 if server is servers[0] else 0)
    assert answers[0] == answers[1]
    assert answers[0] == (b"$100000\r\n" + big + b"\r\n") * 4 + b"$-1\r\n"
