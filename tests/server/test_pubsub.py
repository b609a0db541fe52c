"""Pub/Sub against the peer, raw RESP bytes compared: RESP2 subscribed mode, RESP3 pushes,
PUBSUB introspection, ACL channel permissions, MULTI; then memvec-only properties the peer
cannot be asked about in the same way (ordering under a pipeline, a subscriber that stops
reading, cleanup on disconnect).

Scripts run on raw sockets (:class:`Session`): each step sends a command on one of several
connections and reads an exact number of replies/frames, so a missing or extra frame fails
the comparison (a missing one by the read deadline). Channels carry a per-test prefix: the
peer is shared with other tests.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient

# (connection index, command or None to only read, replies to read, compare with the peer)
Step = (
    tuple[int, Sequence[bytes | str] | None, int]
    | tuple[int, Sequence[bytes | str] | None, int, bool]
)


def encode(args: Sequence[bytes | str]) -> bytes:
    parts = [a.encode() if isinstance(a, str) else a for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in parts)


class Session:
    """Raw connections to one server, driven by a script of :data:`Step`."""

    def __init__(self, port: int, connections: int) -> None:
        self.clients = [RawClient(port, timeout_s=5) for _ in range(connections)]

    def run(self, steps: Sequence[Step]) -> list[tuple[str, bytes | None]]:
        out: list[tuple[str, bytes | None]] = []
        for step in steps:
            index, args, reads = step[0], step[1], step[2]
            compare = step[3] if len(step) > 3 else True  # type: ignore[misc]
            client = self.clients[index]
            if args is not None:
                client.send(encode(args))
            got = b"".join(client.read_reply() for _ in range(reads))
            label = f"#{index} " + (" ".join(str(a) for a in args) if args else "(read)")
            out.append((label, got if compare else None))
        return out

    def close(self) -> None:
        for client in self.clients:
            client.close()


def differential(port: int, peer: RedisStack, connections: int, steps: Sequence[Step]) -> None:
    """Run ``steps`` on memvec and on the peer; every compared step's bytes must match."""
    mine, theirs = Session(port, connections), Session(peer.port, connections)
    try:
        a, b = mine.run(steps), theirs.run(steps)
    finally:
        mine.close()
        theirs.close()
    for (label, got), (_, want) in zip(a, b, strict=True):
        assert got == want, f"{label}: memvec {got!r} != peer {want!r}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = Path(tmp_path_factory.mktemp("pubsub"))
    thread = ServerThread(ServerConfig(port=0, data_dir=data, appendfsync=FsyncPolicy.NO)).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def p() -> str:
    return f"ps{uuid.uuid4().hex[:8]}:"


def test_resp2_subscribed_mode(server: ServerThread, redis_stack: RedisStack, p: str) -> None:
    a, b = f"{p}a", f"{p}b"
    differential(
        server.port,
        redis_stack,
        2,
        [
            (0, ["SUBSCRIBE", a, b], 2),
            (0, ["SUBSCRIBE", a], 1),  # again: confirmed, count unchanged
            (0, ["GET", f"{p}k"], 1),
            (0, ["CLIENT", "LIST"], 1),
            (0, ["HELLO", "3"], 1),
            (0, ["PUBLISH", a, "x"], 1),
            (0, ["PUBSUB", "NOSUCH"], 1),
            (0, ["PUBSUB", "NUMPAT", "extra"], 1),
            (0, ["PING"], 1),
            (0, ["PING", "hello"], 1),
            (0, ["PING", "x", "y"], 1),
            (1, ["PUBLISH", a, "m1"], 1),
            (0, None, 1),
            (0, ["PSUBSCRIBE", f"{p}*"], 1),
            (1, ["PUBLISH", b, "m2"], 1),  # channel and pattern: two deliveries
            (0, None, 2),
            (0, ["SSUBSCRIBE", f"{p}s"], 1),
            (1, ["SPUBLISH", f"{p}s", "m3"], 1),
            (0, None, 1),
            (0, ["PUNSUBSCRIBE", f"{p}nope"], 1),
            (0, ["UNSUBSCRIBE"], 2),
            (0, ["PUNSUBSCRIBE"], 1),
            (0, ["SUNSUBSCRIBE"], 1),
            (0, ["UNSUBSCRIBE"], 1),  # nothing left: one frame with a null channel
            (0, ["GET", f"{p}k"], 1),  # out of subscribed mode
            (0, ["SUBSCRIBE", a], 1),
            (0, ["RESET"], 1),
            (0, ["GET", f"{p}k"], 1),
            (1, ["PUBLISH", a, "gone"], 1),  # RESET unsubscribed
        ],
    )


