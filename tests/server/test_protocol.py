"""Bad input never takes the server down.

Every protocol error answers ``-ERR Protocol error: ...`` (after the replies to the good
commands before it) and closes that connection only; a fuzz run feeds thousands of bad
frames (hypothesis, plus mutations of real frames) while a writer keeps writing, and every
write acknowledged before, during and after is present, also after a restart.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.resp import encode_command
from store.server import ServerThread
from tests.server.conftest import RawClient

CASES = [
    (b"*abc\r\n", b"invalid multibulk length"),
    (b"*-2x\r\n", b"invalid multibulk length"),
    (b"*1\r\n$abc\r\n", b"invalid bulk length"),
    (b"*1\r\n$-5\r\n", b"invalid bulk length"),
    (b"*1\r\nfoo\r\n", b"expected '$', got 'f'"),
    (b"*2\r\n$3\r\nfoo\r\n:12\r\n", b"expected '$', got ':'"),
    (b'SET "unbalanced\r\n', b"unbalanced quotes in request"),
    (b"x" * 70_000, b"too big inline request"),
    (b"*" + b"1" * 70_000, b"too big mbulk count string"),
    (b"*1\r\n$" + b"2" * 70_000, b"too big bulk count string"),
    (b"*1\r\n$2000\r\n", b"invalid bulk length"),  # over proto-max-bulk-len (1000 here)
]


@pytest.fixture
def small_server(start_server: Callable[..., ServerThread]) -> ServerThread:
    return start_server(proto_max_bulk_len=1000)


@pytest.mark.parametrize(("frame", "error"), CASES, ids=[c[1].decode() for c in CASES])
def test_protocol_error_closes_only_that_connection(
    small_server: ServerThread, raw: Callable[[int], RawClient], frame: bytes, error: bytes
) -> None:
    healthy = redis.Redis(port=small_server.port, protocol=3)
    try:
        assert healthy.set("before", 1)
        bad = raw(small_server.port)
        bad.send(b"PING\r\n" + frame)
        assert bad.read_reply() == b"+PONG\r\n"  # the good command before it is answered
        assert bad.read_until_closed() == b"-ERR Protocol error: " + error + b"\r\n"
        assert healthy.ping() is True
        assert healthy.get("before") == b"1"
    finally:
        healthy.close()


def test_unauthenticated_limits(
    start_server: Callable[..., ServerThread], raw: Callable[[int], RawClient]
) -> None:
    srv = start_server(requirepass="s3cret")
    c = raw(srv.port)
    c.send(b"*11\r\n")
    assert c.read_until_closed() == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    c = raw(srv.port)
    c.send(b"*2\r\n$3\r\nGET\r\n$20000\r\n")
    assert c.read_until_closed() == b"-ERR Protocol error: unauthenticated bulk length\r\n"


def test_unterminated_frames_and_abrupt_close(small_server: ServerThread) -> None:
    for frame in (b"*2\r\n$3\r\nfoo", b"*3\r\n", b"$5\r\nab", b"SET a"):
        s = socket.create_connection(("127.0.0.1", small_server.port))
        s.sendall(frame)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST
    r = redis.Redis(port=small_server.port)
    try:
        assert r.ping() is True
    finally:
        r.close()


# -- fuzz ----------------------------------------------------------------------------------
_rng = np.random.default_rng(0)
REAL_FRAMES = [
    encode_command("SET", "fuzz:a", "value"),
    encode_command(
        "HSET", "fuzz:doc:1", "vec", _rng.random(16, dtype=np.float32).tobytes(), "tag", "x"
    ),
    encode_command("HGETALL", "fuzz:doc:1"),
    encode_command("MULTI") + encode_command("SET", "fuzz:b", "1") + encode_command("EXEC"),
    encode_command(
        "FT.SEARCH", "fz", "*=>[KNN 3 @vec $B]", "PARAMS", "2", "B", b"\x00" * 64, "DIALECT", "2"
    ),
    encode_command("PING"),
    b"HSET fuzz:inline f \"a b\" g 'c'\r\n",
    encode_command("HELLO", "3") + encode_command("GET", "fuzz:a"),
]
TOKENS = [
    b"*", b"$", b"\r\n", b"\n", b"\r", b"-1", b"0", b"1", b"3", b"99999999999999999999",
    b"PING", b"SET", b"HSET", b"GET", b"fuzz:k", b'"', b"'", b"\\x4", b"\x00", b" ", b":",
    b"+", b"-", b"%", b"~", b"\xff\xfe",
]  # fmt: skip


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = rng.choice(TOKENS)
        elif op == 2:
            del data[pos : pos + rng.randint(1, 8)]
        elif op == 3:
            data = data[:pos]
        else:
            data[pos:pos] = data[: rng.randint(0, len(data))]
    return bytes(data)


def _feed(port: int, data: bytes) -> None:
    """Send ``data``, half-close, and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass


class _Writer(threading.Thread):
    """Writes ``ack:<n>`` in small pipelines and records what was acknowledged."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.r = redis.Redis(port=port, username="writer", password="w-pass", protocol=3)
        self.acked: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.n = 0

    def write_batch(self) -> None:
        with self.r.pipeline(transaction=False) as p:
            batch = list(range(self.n, self.n + 5))
            for i in batch:
                p.hset(f"ack:{i}", mapping={"n": i})
            assert p.execute() == [1] * 5
        self.acked += batch
        self.n += 5

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.write_batch()
        except BaseException as exc:
            self.error = exc


def _lock_down_default_user(port: int) -> None:
    admin = redis.Redis(port=port, protocol=3)
    try:
        admin.acl_setuser(
            "writer", enabled=True, passwords=["+w-pass"], keys=["*"], commands=["+@all"]
        )
        # Garbage may spell real commands: keep it away from the writer's keys and from
        # anything that stops, reconfigures or blocks the server.
        admin.execute_command(
            "ACL", "SETUSER", "default", "resetkeys", "~fuzz:*", "+@all", "-@dangerous",
            "-@admin", "-client", "-wait", "-shutdown", "-acl", "-config",
        )  # fmt: skip
    finally:
        admin.close()


@pytest.mark.timeout(120)
def test_fuzz_bad_frames(start_server: Callable[..., ServerThread], tmp_path: Path) -> None:
    data_dir = tmp_path / "fuzz"
    srv = start_server(data_dir=data_dir, proto_max_bulk_len=64 * 1024)
    _lock_down_default_user(srv.port)
    writer = _Writer(srv.port)
    for _ in range(4):
        writer.write_batch()  # before
    writer.start()  # during
    fed = 0

    @settings(
        max_examples=1500,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.one_of(
            st.binary(max_size=300),
            st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join),
            st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=6)), max_size=30).map(
                b"".join
            ),
        )
    )
    def hypothesis_frames(data: bytes) -> None:
        nonlocal fed
        _feed(srv.port, data)
        fed += 1

    hypothesis_frames()
    rng = random.Random(42)
    for i in range(1500):
        frame = rng.choice(REAL_FRAMES)
        _feed(srv.port, _mutate(rng, frame) * rng.choice((1, 1, 2)))
        fed += 1
        if i % 250 == 0:
            assert writer.is_alive(), writer.error
    assert fed >= 3000
    writer.stop.set()
    writer.join(30)
    assert writer.error is None, writer.error
    for _ in range(4):
        writer.write_batch()  # after
    fresh = redis.Redis(port=srv.port, protocol=3)
    assert fresh.ping() is True
    fresh.close()

    def all_present(port: int) -> None:
        r = redis.Redis(port=port, username="writer", password="w-pass", protocol=2)
        try:
            with r.pipeline(transaction=False) as p:
                for i in writer.acked:
                    p.hget(f"ack:{i}", "n")
                got = p.execute()
            missing = [i for i, v in zip(writer.acked, got, strict=True) if v != str(i).encode()]
            assert not missing, f"acknowledged writes missing: {missing[:10]}"
        finally:
            r.close()

    all_present(srv.port)
    writer.r.close()
    srv.stop()
    again = start_server(data_dir=data_dir, aclfile=None)
    r = redis.Redis(port=again.port, protocol=3)
    # the ACL changes were runtime only: the restarted server has an open default user
    r.acl_setuser("writer", enabled=True, passwords=["+w-pass"], keys=["*"], commands=["+@all"])
    r.close()
    all_present(again.port)
