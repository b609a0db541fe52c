"""Observability commands on a real memvec server, compared with the peer where the peer's
output is deterministic: COMMAND INFO/DOCS for every command, SLOWLOG, LATENCY, MONITOR,
MEMORY, OBJECT, INFO commandstats/errorstats, CLIENT INFO/KILL/PAUSE/UNPAUSE/NO-EVICT.

One memvec server for the module (in memory). Commands that change server-wide settings on
the shared peer (CONFIG SET slowlog-*) restore them; keys use a per-test prefix.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from store.commands.table import COMMANDS
from store.server import ServerThread
from store.server.config import ServerConfig
from tests.harness.components import RedisStack
from tests.server.test_differential import Pair, call, connected_pair

MONITOR_LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[0 127\.0\.0\.1:\d+\] (.*)$")


@pytest.fixture
def pair(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[Pair]:
    with connected_pair(memvec.port, redis_stack, protocol=2) as pair:
        yield pair


def attempt(r: redis.Redis, *args: object) -> object:
    """``call`` that also turns redis-py's AuthenticationError into its text."""
    try:
        return call(r, *args)
    except redis.RedisError as exc:
        return ("ERR", str(exc))


class Monitor:
    """A raw socket in MONITOR mode: lines with the timestamp and client port cut off."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.sock.sendall(b"MONITOR\r\n")
        assert self.line() == b"+OK"

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("monitor closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def commands(self, n: int) -> list[bytes]:
        out = []
        for _ in range(n):
            m = MONITOR_LINE.match(self.line())
            assert m is not None
            out.append(m.group(3))
        return out

    def close(self) -> None:
        self.sock.close()


# -- COMMAND INFO / DOCS ---------------------------------------------------------------------


def test_command_info_and_docs_for_every_command(pair: Pair) -> None:
    r = pair.memvec
    names = sorted(COMMANDS)
    infos = call(r, "COMMAND", "INFO", *names)
    docs = call(r, "COMMAND", "DOCS", *names)
    assert len(infos) == len(names)
    for name, info in zip(names, infos, strict=True):
        assert info is not None, name
        shown = name if name.startswith("FT.") else name.lower()
        assert info[0] == shown.encode()
        assert info[1] == COMMANDS[name].arity
        assert shown.encode() in docs, name
    assert call(r, "COMMAND", "COUNT") == len(names) == len(call(r, "COMMAND", "LIST"))
    # unknown commands: nil in INFO, absent from DOCS, as the peer answers
    mine, theirs = pair.both("COMMAND", "INFO", "get", "nosuchcommand")
    assert mine[1:] == theirs[1:] == [None] and mine[0][0] == theirs[0][0] == b"get"
    assert pair.same("COMMAND", "INFO", "nosuchcommand") == [None]
    assert pair.same("COMMAND", "DOCS", "nosuchcommand") == []
    for name in ("monitor", "slowlog", "latency", "memory", "object", "client"):
        assert call(pair.memvec, "COMMAND", "INFO", name)[0] is not None


def test_command_info_matches_the_peer(pair: Pair) -> None:
    """Arity, key positions and the @fast/@slow category of every command both servers have
    (FT.* excluded: the peer's search module reports its own shapes)."""
    names = sorted(n for n in COMMANDS if not n.startswith("FT."))
    mine, theirs = pair.both("COMMAND", "INFO", *names)
    differ = []
    for name, a, b in zip(names, mine, theirs, strict=True):
        if b is None:
            continue
        speed = {c for c in b[6] if c in (b"@fast", b"@slow")}
        module = name.startswith("JSON.")  # the peer's RedisJSON declares no categories
        if (
            a[1] != b[1]
            or a[3:6] != b[3:6]
            or (not module and speed != {c for c in a[6] if c in speed | {b"@fast", b"@slow"}})
        ):
            differ.append((name, a[1], a[3:7], b[1], b[3:7]))
    # PSYNC: memvec's arity is -2 (Redis -3). WATCH: declared in store/commands/server.py
    # without key positions (Redis: 1 -1 1), so COMMAND GETKEYS and ACL key rules skip it.
    # JSON.MGET: memvec declares every key (1 -2 1); RedisJSON only the first (1 1 1), so
    # the peer's ACL key patterns check only the first key (docs/compatibility.md).
    assert [d[0] for d in differ] == ["JSON.MGET", "PSYNC", "WATCH"], differ


# -- SLOWLOG ---------------------------------------------------------------------------------


def test_slowlog_entries_and_errors(pair: Pair, p: str) -> None:
    for r in (pair.memvec, pair.peer):
        r.config_set("slowlog-log-slower-than", 0)
    try:
        pair.same("SLOWLOG", "RESET")
        long_value = "x" * 200
        many = [f"{p}:{i}" for i in range(40)]
        pair.same("SET", f"{p}:a", long_value)
        pair.same("EXISTS", *many)
        assert attempt(pair.memvec, "AUTH", "someone", "pw") == attempt(
            pair.peer, "AUTH", "someone", "pw"
        )
        pair.same("CLIENT", "SETNAME", "obs-test")
        pair.same("GET", f"{p}:a")
        # (a failed AUTH makes redis-py reconnect: its CLIENT SETINFO calls are logged too)
        mine, theirs = (call(r, "SLOWLOG", "GET", -1) for r in (pair.memvec, pair.peer))
        assert [e[3] for e in mine] == [e[3] for e in theirs]
        assert [e[5] for e in mine] == [e[5] for e in theirs]
        by_name = {e[3][0]: e for e in mine}
        assert mine[0][3] == [b"GET", f"{p}:a".encode()] and mine[0][5] == b"obs-test"
        assert by_name[b"AUTH"][3] == [b"AUTH", b"(redacted)", b"(redacted)"]
        exists = by_name[b"EXISTS"][3]
        assert exists[-1] == b"... (10 more arguments)" and len(exists) == 32
        assert by_name[b"SET"][3][2] == b"x" * 128 + b"... (72 more bytes)"
        for entry in mine:
            assert isinstance(entry[0], int) and abs(entry[1] - time.time()) < 60
            assert isinstance(entry[2], int) and entry[4].startswith(b"127.0.0.1:")
        assert mine[0][0] > mine[1][0]
        assert call(pair.memvec, "SLOWLOG", "LEN") >= 5
        for args in (
            ("SLOWLOG", "GET", "-2"),
            ("SLOWLOG", "GET", "x"),
            ("SLOWLOG", "GET", "1", "2"),
            ("SLOWLOG", "FOO"),
            ("SLOWLOG", "LEN", "x"),
            ("CONFIG", "SET", "slowlog-log-slower-than", "-2"),
            ("CONFIG", "SET", "slowlog-max-len", "x"),
        ):
            pair.same(*args)
        pair.same("CONFIG", "SET", "slowlog-max-len", "2")
        pair.same("PING")
        assert len(call(pair.memvec, "SLOWLOG", "GET", "-1")) == 2
    finally:
        for r in (pair.memvec, pair.peer):
            r.config_set("slowlog-log-slower-than", 10000)
            r.config_set("slowlog-max-len", 128)
            r.client_setname("x")
    assert pair.same("CONFIG", "GET", "slowlog*") == [
        b"slowlog-log-slower-than",
        b"10000",
        b"slowlog-max-len",
        b"128",
    ]


# -- LATENCY ---------------------------------------------------------------------------------


def test_latency_monitor(pair: Pair, p: str) -> None:
    r = pair.memvec
    pair.same("LATENCY", "RESET")
    pair.same("LATENCY", "HISTORY", "command")
    pair.same("LATENCY", "LATEST")
    pair.same("LATENCY", "GRAPH", "command")
    pair.same("LATENCY", "FOO")
    pair.same("LATENCY", "HISTORY")
    assert b"latency-monitor-threshold" in r.execute_command("LATENCY", "DOCTOR")
    r.mset({f"{p}:{i}": "v" for i in range(3000)})
    r.config_set("latency-monitor-threshold", 1)
    try:
        for _ in range(50):  # KEYS over 3000 keys takes over 1 ms in Python
            r.keys(f"{p}:*")
            if call(r, "LATENCY", "LATEST"):
                break
        latest = call(r, "LATENCY", "LATEST")
        event = next(e for e in latest if e[0] == b"command")
        assert abs(event[1] - time.time()) < 60 and 1 <= event[2] <= event[3]
        history = call(r, "LATENCY", "HISTORY", "command")
        assert history and all(ms >= 1 for _, ms in history)
        assert b"command" in r.execute_command("LATENCY", "DOCTOR")
        hist = call(r, "LATENCY", "HISTOGRAM", "keys")
        assert hist[0] == b"keys" and hist[1][1] >= 1
        assert call(r, "LATENCY", "RESET", "command", "nosuch") == 1
        assert call(r, "LATENCY", "HISTORY", "command") == []
    finally:
        r.config_set("latency-monitor-threshold", 0)


# -- MONITOR ---------------------------------------------------------------------------------


def _monitored(port: int, pair_client: redis.Redis, commands: list[tuple[str, ...]]) -> list[bytes]:
    mon = Monitor(port)
    try:
        for args in commands:
            attempt(pair_client, *args)
        call(pair_client, "ECHO", "end")
        lines: list[bytes] = []
        while not lines or lines[-1] != b'"ECHO" "end"':
            lines += mon.commands(1)
        return lines
    finally:
        mon.close()


def test_monitor_format_and_redaction(
    pair: Pair, memvec: ServerThread, redis_stack: RedisStack, p: str
) -> None:
    commands = [
        ("SET", f"{p}:k", 'v "quoted"\n\x01é'),
        ("HSET", f"{p}:h", "f", "1"),
        ("GET", f"{p}:nosuch", "extra"),  # arity error: refused, not shown
        ("NOSUCHCOMMAND",),  # unknown: not shown
        ("AUTH", "nobody", "hunter2"),  # fails, shown redacted
        ("HELLO", "2", "AUTH", "nobody", "hunter2"),
        ("CONFIG", "GET", "maxclients"),  # admin: not shown
        ("INCR", f"{p}:h"),  # WRONGTYPE: ran, shown
        ("MULTI",),
        ("SET", f"{p}:m", "1"),
        ("HGET", f"{p}:m", "f"),
        ("EXEC",),  # queued commands are shown at EXEC, before it
    ]
    mine = _monitored(memvec.port, pair.memvec, commands)
    theirs = _monitored(redis_stack.port, pair.peer, commands)

    # the peer also shows the CLIENT SETINFO redis-py sends at connect: compare from SET on
    def tail(lines: list[bytes]) -> list[bytes]:
        return lines[next(i for i, x in enumerate(lines) if x.startswith(b'"SET"')) :]

    assert tail(mine) == tail(theirs)
    assert b'"AUTH" "(redacted)" "(redacted)"' in mine
    assert not any(b"hunter2" in line for line in mine)


def test_monitor_permission_reset_and_slow_reader(memvec: ServerThread, p: str) -> None:
    r = redis.Redis(host="127.0.0.1", port=memvec.port, socket_timeout=20)
    r.acl_setuser(
        f"{p}u", enabled=True, passwords=[f"+{p}pw"], commands=["+@all", "-@admin"], keys=["*"]
    )
    try:
        limited = redis.Redis(
            host="127.0.0.1", port=memvec.port, username=f"{p}u", password=f"{p}pw"
        )
        with pytest.raises(redis.exceptions.NoPermissionError, match="'monitor' command"):
            limited.execute_command("MONITOR")
        r.acl_setuser(f"{p}u", commands=["+slowlog", "-slowlog|reset"])
        assert limited.execute_command("SLOWLOG", "LEN") >= 0
        with pytest.raises(redis.exceptions.NoPermissionError, match=r"'slowlog\|reset' command"):
            limited.execute_command("SLOWLOG", "RESET")
        limited.close()
        mon = Monitor(memvec.port)
        assert b"flags=O" in r.execute_command("CLIENT", "LIST").replace(b"\n", b" ")
        mon.sock.sendall(b"RESET\r\n")
        while (line := mon.line()) != b"+RESET":
            assert MONITOR_LINE.match(line)
        r.set(f"{p}:after", "1")
        mon.sock.sendall(b"PING\r\n")
        assert mon.line() == b"+PONG"  # nothing was streamed in between
        mon.close()
        # a monitor that never reads is cut at the normal class's output limit
        r.config_set("client-output-buffer-limit", "normal 262144 0 0")
        stuck = socket.create_connection(("127.0.0.1", memvec.port))
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(b"CLIENT SETNAME stuckmon\r\nMONITOR\r\n")
        time.sleep(0.2)
        big = "y" * 50_000
        deadline = time.monotonic() + 15
        while (
            b"name=stuckmon" in r.execute_command("CLIENT", "LIST") and time.monotonic() < deadline
        ):
            r.set(f"{p}:big", big)
        assert b"name=stuckmon" not in r.execute_command("CLIENT", "LIST")
        assert r.ping()
        stuck.close()
    finally:
        r.config_set("client-output-buffer-limit", "normal 0 0 0")
        r.acl_deluser(f"{p}u")
        r.close()


# -- MEMORY / OBJECT -------------------------------------------------------------------------


def test_object_encoding_like_the_peer(pair: Pair, p: str) -> None:
    values = {
        "int": "123",
        "neg": "-5",
        "zeros": "007",
        "emb": "x" * 44,
        "raw": "x" * 200,
        "big": "99999999999999999999",
    }
    for name, value in values.items():
        pair.same("SET", f"{p}:{name}", value)
        pair.same("OBJECT", "ENCODING", f"{p}:{name}")
    pair.same("HSET", f"{p}:small", "f", "v")
    pair.same("HSET", f"{p}:wide", "f", "v" * 65)
    pair.same("HSET", f"{p}:many", *[x for i in range(513) for x in (f"f{i}", "v")])
    # Redis 7.4's hash-max-listpack-entries is 128 (the valkey peer's is 512)
    pair.memvec.hset(f"{p}:129", mapping={f"f{i}": "v" for i in range(129)})
    assert call(pair.memvec, "OBJECT", "ENCODING", f"{p}:129") == b"hashtable"
    for key in ("small", "wide", "many", "nosuch"):
        pair.same("OBJECT", "ENCODING", f"{p}:{key}")
    pair.same("OBJECT", "FREQ", f"{p}:int")
    pair.same("OBJECT", "FREQ", f"{p}:nosuch")
    pair.same("OBJECT", "REFCOUNT", f"{p}:emb")
    pair.same("OBJECT", "IDLETIME", f"{p}:nosuch")
    pair.same("OBJECT", "FOO", f"{p}:int")
    pair.same("OBJECT", "ENCODING")
    assert call(pair.memvec, "OBJECT", "IDLETIME", f"{p}:int") == 0


def test_object_idletime(pair: Pair, p: str) -> None:
    key = f"{p}:idle"
    pair.same("SET", key, "v")
    time.sleep(1.5)
    no_touch = [redis.Redis(connection_pool=redis.ConnectionPool(
        host=r.connection_pool.connection_kwargs["host"],
        port=r.connection_pool.connection_kwargs["port"], max_connections=1))
        for r in (pair.memvec, pair.peer)]  # fmt: skip
    try:
        for r in no_touch:
            assert r.execute_command("CLIENT", "NO-TOUCH", "on")
            assert r.get(key) == b"v"  # a NO-TOUCH client does not reset it
        for _ in range(2):  # OBJECT, MEMORY USAGE and TYPE do not reset it either
            mine, theirs = pair.both("OBJECT", "IDLETIME", key)
            assert mine >= 1 and theirs >= 1
            pair.same("TYPE", key)
            pair.both("MEMORY", "USAGE", key)
        pair.same("GET", key)
        assert pair.same("OBJECT", "IDLETIME", key) == 0
    finally:
        for r in no_touch:
            r.close()


def test_memory_usage_stats_doctor(pair: Pair, p: str) -> None:
    pair.same("SET", f"{p}:s", "v" * 100)
    pair.same("HSET", f"{p}:h", *[x for i in range(50) for x in (f"field{i}", "value")])
    pair.same("MEMORY", "USAGE", f"{p}:nosuch")
    for args in (("SAMPLES", "x"), ("FOO",), ("SAMPLES",)):
        pair.same("MEMORY", "USAGE", f"{p}:s", *args)
    pair.same("MEMORY", "FOO")
    r = pair.memvec
    small = r.memory_usage(f"{p}:s")
    assert small == len(f"{p}:s") + 64 + 100 + 33
    full = r.memory_usage(f"{p}:h", samples=0)
    assert full == len(f"{p}:h") + 64 + 232 + sum(len(f"field{i}") + 5 + 100 for i in range(50))
    assert abs(r.memory_usage(f"{p}:h") - full) < full // 10  # sampled: close to the walk
    stats = call(r, "MEMORY", "STATS")
    peer_stats = call(pair.peer, "MEMORY", "STATS")
    mine_keys = set(stats[::2])
    assert mine_keys <= set(peer_stats[::2])
    stats_map = dict(zip(stats[::2], stats[1::2], strict=True))
    assert stats_map[b"keys.count"] >= 2
    assert r.execute_command("MEMORY", "DOCTOR").startswith(b"Hi Sam")
    assert r.execute_command("MEMORY", "MALLOC-STATS")


# -- INFO commandstats / errorstats ----------------------------------------------------------


def test_commandstats_and_errorstats(memvec: ServerThread, redis_stack: RedisStack, p: str) -> None:
    r = redis.Redis(host="127.0.0.1", port=memvec.port, socket_timeout=20)
    try:
        assert r.config_resetstat()
        r.set(f"{p}:s", "1")
        r.hset(f"{p}:h", "f", "v")
        for args in (("GET",), ("INCR", f"{p}:h"), ("NOSUCH",), ("HGET", f"{p}:s", "f")):
            with pytest.raises(redis.ResponseError):
                r.execute_command(*args)
        stats = r.info("commandstats")
        assert stats["cmdstat_set"]["calls"] == 1
        assert stats["cmdstat_get"] == {
            "calls": 0,
            "usec": 0,
            "usec_per_call": 0.0,
            "rejected_calls": 1,
            "failed_calls": 0,
        }
        assert stats["cmdstat_incr"]["failed_calls"] == 1
        assert stats["cmdstat_hget"]["failed_calls"] == 1
        errors = r.info("errorstats")
        assert errors["errorstat_ERR"] == {"count": 2}
        assert errors["errorstat_WRONGTYPE"] == {"count": 2}
        assert r.info("stats")["total_error_replies"] == 4
        assert "cmdstat_set" in r.info("all") and "cmdstat_set" not in r.info()
        assert r.info("memory")["total_system_memory"] > 0
        # Redis 7.4's INFO clients fields (valkey adds paused_reason/actions/timeout)
        peer_clients = list(redis_stack.client(protocol=2).info("clients"))
        assert list(r.info("clients")) == [f for f in peer_clients if not f.startswith("paused_")]
        assert "latency_percentiles_usec_set" in r.info("latencystats")
        # the same line formats as the peer
        peer = redis_stack.client(protocol=2)
        text = call(r, "INFO", "commandstats").decode()
        theirs = call(peer, "INFO", "commandstats").decode()
        shape = re.compile(
            r"cmdstat_\S+:calls=\d+,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=\d+,failed_calls=\d+"
        )
        for out in (text, theirs):
            lines = out.strip().splitlines()
            assert lines[0] == "# Commandstats"
            assert all(shape.fullmatch(line) for line in lines[1:]), out
        peer.close()
        r.config_resetstat()
        assert "cmdstat_set" not in r.info("commandstats")
    finally:
        r.close()


def _counts(r: redis.Redis) -> dict[str, tuple[int, int, int]]:
    out = {}
    for line in call(r, "INFO", "commandstats").decode().splitlines()[1:]:
        name, values = line.split(":", 1)
        fields = dict(kv.split("=") for kv in values.split(","))
        out[name] = (
            int(fields["calls"]),
            int(fields["rejected_calls"]),
            int(fields["failed_calls"]),
        )
    return out


def test_commandstats_counts_like_the_peer(pair: Pair, p: str) -> None:
    script = [
        ("SET", f"{p}:s", "1"),
        ("GET", f"{p}:s", "x"),  # arity: rejected
        ("HGET", f"{p}:s", "f"),  # WRONGTYPE: failed
        ("CONFIG", "GET", "maxclients"),
        ("CLIENT", "ID"),
        ("CLIENT", "NOSUCH"),  # unknown subcommand: errorstats only
        ("CLIENT", "KILL"),  # subcommand arity: rejected
        ("CLIENT", "KILL", "ID", "0"),  # ran, failed
        ("OBJECT", "ENCODING", f"{p}:s"),
        ("MULTI",),
        ("INCR", f"{p}:s"),
        ("EXEC",),
        ("FT._LIST",),
    ]
    for r in (pair.memvec, pair.peer):
        assert call(r, "CONFIG", "RESETSTAT") == b"OK"
        for args in script:
            call(r, *args)
    mine, theirs = _counts(pair.memvec), _counts(pair.peer)
    for name in ("set", "get", "hget", "config|get", "client|id", "client|kill", "object|encoding",
                 "multi", "incr", "exec", "FT._LIST"):  # fmt: skip
        assert mine[f"cmdstat_{name}"] == theirs[f"cmdstat_{name}"], name
    assert "cmdstat_client|nosuch" not in mine and "cmdstat_client|nosuch" not in theirs
    mine_err, theirs_err = (call(r, "INFO", "errorstats") for r in (pair.memvec, pair.peer))
    assert mine_err == theirs_err
    # a module command's failure (the peer answers `-Unknown index name`, no ERR prefix)
    pair.both("FT.INFO", f"{p}nosuchindex")
    assert _counts(pair.memvec)["cmdstat_FT.INFO"] == _counts(pair.peer)["cmdstat_FT.INFO"]


# -- CLIENT ----------------------------------------------------------------------------------


def test_client_info_and_errors(pair: Pair) -> None:
    mine, theirs = (call(r, "CLIENT", "INFO").decode() for r in (pair.memvec, pair.peer))
    fields = [kv.split("=")[0] for kv in mine.split()]
    # Redis 7.4's fields, in order; the peer (valkey) adds capa, tot-net-in/out, tot-cmds
    assert fields == [
        f
        for f in (kv.split("=")[0] for kv in theirs.split())
        if f not in ("capa", "tot-net-in", "tot-net-out", "tot-cmds")
    ]
    assert "cmd=client|info" in mine and "flags=N" in mine
    for args in (
        ("CLIENT", "PAUSE", "x"),
        ("CLIENT", "PAUSE", "-1"),
        ("CLIENT", "PAUSE", "10", "FOO"),
        ("CLIENT", "PAUSE"),
        ("CLIENT", "KILL", "ID", "x"),
        ("CLIENT", "KILL", "ID", "0"),
        ("CLIENT", "KILL", "MAXAGE", "x"),
        ("CLIENT", "KILL", "USER", "nosuchuser"),
        ("CLIENT", "KILL", "ID", "999999"),
        ("CLIENT", "KILL", "FOO", "bar"),
        ("CLIENT", "NO-EVICT", "maybe"),
        ("CLIENT", "NO-TOUCH", "maybe"),
        ("CLIENT", "UNPAUSE", "x"),
    ):
        pair.same(*args)
    pair.same("CLIENT", "NO-EVICT", "on")
    pair.same("CLIENT", "NO-TOUCH", "on")
    flags = [
        next(kv for kv in call(r, "CLIENT", "INFO").decode().split() if kv.startswith("flags="))
        for r in (pair.memvec, pair.peer)
    ]
    assert flags == ["flags=eT", "flags=eT"]
    pair.same("CLIENT", "NO-EVICT", "off")
    pair.same("CLIENT", "NO-TOUCH", "off")


def test_client_kill_filters(memvec: ServerThread) -> None:
    me = redis.Redis(host="127.0.0.1", port=memvec.port, socket_timeout=20)
    others = [socket.create_connection(("127.0.0.1", memvec.port)) for _ in range(3)]
    try:
        for i, s in enumerate(others):
            s.sendall(b"CLIENT SETNAME k%d\r\n" % i)
            assert s.recv(100) == b"+OK\r\n"
        listing = me.client_list()
        by_name = {c["name"]: c for c in listing}
        assert me.execute_command("CLIENT", "KILL", "ID", by_name["k0"]["id"]) == 1
        assert (
            me.execute_command("CLIENT", "KILL", "ADDR", by_name["k1"]["addr"], "SKIPME", "yes")
            == 1
        )
        assert (
            me.execute_command("CLIENT", "KILL", "LADDR", by_name["k2"]["laddr"], "MAXAGE", 3600)
            == 0
        )
        assert me.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 0
        assert (
            me.execute_command("CLIENT", "KILL", "USER", "default", "ID", by_name["k2"]["id"]) == 1
        )
        assert not {c["name"] for c in me.client_list()} & {"k0", "k1", "k2"}
    finally:
        for s in others:
            s.close()
        me.close()


def test_client_list_and_kill_by_type(
    memvec: ServerThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    me = redis.Redis(host="127.0.0.1", port=memvec.port, socket_timeout=20)
    replica = ServerThread(
        ServerConfig(
            port=0,
            data_dir=tmp_path_factory.mktemp("replica"),
            replicaof=f"127.0.0.1:{memvec.port}",
        )
    ).start()
    try:
        deadline = time.monotonic() + 10
        while (
            not me.execute_command("CLIENT", "LIST", "TYPE", "replica")
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert me.execute_command("CLIENT", "LIST", "TYPE", "slave").count(b"\n") == 1
        assert b"id=" in me.execute_command("CLIENT", "LIST", "TYPE", "normal")
        assert me.execute_command("CLIENT", "LIST", "TYPE", "pubsub") == b""
        assert me.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
        assert me.execute_command("CLIENT", "KILL", "TYPE", "master") == 0
    finally:
        replica.stop()
        me.close()


def test_client_pause_write_and_all(memvec: ServerThread, p: str) -> None:
    a = redis.Redis(host="127.0.0.1", port=memvec.port, socket_timeout=20)
    b = redis.Redis(host="127.0.0.1", port=memvec.port, socket_timeout=20)
    try:
        assert a.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        assert b.get(f"{p}:k") is None  # reads go on
        done: list[float] = []
        writer = threading.Thread(
            target=lambda: (b.set(f"{p}:k", "1"), done.append(time.monotonic()))
        )
        writer.start()
        time.sleep(0.3)
        assert not done  # the write waits
        released = time.monotonic()
        assert a.execute_command("CLIENT", "UNPAUSE")
        writer.join(5)
        assert done and done[0] >= released and a.get(f"{p}:k") == b"1"
        # a client killed while it waits goes at once; its write never runs
        assert a.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
        victim = socket.create_connection(("127.0.0.1", memvec.port), timeout=10)
        victim.sendall(b"CLIENT ID\r\n")
        victim_id = int(victim.recv(100)[1:-2])
        victim.sendall(f"SET {p}:never 1\r\n".encode())
        time.sleep(0.2)
        assert a.execute_command("CLIENT", "KILL", "ID", victim_id) == 1
        assert victim.recv(100) == b""  # closed without an answer: the SET never ran
        assert a.execute_command("CLIENT", "UNPAUSE")
        assert a.get(f"{p}:never") is None
        victim.close()
        began = time.monotonic()
        assert a.execute_command("CLIENT", "PAUSE", 300, "ALL")
        assert b.ping()  # waits for the pause to end
        assert time.monotonic() - began >= 0.25
    finally:
        a.execute_command("CLIENT", "UNPAUSE")
        a.close()
        b.close()