def test_resp3_pushes_interleave(server: ServerThread, redis_stack: RedisStack, p: str) -> None:
    a = f"{p}a"
    differential(
        server.port,
        redis_stack,
        2,
        [
            (0, ["HELLO", "3"], 1, False),  # server name/version/modules differ
            (0, ["SUBSCRIBE", a], 1),
            (0, ["SET", f"{p}k", "v"], 1),  # any command works in RESP3
            (0, ["GET", f"{p}k"], 1),
            (0, ["PING"], 1),
            (0, ["PUBLISH", a, "self"], 2),  # the reply first, then the push
            (0, ["PSUBSCRIBE", f"{p}*"], 1),
            (0, ["PUBLISH", a, "both"], 3),
            (1, ["PUBLISH", a, "other"], 1),
            (0, None, 2),
            (0, ["UNSUBSCRIBE"], 1),
            (0, ["PUNSUBSCRIBE"], 1),
            (0, ["DEL", f"{p}k"], 1),
            (0, ["HELLO", "2"], 1, False),
            (0, ["SUBSCRIBE", a], 1),
            (0, ["GET", f"{p}k"], 1),  # RESP2 again: refused
            (0, ["RESET"], 1),
        ],
    )


def test_pubsub_introspection(server: ServerThread, redis_stack: RedisStack, p: str) -> None:
    a, b, s = f"{p}a", f"{p}b", f"{p}s"
    differential(
        server.port,
        redis_stack,
        3,
        [
            (0, ["SUBSCRIBE", a, b], 2),
            (1, ["SUBSCRIBE", a], 1),
            (1, ["SSUBSCRIBE", s], 1),
            (2, ["PUBSUB", "CHANNELS", f"{p}*"], 1),
            (2, ["PUBSUB", "CHANNELS", f"{p}a"], 1),
            (2, ["PUBSUB", "NUMSUB", a, b, f"{p}none"], 1),
            (2, ["PUBSUB", "NUMSUB"], 1),
            (2, ["PUBSUB", "SHARDCHANNELS", f"{p}*"], 1),
            (2, ["PUBSUB", "SHARDNUMSUB", s, a], 1),
            (2, ["PUBSUB", "HELP"], 1),
            (2, ["PUBSUB"], 1),
            (2, ["PUBSUB", "CHANNELS", "a", "b"], 1),
            (2, ["PUBSUB", "nosuch"], 1),
            (2, ["SUBSCRIBE"], 1),
            (2, ["PUBLISH", a], 1),
            (2, ["PUBLISH", a, "x"], 1),
            (0, None, 1),
            (1, None, 1),
            (0, ["RESET"], 1),
            (2, ["PUBSUB", "NUMSUB", a, b], 1),
            (1, ["RESET"], 1),
        ],
    )


def test_numpat_counts_distinct_patterns(server: ServerThread, p: str) -> None:
    one, two = Session(server.port, 2).clients
    one.send(encode(["PSUBSCRIBE", f"{p}x*", f"{p}y*"]))
    one.read_reply(), one.read_reply()
    two.send(encode(["PSUBSCRIBE", f"{p}x*"]))
    two.read_reply()
    probe = RawClient(server.port)
    probe.send(encode(["PUBSUB", "NUMPAT"]))
    assert probe.read_reply() == b":2\r\n"
    one.close()
    two.close()
    deadline = time.monotonic() + 5
    while True:  # disconnecting forgets every subscription
        probe.send(encode(["PUBSUB", "NUMPAT"]))
        if probe.read_reply() == b":0\r\n" or time.monotonic() > deadline:
            break
    probe.send(encode(["PUBSUB", "NUMPAT"]))
    assert probe.read_reply() == b":0\r\n"
    probe.close()


