"""Keyspace notifications against the peer.

* The events memvec publishes for the commands it has are compared with the peer's, raw
  frames, for several ``notify-keyspace-events`` settings: a subscriber reads every frame
  up to a sentinel message its own publisher sends after each command, so the comparison
  covers the events, their order and the absence of extra ones.
* The command -> events table (:data:`store.server.notifications.EVENTS`) is also checked
  directly against the peer for the types other branches are adding (lists, sets, sorted
  sets, streams, geo, bitmaps, HyperLogLog) and for key commands memvec lacks yet: the
  peer runs the command, the table predicts from the same call and the keys' existence.
* Expiry (``expired`` by the sweeper and lazily, ``hexpired``) is timing dependent and is
  checked on memvec alone.

The shared peer's ``notify-keyspace-events`` is restored to empty at the end.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.config import FsyncPolicy
from store.engine import CommandEffects
from store.server import ServerConfig, ServerThread
from store.server.notifications import events_of, format_flags, parse_flags
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient
from tests.server.test_pubsub import Session, differential, encode


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = Path(tmp_path_factory.mktemp("notify"))
    thread = ServerThread(ServerConfig(port=0, data_dir=data, appendfsync=FsyncPolicy.NO)).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def peer(redis_stack: RedisStack) -> Iterator[RedisStack]:
    try:
        yield redis_stack
    finally:
        client = redis_stack.client()
        client.config_set("notify-keyspace-events", "")
        client.close()


@pytest.fixture
def p() -> str:
    return f"nt{uuid.uuid4().hex[:8]}:"


def _bulks(frame: bytes) -> list[bytes]:
    """The bulk strings of one pub/sub frame (RESP2 array or RESP3 push)."""
    return re.findall(rb"\$\d+\r\n(.*?)\r\n", frame, re.S)


def events(port: int, flags: str, p: str, commands: list[list[str]]) -> list[list[bytes]]:
    """Per command, the (channel, message) frames about keys under ``p`` a pattern
    subscriber got, up to a sentinel message sent after the command. A command of
    several lines (``|`` between them: MULTI ... EXEC) is sent whole."""
    s = Session(port, 2)
    sub, pub = s.clients
    try:
        pub.send(encode(["CONFIG", "SET", "notify-keyspace-events", flags]))
        assert pub.read_reply() == b"+OK\r\n"
        sentinel = f"{p}sentinel"
        sub.send(encode(["PSUBSCRIBE", "__key*@0__:*"]) + encode(["SUBSCRIBE", sentinel]))
        sub.read_reply(), sub.read_reply()
        out: list[list[bytes]] = []
        for command in commands:
            lines = " ".join(command).split(" | ")
            pub.send(b"".join(encode(line.split()) for line in lines))
            for _ in lines:
                pub.read_reply()
            pub.send(encode(["PUBLISH", sentinel, "."]))
            pub.read_reply()
            got: list[bytes] = []
            while True:
                parts = _bulks(sub.read_reply())
                if parts[0] == b"message":
                    break
                channel, message = parts[2], parts[3]
                if p.encode() in channel or message.startswith(p.encode()):
                    got.append(channel + b" " + message)
            out.append(got)
        return out
    finally:
        s.close()


# memvec's commands today, each line a step (keys under the test prefix)
SCRIPT = """
SET {p}s v
SET {p}s v2 EX 100
SET {p}s v3 KEEPTTL
PERSIST {p}s
PEXPIRE {p}s 100000
EXPIRE {p}s -1
MSET {p}a 1 {p}b 2
INCR {p}a
INCRBY {p}a 5
DECR {p}a
DECRBY {p}a 2
INCRBYFLOAT {p}a 1.5
APPEND {p}b xyz
APPEND {p}c new
GETDEL {p}c
DEL {p}a {p}missing {p}b
UNLINK {p}none
HSET {p}h f 1 g 2
HSETNX {p}h f 1
HSETNX {p}h n 1
HINCRBY {p}h f 3
HINCRBYFLOAT {p}h f 0.5
HEXPIRE {p}h 100 FIELDS 1 f
HPERSIST {p}h FIELDS 1 f
HDEL {p}h f g
HDEL {p}h n
HMSET {p}h2 a 1
DEL {p}h2
"""


def _script(p: str) -> list[list[str]]:
    return [line.format(p=p).split() for line in SCRIPT.strip().splitlines()]


@pytest.mark.parametrize("flags", ["KEA", "KEAn", "E$", "Kgn", "Kh", "Ex", "AK"])
def test_events_match_peer(server: ServerThread, peer: RedisStack, p: str, flags: str) -> None:
    commands = _script(p)
    mine = events(server.port, flags, p, commands)
    theirs = events(peer.port, flags, p, commands)
    for command, got, want in zip(commands, mine, theirs, strict=True):
        assert got == want, f"{flags} {' '.join(command)}: memvec {got} != peer {want}"


def test_events_in_multi_match_peer(server: ServerThread, peer: RedisStack, p: str) -> None:
    commands = [
        f"MULTI | SET {p}k 1 | INCR {p}k | HSET {p}h f v | DEL {p}k {p}h | EXEC".split(),
        f"MULTI | SET {p}k 1 EX 100 | PERSIST {p}k | EXEC".split(),
    ]
    assert events(server.port, "KEAn", p, commands) == events(peer.port, "KEAn", p, commands)


def test_keymiss_events_match_peer(server: ServerThread, peer: RedisStack, p: str) -> None:
    """Read commands' declared keys that do not exist publish ``keymiss`` (``m``), in
    MULTI too; OBJECT and writes do not; a hit publishes nothing."""
    commands = [
        f"GET {p}a".split(),
        f"MGET {p}a {p}b".split(),
        f"SET {p}c 1".split(),
        f"MGET {p}a {p}c".split(),
        f"EXISTS {p}a {p}c".split(),
        f"TYPE {p}d".split(),
        f"TTL {p}d".split(),
        f"OBJECT ENCODING {p}d".split(),
        f"HGET {p}h f".split(),
        f"LRANGE {p}l 0 -1".split(),
        f"INCR {p}e".split(),
        f"MULTI | GET {p}f | GET {p}c | EXEC".split(),
    ]
    for flags in ("Em", "Km", "KEA"):
        mine = events(server.port, flags, p, commands)
        theirs = events(peer.port, flags, p, commands)
        for command, got, want in zip(commands, mine, theirs, strict=True):
            assert got == want, f"{flags} {' '.join(command)}: memvec {got} != peer {want}"


def test_config_flags_as_peer(server: ServerThread, peer: RedisStack) -> None:
    steps: list = []
    for flags in ["KEA", "g$lshzxetdnmKE", "Ex", "$Kn", "An", "m", "KEAq", "x y", "", "E"]:
        steps.append((0, ["CONFIG", "SET", "notify-keyspace-events", flags], 1))
        steps.append((0, ["CONFIG", "GET", "notify-keyspace-events"], 1))
    steps.append((0, ["CONFIG", "SET", "notify-keyspace-events", ""], 1))
    differential(server.port, peer, 1, steps)


def test_resp3_own_event_follows_reply(server: ServerThread, peer: RedisStack, p: str) -> None:
    key = f"{p}k"
    differential(
        server.port,
        peer,
        1,
        [
            (0, ["CONFIG", "SET", "notify-keyspace-events", "KA"], 1),
            (0, ["HELLO", "3"], 1, False),
            (0, ["SUBSCRIBE", f"__keyspace@0__:{key}"], 1),
            (0, ["SET", key, "v"], 2),
            (0, ["HSET", f"{p}other", "f", "v"], 1),  # not subscribed to it: no push
            (0, ["DEL", key, f"{p}other"], 2),
            (0, ["CONFIG", "SET", "notify-keyspace-events", ""], 1),
            (0, ["SET", key, "v"], 1),
            (0, ["DEL", key], 1),
        ],
    )


def _wait_frames(sub: RawClient, n: int) -> list[list[bytes]]:
    return [_bulks(sub.read_reply()) for _ in range(n)]


def test_expired_events(server: ServerThread, p: str) -> None:
    """The sweeper's and the lazy expiry's deletions publish ``expired``; hash fields
    reaching their deadline publish ``hexpired`` (and ``del`` for the emptied hash)."""
    s = Session(server.port, 2)
    sub, cmd = s.clients
    try:
        cmd.send(encode(["CONFIG", "SET", "notify-keyspace-events", "Exhg"]))
        assert cmd.read_reply() == b"+OK\r\n"
        sub.send(encode(["PSUBSCRIBE", "__keyevent@0__:*"]))
        sub.read_reply()
        cmd.send(encode(["SET", f"{p}a", "v", "PX", "1"]))
        cmd.read_reply()
        frames = _wait_frames(sub, 2)  # "expired" by the sweeper (reads deadline: 5 s)
        assert frames[0][2:] == [b"__keyevent@0__:expire", f"{p}a".encode()]
        assert frames[1][2:] == [b"__keyevent@0__:expired", f"{p}a".encode()]
        cmd.send(encode(["HSET", f"{p}h", "f", "v"]))
        cmd.read_reply()
        frames = _wait_frames(sub, 1)
        assert frames[0][2:] == [b"__keyevent@0__:hset", f"{p}h".encode()]
        cmd.send(encode(["HPEXPIRE", f"{p}h", "1", "FIELDS", "1", "f"]))
        cmd.read_reply()
        frames = _wait_frames(sub, 3)
        assert [f[2] for f in frames] == [
            b"__keyevent@0__:hexpire",
            b"__keyevent@0__:hexpired",
            b"__keyevent@0__:del",
        ]
        # lazy: a write reaching an expired key first deletes it, as "expired"
        cmd.send(encode(["CONFIG", "SET", "notify-keyspace-events", "Ex$"]))
        cmd.read_reply()
        cmd.send(encode(["SET", f"{p}b", "v", "PX", "30"]) + encode(["SET", f"{p}c", "v"]))
        cmd.read_reply(), cmd.read_reply()
        frames = _wait_frames(sub, 3)
        assert [f[2] for f in frames][:2] == [b"__keyevent@0__:set", b"__keyevent@0__:set"]
        assert frames[2][2:] == [b"__keyevent@0__:expired", f"{p}b".encode()]
    finally:
        cmd.send(encode(["CONFIG", "SET", "notify-keyspace-events", ""]))
        cmd.read_reply()
        s.close()


def test_no_engine_listener_unless_something_can_publish(server: ServerThread) -> None:
    engine = server.server.engine
    admin = RawClient(server.port)
    try:
        for flags, listening in [("", False), ("K", False), ("A", False), ("KA", True),
                                 ("Em", False), ("E$", True), ("", False)]:  # fmt: skip
            admin.send(encode(["CONFIG", "SET", "notify-keyspace-events", flags]))
            assert admin.read_reply() == b"+OK\r\n"
            assert bool(engine.effect_listeners) is listening, flags
    finally:
        admin.close()


def test_flag_parsing_round_trip() -> None:
    assert format_flags(parse_flags("KEA")) == "AKE"
    assert format_flags(parse_flags("g$lshzxetdnmKE")) == "AKEm"
    assert format_flags(parse_flags("n$K")) == "$nK"
    with pytest.raises(ValueError, match="Invalid event class character"):
        parse_flags("Kq")


# The table against the peer, for commands memvec does not have yet: every line runs on
# the peer; events_of predicts the events from the call and the keys' existence.
TABLE_SCRIPT = """
LPUSH {p}1 a b c
RPUSH {p}1 d
LPUSHX {p}1 e
LPOP {p}1
RPOP {p}1 2
LINSERT {p}1 BEFORE b x
LSET {p}1 0 y
LREM {p}1 1 y
LTRIM {p}1 0 0
RPUSH {p}1 a b
RPOPLPUSH {p}1 {p}2
LMOVE {p}1 {p}2 LEFT RIGHT
LMOVE {p}2 {p}2 LEFT LEFT
LMPOP 2 {p}1 {p}2 RIGHT COUNT 1
LMPOP 1 {p}2 LEFT COUNT 5
SADD {p}3 a b c
SREM {p}3 a
SADD {p}s1 z
SPOP {p}s1
SMOVE {p}3 {p}4 c
SMOVE {p}3 {p}4 b
SADD {p}3 a b
SADD {p}4 b x
SINTERSTORE {p}5 {p}3 {p}4
SUNIONSTORE {p}5 {p}3 {p}4
SDIFFSTORE {p}5 {p}3 {p}3
ZADD {p}6 1 a 2 b 3 c
ZADD {p}6 INCR 5 a
ZINCRBY {p}6 1 b
ZREM {p}6 a
ZPOPMIN {p}6
ZPOPMAX {p}6
ZADD {p}6 1 a 2 b 3 c 4 d
ZREMRANGEBYSCORE {p}6 0 1
ZREMRANGEBYRANK {p}6 0 0
ZADD {p}7 0 a 0 b
ZREMRANGEBYLEX {p}7 [a [a
ZUNIONSTORE {p}8 2 {p}6 {p}7
ZINTERSTORE {p}8 2 {p}6 {p}7
ZDIFFSTORE {p}8 2 {p}6 {p}7
ZRANGESTORE {p}9 {p}6 0 -1
ZMPOP 2 {p}0 {p}6 MIN
GEOADD {p}0 13.361389 38.115556 Palermo
GEOSEARCHSTORE {p}9 {p}0 FROMLONLAT 15 37 BYRADIUS 200 km
SETBIT {p}b1 7 1
BITFIELD {p}b1 SET u8 0 255
BITOP AND {p}b2 {p}b1 {p}b1
PFADD {p}hl a b
PFMERGE {p}hl2 {p}hl
XADD {p}x * f v
XADD {p}x MAXLEN 1 * f v
XTRIM {p}x MAXLEN 0
XGROUP CREATE {p}x g $
XGROUP CREATECONSUMER {p}x g c
XGROUP DELCONSUMER {p}x g c
XGROUP SETID {p}x g 0
XGROUP DESTROY {p}x g
XSETID {p}x 5-5
SET {p}r v
RENAME {p}r {p}r2
COPY {p}r2 {p}r3
RENAMENX {p}r3 {p}r4
GETDEL {p}r4
SET {p}g 1
GETEX {p}g EX 100
GETEX {p}g PERSIST
SETEX {p}g 10 x
SETNX {p}n x
SETRANGE {p}n 3 abc
MSETNX {p}m1 a {p}m2 b
GETSET {p}m1 z
SET {p}g v PXAT 1
SET {p}g v
GETEX {p}g PXAT 1
"""


def test_event_table_matches_peer(peer: RedisStack, p: str) -> None:
    s = Session(peer.port, 2)
    sub, cmd = s.clients
    prefix = p.encode()

    def exists(keys: list[bytes]) -> set[bytes]:
        found = set()
        for key in keys:
            cmd.send(encode(["EXISTS", key]))
            if cmd.read_reply() == b":1\r\n":
                found.add(key)
        return found

    try:
        cmd.send(encode(["CONFIG", "SET", "notify-keyspace-events", "EAn"]))
        assert cmd.read_reply() == b"+OK\r\n"
        sentinel = f"{p}sentinel"
        sub.send(encode(["PSUBSCRIBE", "__keyevent@0__:*"]) + encode(["SUBSCRIBE", sentinel]))
        sub.read_reply(), sub.read_reply()
        for line in TABLE_SCRIPT.strip().splitlines():
            args = [a.encode() for a in line.format(p=p).split()]
            keys = [a for a in args[1:] if a.startswith(prefix)]
            before = exists(keys)
            cmd.send(encode(args))
            reply = cmd.read_reply()
            after = exists(keys)
            cmd.send(encode(["PUBLISH", sentinel, "."]))
            cmd.read_reply()
            got: list[tuple[bytes, bytes]] = []
            while True:
                parts = _bulks(sub.read_reply())
                if parts[0] == b"message":
                    break
                got.append((parts[2].removeprefix(b"__keyevent@0__:"), parts[3]))
            assert not reply.startswith(b"-"), (line, reply)
            predicted = [
                (name, key)
                for _, name, key in events_of(
                    CommandEffects(args, [args], frozenset(before)), after.__contains__
                )
            ]
            assert predicted == got, f"{line}: table {predicted} != peer {got}"
    finally:
        cmd.send(encode(["CONFIG", "SET", "notify-keyspace-events", ""]))
        cmd.read_reply()
        s.close()


def test_sweeper_events_cross_threads_in_order(server: ServerThread, p: str) -> None:
    """Many keys expiring together: each ``expired`` arrives once (published on the loop
    from the sweeper's thread)."""
    s = Session(server.port, 2)
    sub, cmd = s.clients
    try:
        cmd.send(encode(["CONFIG", "SET", "notify-keyspace-events", "Ex"]))
        cmd.read_reply()
        sub.send(encode(["SUBSCRIBE", "__keyevent@0__:expired"]))
        sub.read_reply()
        n = 50
        cmd.send(b"".join(encode(["SET", f"{p}{i}", "v", "PX", "5"]) for i in range(n)))
        for _ in range(n):
            cmd.read_reply()
        began = time.monotonic()
        keys = sorted(_bulks(sub.read_reply())[2] for _ in range(n))
        assert keys == sorted(f"{p}{i}".encode() for i in range(n))
        assert time.monotonic() - began < 10
    finally:
        cmd.send(encode(["CONFIG", "SET", "notify-keyspace-events", ""]))
        cmd.read_reply()
        s.close()


@pytest.mark.parametrize(
    ("args", "logged", "before", "after", "expected"),
    [
        # a blocking pop logs its non-blocking rewrite: the event names the key it popped
        ("BLPOP a b 0", ["LPOP b"], {"b"}, set(), [("lpop", "b"), ("del", "b")]),
        ("BRPOP a b 0", ["RPOP a"], {"a", "b"}, {"a", "b"}, [("rpop", "a")]),
        ("BZPOPMIN z 0", ["ZPOPMIN z"], {"z"}, {"z"}, [("zpopmin", "z")]),
        (
            "BLMOVE s d LEFT RIGHT 0",
            ["LMOVE s d LEFT RIGHT"],
            {"s"},
            {"s", "d"},
            [("new", "d"), ("rpush", "d"), ("lpop", "s")],
        ),
        ("BLMPOP 0 2 a b LEFT", ["LPOP b 1"], {"b"}, {"b"}, [("lpop", "b")]),
        ("ZMPOP 2 a b MAX", ["ZPOPMAX b 1"], {"a", "b"}, {"a", "b"}, [("zpopmax", "b")]),
        # an expiry (args None): expired, or hexpired (+ del when the hash emptied)
        (None, ["DEL k"], set(), set(), [("expired", "k")]),
        (None, ["HDEL h f"], set(), set(), [("hexpired", "h"), ("del", "h")]),
        # EXPIRE in the past deletes the key: expired, no inferred del
        ("EXPIRE k -1", ["DEL k"], {"k"}, set(), [("expired", "k")]),
        ("SET k v PXAT 1", ["DEL k"], {"k"}, set(), [("expired", "k")]),
        ("SET k v PXAT 1", ["DEL k"], set(), set(), []),
        ("JSON.SET j $ 1", ["JSON.SET j $ 1"], set(), {"j"}, [("new", "j"), ("json.set", "j")]),
        ("JSON.FORGET j $", ["JSON.DEL j $"], {"j"}, set(), [("json.del", "j"), ("del", "j")]),
        ("UNKNOWNCMD k", ["UNKNOWNCMD k"], {"k"}, set(), [("del", "k")]),
    ],
)
def test_events_of_rewrites(
    args: str | None, logged: list[str], before: set[str], after: set[str], expected: list
) -> None:
    effects = CommandEffects(
        [a.encode() for a in args.split()] if args else None,
        [[a.encode() for a in line.split()] for line in logged],
        frozenset(k.encode() for k in before),
    )
    now = {k.encode() for k in after}
    got = [(name.decode(), key.decode()) for _, name, key in events_of(effects, now.__contains__)]
    assert got == expected


def test_evicted_events(server: ServerThread, p: str) -> None:
    """Keys the maxmemory policy deletes publish ``evicted`` (class ``e``), each for a key
    that is gone (any key of the shared server: allkeys-lru picks among all)."""
    s = Session(server.port, 2)
    sub, cmd = s.clients
    try:
        cmd.send(encode(["INFO", "memory"]))
        used = int(re.search(rb"used_memory:(\d+)", cmd.read_reply()).group(1))  # type: ignore[union-attr]
        for setting in (
            ["notify-keyspace-events", "Ee$"],
            ["maxmemory-policy", "allkeys-lru"],
            ["maxmemory", str(used + 300_000)],
        ):
            cmd.send(encode(["CONFIG", "SET", *setting]))
            assert cmd.read_reply() == b"+OK\r\n"
        sub.send(encode(["SUBSCRIBE", "__keyevent@0__:evicted"]))
        sub.read_reply()
        value = "x" * 2000
        for i in range(400):  # ~800 KB of writes into ~300 KB of room, as one burst
            cmd.send(encode(["SET", f"{p}k{i}", value]))
            cmd.read_reply()
        frames = _wait_frames(sub, 3)
        for frame in frames:
            assert frame[:2] == [b"message", b"__keyevent@0__:evicted"]
            cmd.send(encode(["EXISTS", frame[2]]))
            assert cmd.read_reply() == b":0\r\n"
    finally:
        for setting in (
            ["maxmemory", "0"],
            ["maxmemory-policy", "noeviction"],
            ["notify-keyspace-events", ""],
        ):
            cmd.send(encode(["CONFIG", "SET", *setting]))
            cmd.read_reply()
        s.close()
