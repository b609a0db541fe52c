"""Blocking commands on a real server (store.server.blocking): clients park without
holding the engine, are served in FIFO order by any write of their keys (a push, a
MULTI/EXEC, another blocked client's move), time out with the peer's replies, are
unblocked by CLIENT UNBLOCK, leave the lot when they disconnect, are shown by CLIENT
LIST / INFO, and the pops they are served are logged (replay and replicas agree).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack
from tests.harness.wait import wait_for
from tests.server.conftest import RawClient

Raw = Callable[[int], RawClient]


def resp(*args: object) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        data = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


@pytest.fixture(scope="module")
def memvec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    config = ServerConfig(
        port=0, data_dir=tmp_path_factory.mktemp("blocking"), appendfsync=FsyncPolicy.ALWAYS
    )
    thread = ServerThread(config).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def r(memvec: ServerThread) -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=memvec.port, protocol=2, socket_timeout=10)
    yield client
    client.close()


def blocked_count(r: redis.Redis) -> int:
    return int(r.info("clients")["blocked_clients"])


def park(raw: Raw, port: int, *args: object, hello3: bool = False) -> RawClient:
    """A raw client that sent ``args`` and is now blocked (waits until the server says so)."""
    c = raw(port)
    if hello3:
        c.send(resp("HELLO", 3))
        c.read_reply()
    c.send(resp("CLIENT", "SETNAME", "parked"))
    assert c.read_reply() == b"+OK\r\n"
    before = sum(1 for line in _clients(port) if "flags=b" in line)
    c.send(resp(*args))
    wait_for(
        lambda: sum(1 for line in _clients(port) if "flags=b" in line) > before,
        10,
        message=f"{args} did not block",
    )
    return c


def _clients(port: int) -> list[str]:
    with redis.Redis(host="127.0.0.1", port=port, protocol=2) as r:
        return r.execute_command("CLIENT", "LIST").decode().splitlines()


def test_served_fifo_by_a_push(memvec: ServerThread, r: redis.Redis, raw: Raw) -> None:
    first = park(raw, memvec.port, "BLPOP", "b:fifo", "b:other", 0)
    second = park(raw, memvec.port, "BRPOP", "b:fifo", 0)
    lines = [line for line in _clients(memvec.port) if "flags=b" in line]
    assert len(lines) == 2 and all("name=parked" in line for line in lines)
    assert any("cmd=blpop" in line for line in lines)
    assert blocked_count(r) == 2
    assert r.rpush("b:fifo", "one", "two", "three") == 3
    assert first.read_reply() == b"*2\r\n$6\r\nb:fifo\r\n$3\r\none\r\n"
    assert second.read_reply() == b"*2\r\n$6\r\nb:fifo\r\n$5\r\nthree\r\n"
    assert r.lrange("b:fifo", 0, -1) == [b"two"]
    assert blocked_count(r) == 0
    # the blocked connection goes on with what it sent after
    first.send(resp("PING"))
    assert first.read_reply() == b"+PONG\r\n"
    r.delete("b:fifo")


def test_transaction_and_chained_moves(memvec: ServerThread, r: redis.Redis, raw: Raw) -> None:
    mover = park(raw, memvec.port, "BLMOVE", "b:src", "b:mid", "RIGHT", "LEFT", 0)
    popper = park(raw, memvec.port, "BLMPOP", 0, 2, "b:x", "b:mid", "LEFT", "COUNT", 5)
    pipe = r.pipeline(transaction=True)
    pipe.rpush("b:src", "a", "b")
    pipe.lpush("b:unrelated", "z")
    pipe.execute()
    assert mover.read_reply() == b"$1\r\nb\r\n"
    # the mover's push into b:mid served the popper, in the same pass
    assert popper.read_reply() == b"*2\r\n$5\r\nb:mid\r\n*1\r\n$1\r\nb\r\n"
    assert r.lrange("b:src", 0, -1) == [b"a"] and not r.exists("b:mid")
    # a key that became another type does not wake a BLPOP; its list does
    waiter = park(raw, memvec.port, "BLPOP", "b:typed", 0)
    r.set("b:typed", "string")
    assert blocked_count(r) == 1
    r.delete("b:typed")
    r.rpush("b:typed", "v")
    assert waiter.read_reply() == b"*2\r\n$7\r\nb:typed\r\n$1\r\nv\r\n"
    r.delete("b:src", "b:unrelated")


def test_timeouts_match_the_peer(memvec: ServerThread, raw: Raw, redis_stack: RedisStack) -> None:
    for protocol in (2, 3):
        for args in [
            ("BLPOP", "b:none", 0.05),
            ("BLMOVE", "b:none", "b:d", "LEFT", "LEFT", 0.05),
            ("BLMPOP", 0.05, 1, "b:none", "LEFT"),
            ("BRPOPLPUSH", "b:none", "b:d", 0.05),
        ]:
            replies = []
            for port in (memvec.port, redis_stack.port):
                c = raw(port)
                if protocol == 3:
                    c.send(resp("HELLO", 3))
                    c.read_reply()
                c.send(resp(*args))
                replies.append(c.read_reply())
            assert replies[0] == replies[1], (protocol, args, replies)


def test_client_unblock_and_disconnect(memvec: ServerThread, r: redis.Redis, raw: Raw) -> None:
    c = park(raw, memvec.port, "BLPOP", "b:u", 0)
    ids = [int(line.split()[0][3:]) for line in _clients(memvec.port) if "flags=b" in line]
    assert r.execute_command("CLIENT", "UNBLOCK", ids[0]) == 1
    assert c.read_reply() == b"*-1\r\n"
    assert r.execute_command("CLIENT", "UNBLOCK", ids[0]) == 0
    c.send(resp("BLMOVE", "b:u", "b:v", "LEFT", "LEFT", 0))
    wait_for(lambda: blocked_count(r) == 1, 10)
    assert r.execute_command("CLIENT", "UNBLOCK", ids[0], "ERROR") == 1
    assert c.read_reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    with pytest.raises(redis.ResponseError, match="TIMEOUT or ERROR"):
        r.execute_command("CLIENT", "UNBLOCK", ids[0], "LATER")
    c2 = park(raw, memvec.port, "BLPOP", "b:gone", 0)
    c2.close()
    wait_for(lambda: blocked_count(r) == 0, 10, message="a closed client stayed blocked")
    r.rpush("b:gone", "kept")  # nobody takes it
    assert r.lrange("b:gone", 0, -1) == [b"kept"]
    r.delete("b:gone")


def test_served_pops_are_logged(tmp_path: Path, raw: Raw) -> None:
    config = ServerConfig(port=0, data_dir=tmp_path / "d", appendfsync=FsyncPolicy.ALWAYS)
    thread = ServerThread(config).start()
    try:
        c = park(raw, thread.port, "BLMOVE", "b:s", "b:d", "LEFT", "RIGHT", 0)
        with redis.Redis(host="127.0.0.1", port=thread.port) as r:
            r.rpush("b:s", "1", "2", "3")
            assert c.read_reply() == b"$1\r\n1\r\n"
            r.sadd("b:set", "x", "y", "z", "1")
            popped = r.spop("b:set")
            before = {k: r.lrange(k, 0, -1) for k in (b"b:s", b"b:d")}
            members = r.smembers("b:set")
            assert popped not in members and len(members) == 3
    finally:
        thread.stop()
    thread = ServerThread(config).start()  # replays the log: BLMOVE as LMOVE, SPOP as SREM
    try:
        with redis.Redis(host="127.0.0.1", port=thread.port) as r:
            assert {k: r.lrange(k, 0, -1) for k in (b"b:s", b"b:d")} == before
            assert r.smembers("b:set") == members
            assert r.object("encoding", "b:set") == b"listpack"
    finally:
        thread.stop()


def test_replica_refuses_blocking_pops(tmp_path: Path) -> None:
    primary = ServerThread(ServerConfig(port=0, data_dir=tmp_path / "p")).start()
    replica = None
    try:
        replica = ServerThread(
            ServerConfig(port=0, data_dir=tmp_path / "r", replicaof=f"127.0.0.1:{primary.port}")
        ).start()
        with (
            redis.Redis(host="127.0.0.1", port=primary.port) as p,
            redis.Redis(host="127.0.0.1", port=replica.port) as q,
        ):
            p.rpush("b:l", "a", "b", "c")
            p.sadd("b:s", "1", "2", "x")
            assert p.blpop(["b:l"], 1) == (b"b:l", b"a")
            p.spop("b:s")
            wait_for(lambda: q.lrange("b:l", 0, -1) == [b"b", b"c"], 10)
            wait_for(lambda: q.smembers("b:s") == p.smembers("b:s"), 10)
            with pytest.raises(redis.ReadOnlyError):
                q.blpop(["b:l"], 0)
            assert q.lrange("b:l", 0, -1) == [b"b", b"c"]
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