def test_acl_channels(server: ServerThread, redis_stack: RedisStack, p: str) -> None:
    user = f"psu{uuid.uuid4().hex[:6]}"
    channels = ["resetchannels", f"&{p}ok*"]
    differential(
        server.port,
        redis_stack,
        2,
        [
            (1, ["ACL", "SETUSER", user, "on", "nopass", "+@all", "~*", *channels], 1),
            (0, ["AUTH", user, "x"], 1),
            (0, ["PUBLISH", f"{p}other", "x"], 1),
            (0, ["PUBLISH", f"{p}ok1", "x"], 1),
            (0, ["SPUBLISH", f"{p}other", "x"], 1),
            (0, ["SUBSCRIBE", f"{p}ok1", f"{p}other"], 1),  # all or nothing
            (0, ["PSUBSCRIBE", f"{p}ok"], 1),  # a pattern must be one of the user's
            (0, ["PSUBSCRIBE", f"{p}ok*"], 1),
            (0, ["RESET"], 1),
            (1, ["ACL", "LIST"], 1),
            (1, ["ACL", "SETUSER", user, "allchannels", f"&{p}x"], 1),
            (1, ["ACL", "SETUSER", user, "allchannels"], 1),
            (1, ["ACL", "GETUSER", user], 1, False),  # the peer adds fields (databases)
            (0, ["AUTH", user, "x"], 1),
            (0, ["PUBLISH", f"{p}other", "x"], 1),
            (0, ["RESET"], 1),
            # key rules do not apply to shard channels (their key positions are channels)
            (1, ["ACL", "SETUSER", user, "resetkeys", f"~{p}key*"], 1),
            (0, ["AUTH", user, "x"], 1),
            (0, ["SPUBLISH", f"{p}chan", "x"], 1),
            (0, ["SSUBSCRIBE", f"{p}chan"], 1),
            (0, ["RESET"], 1),
            (1, ["ACL", "DELUSER", user], 1),
        ],
    )


def test_publish_in_multi(server: ServerThread, redis_stack: RedisStack, p: str) -> None:
    a = f"{p}a"
    differential(
        server.port,
        redis_stack,
        2,
        [
            (0, ["SUBSCRIBE", a], 1),
            (1, ["MULTI"], 1),
            (1, ["PUBLISH", a, "one"], 1),
            (1, ["SET", f"{p}k", "v"], 1),
            (1, ["PUBLISH", a, "two"], 1),
            (1, ["EXEC"], 1),
            (0, None, 2),
            (1, ["DEL", f"{p}k"], 1),
            (0, ["RESET"], 1),
            # SUBSCRIBE inside MULTI: its confirmation is EXEC's element
            (1, ["MULTI"], 1),
            (1, ["SUBSCRIBE", a], 1),
            (1, ["PUBSUB", "NUMSUB", a], 1),
            (1, ["EXEC"], 1),
            (1, ["PING"], 1),
            (1, ["RESET"], 1),
            (1, ["HELLO", "3"], 1, False),
            (1, ["MULTI"], 1),
            (1, ["SUBSCRIBE", a], 1),
            (1, ["PUBLISH", a, "three"], 1),
            (1, ["EXEC"], 2),  # then its own message, after EXEC's reply
            (1, ["RESET"], 1),
        ],
    )


def test_messages_keep_publisher_order(server: ServerThread, p: str) -> None:
    """A pipelined burst from one publisher reaches a pattern and a channel subscriber in
    publication order, each message exactly once."""
    chan = f"{p}order"
    sub, pub = RawClient(server.port), RawClient(server.port)
    sub.send(encode(["SUBSCRIBE", chan]) + encode(["PSUBSCRIBE", f"{p}*"]))
    sub.read_reply(), sub.read_reply()
    n = 500
    pub.send(b"".join(encode(["PUBLISH", chan, str(i)]) for i in range(n)))
    assert [pub.read_reply() for _ in range(n)] == [b":2\r\n"] * n
    frames = [sub.read_reply() for _ in range(2 * n)]
    for i in range(n):
        body = str(i).encode()
        assert frames[2 * i].endswith(b"$%d\r\n%s\r\n" % (len(body), body))
        assert frames[2 * i].startswith(b"*3\r\n$7\r\nmessage")
        assert frames[2 * i + 1].startswith(b"*4\r\n$8\r\npmessage")
        assert frames[2 * i + 1].endswith(b"$%d\r\n%s\r\n" % (len(body), body))
    sub.close()
    pub.close()


def test_subscriber_that_stops_reading_is_disconnected(server: ServerThread, p: str) -> None:
    """client-output-buffer-limit pubsub: a subscriber that never reads is cut at the hard
    limit; the publisher and the other clients keep being served."""
    chan = f"{p}slow"
    admin = RawClient(server.port)
    admin.send(encode(["CONFIG", "SET", "client-output-buffer-limit", "pubsub 256kb 0 0"]))
    assert admin.read_reply() == b"+OK\r\n"
    try:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(encode(["SUBSCRIBE", chan]))
        deadline = time.monotonic() + 5
        while True:  # subscribed (never read from here on)
            admin.send(encode(["PUBSUB", "NUMSUB", chan]))
            if admin.read_reply().endswith(b":1\r\n") or time.monotonic() > deadline:
                break
        payload = b"x" * 64 * 1024
        delivered = []
        for _ in range(200):  # 12.8 MB: far past the kernel buffers and the limit
            admin.send(encode(["PUBLISH", chan, payload]))
            delivered.append(admin.read_reply())
            if delivered[-1] == b":0\r\n":
                break
        assert delivered[-1] == b":0\r\n", "the subscriber was never disconnected"
        admin.send(encode(["INFO", "stats"]))
        assert b"client_output_buffer_limit_disconnections:" in admin.read_reply()
        admin.send(encode(["PING"]))
        assert admin.read_reply() == b"+PONG\r\n"
        slow.close()
    finally:
        admin.send(encode(["CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60"]))
        assert admin.read_reply() == b"+OK\r\n"
        admin.close()


def test_client_list_shows_subscriptions(server: ServerThread, p: str) -> None:
    sub = RawClient(server.port)
    sub.send(encode(["CLIENT", "SETNAME", f"{p}n".replace(":", "")]))
    sub.read_reply()
    sub.send(encode(["SUBSCRIBE", f"{p}a", f"{p}b"]) + encode(["PSUBSCRIBE", f"{p}*"]))
    for _ in range(3):
        sub.read_reply()
    probe = RawClient(server.port)
    probe.send(encode(["CLIENT", "LIST"]))
    lines = probe.read_reply().decode().splitlines()
    mine = [line for line in lines if f"name={p}n".replace(":", "") in line]
    assert len(mine) == 1
    assert " flags=P " in mine[0] and " sub=2 psub=1 ssub=0 " in mine[0]
    sub.close()
    probe.close()


def test_command_info_matches_peer(server: ServerThread, redis_stack: RedisStack) -> None:
    """Arity, flags, and ACL categories of the pub/sub commands (key specs excepted:
    docs/compatibility.md)."""
    import redis

    mine = redis.Redis(host="127.0.0.1", port=server.port, protocol=2)
    theirs = redis_stack.client(protocol=2)
    names = ["SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "PUBLISH", "PUBSUB"]
    try:
        for name in names:
            a = mine.execute_command("COMMAND", "INFO", name)[name.lower()]
            b = theirs.execute_command("COMMAND", "INFO", name)[name.lower()]
            for field in ("arity", "flags", "acl_categories"):
                assert (
                    sorted(map(str, a[field])) == sorted(map(str, b[field]))
                    if isinstance(a[field], list)
                    else a[field] == b[field]
                ), (name, field, a[field], b[field])
    finally:
        mine.close()
        theirs.close()


_PONGS = (b"+PONG\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")


def _sort_pattern_runs(frames: list[bytes]) -> list[bytes]:
    """Consecutive ``pmessage`` frames sorted: the order in which one message reaches
    several matching patterns is the peer's hash-table order (docs/compatibility.md)."""
    out: list[bytes] = []
    run: list[bytes] = []
    for frame in frames:
        if frame[4:].startswith(b"$8\r\npmessage"):
            run.append(frame)
            continue
        out += [*sorted(run), frame]
        run = []
    return out + sorted(run)


def _random_commands(seed: int, p: str, n: int) -> list[tuple[int, list[str]]]:
    """``n`` random pub/sub calls over 3 connections, channels and patterns under ``p``."""
    import random

    rng = random.Random(seed)
    chans = [f"{p}c{i}" for i in range(3)]
    pats = [f"{p}c*", f"{p}c[01]", f"{p}?1"]
    out: list[tuple[int, list[str]]] = []
    for _ in range(n):
        who = rng.randrange(3)
        some = rng.sample(chans, rng.randint(0, 2))
        kind = rng.choice(
            [
                "sub",
                "unsub",
                "psub",
                "punsub",
                "ssub",
                "sunsub",
                "pub",
                "spub",
                "numsub",
                "channels",
                "pubsubping",
                "get",
            ]
        )
        if kind == "sub":
            out.append((who, ["SUBSCRIBE", *(some or chans[:1])]))
        elif kind == "unsub":
            out.append((who, ["UNSUBSCRIBE", *some]))
        elif kind == "psub":
            out.append((who, ["PSUBSCRIBE", rng.choice(pats)]))
        elif kind == "punsub":
            out.append((who, ["PUNSUBSCRIBE", *rng.sample(pats, rng.randint(0, 1))]))
        elif kind == "ssub":
            out.append((who, ["SSUBSCRIBE", *(some or chans[:1])]))
        elif kind == "sunsub":
            out.append((who, ["SUNSUBSCRIBE", *some]))
        elif kind == "pub":
            out.append((who, ["PUBLISH", rng.choice(chans), f"m{rng.randrange(100)}"]))
        elif kind == "spub":
            out.append((who, ["SPUBLISH", rng.choice(chans), f"s{rng.randrange(100)}"]))
        elif kind == "numsub":
            out.append((who, ["PUBSUB", "NUMSUB", *chans]))
        elif kind == "channels":
            out.append((who, ["PUBSUB", rng.choice(["CHANNELS", "SHARDCHANNELS"]), f"{p}*"]))
        elif kind == "pubsubping":
            out.append((who, ["PING", f"x{rng.randrange(9)}"]))
        else:
            out.append((who, ["GET", f"{p}k"]))
    return out


def _converse(port: int, protocol: int, commands: list[tuple[int, list[str]]]) -> list[bytes]:
    """Run ``commands``; after each, every connection is read up to the reply of a PING it
    sends (so every frame a command caused is in the transcript, in order)."""
    s = Session(port, 3)
    out: list[bytes] = []
    try:
        for client in s.clients:
            client.send(encode(["HELLO", str(protocol)]))
            client.read_reply()
        for who, command in commands:
            s.clients[who].send(encode(command))
            for client in s.clients:
                client.send(encode(["PING"]))
                got = []
                while True:
                    reply = client.read_reply()
                    if reply in _PONGS:
                        break
                    got.append(reply)
                out.append(b"".join(_sort_pattern_runs(got)))
        for client in s.clients:
            client.send(encode(["RESET"]))
            client.read_reply()
    finally:
        s.close()
    return out


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_match_peer(
    server: ServerThread, redis_stack: RedisStack, p: str, protocol: int, seed: int
) -> None:
    """Random pub/sub calls on three connections: every connection's raw bytes, step by
    step, equal the peer's."""
    commands = _random_commands(seed, p, 60)
    mine = _converse(server.port, protocol, commands)
    theirs = _converse(redis_stack.port, protocol, commands)
    for i, (got, want) in enumerate(zip(mine, theirs, strict=True)):
        who, command = commands[i // 3]
        assert got == want, (
            f"step {i // 3} (#{who} {' '.join(command)}), connection {i % 3}: "
            f"memvec {got!r} != peer {want!r}"
        )
