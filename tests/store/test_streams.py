"""Streams in the engine: the blocking-handler contract (WouldBlock), deterministic log
rewrites (XADD ``*``, ``~`` trims, XREADGROUP/XCLAIM/XAUTOCLAIM delivery times), replay
after a restart, a snapshot round trip, a replica fed the primary's records, MULTI/EXEC.
Differential checks against the peer are in
tests/server/test_stream_differential.py."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from store import Engine, EngineConfig, LogPosition, StoreError
from store.commands.blocking import WouldBlock
from store.commands.context import ExecContext
from store.commands.streams import xadd, xdel, xtrim
from store.commands.streams_groups import xgroup
from store.commands.streams_read import xread, xreadgroup
from store.datatypes.streams import NODE_MAX_ENTRIES, Stream
from store.index.manager import IndexManager
from store.keyspace import Keyspace
from store.replies import NULL_ARRAY


class _NoSnapshots:
    def save(self) -> None:
        raise AssertionError("not used")

    def bgsave(self) -> bool:
        raise AssertionError("not used")

    def reload_in_place(self, save: bool = True) -> None:
        raise AssertionError("not used")

    @property
    def last_save_ms(self) -> int:
        return 0


def context(
    ks: Keyspace, now_ms: int, *, may_block: bool = False, protocol: int = 2
) -> ExecContext:
    return ExecContext(
        ks, IndexManager(ks), threading.RLock(), _NoSnapshots(), lambda: None, now_ms,
        protocol=protocol, may_block=may_block,
    )  # fmt: skip


def b(*args: object) -> list[bytes]:
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


def test_xadd_star_uses_the_call_clock_and_logs_the_id_it_generated() -> None:
    ks = Keyspace()
    ctx = context(ks, 5000)
    assert xadd(ctx, b("XADD", "s", "*", "f", "v")) == b"5000-0"
    assert ctx.log_args == b("XADD", "s", "5000-0", "f", "v")
    ctx = context(ks, 4000)  # the clock went back: the sequence moves on instead
    assert xadd(ctx, b("XADD", "s", "NOMKSTREAM", "*", "f", "v")) == b"5000-1"
    assert ctx.log_args == b("XADD", "s", "NOMKSTREAM", "5000-1", "f", "v")
    ctx = context(ks, 6000)
    assert xadd(ctx, b("XADD", "s", "5000-*", "f", "v")) == b"5000-2"
    assert ctx.log_args == b("XADD", "s", "5000-2", "f", "v")


def test_an_approximate_trim_is_logged_as_the_exact_trim_it_amounted_to() -> None:
    ks = Keyspace()
    for i in range(1, 2 * NODE_MAX_ENTRIES + 51):
        xadd(context(ks, 0), b("XADD", "s", f"{i}-0", "f", "v"))
    ctx = context(ks, 0)
    assert xtrim(ctx, b("XTRIM", "s", "MAXLEN", "~", "120", "LIMIT", "500")) == 100
    assert ctx.log_args == b("XTRIM", "s", "MAXLEN", "=", "150")
    ctx = context(ks, 0)
    xadd(ctx, b("XADD", "s", "MINID", "~", "240", "999-0", "f", "v"))
    assert ctx.log_args == b("XADD", "s", "MINID", "=", "201-0", "999-0", "f", "v")
    s = ks.get_typed(b"s", 0, Stream)
    assert s is not None and len(s) == 51 and s.first_id == (201, 0)


def test_xread_block_returns_wouldblock_with_dollar_resolved_and_changes_nothing() -> None:
    ks = Keyspace()
    xadd(context(ks, 0), b("XADD", "s", "1-0", "f", "v"))
    ctx = context(ks, 10, may_block=True)
    blocked = xread(ctx, b("XREAD", "COUNT", "5", "BLOCK", "1500", "STREAMS", "s", "t", "$", "$"))
    assert isinstance(blocked, WouldBlock)
    assert blocked.keys == (b"s", b"t") and blocked.timeout_ms == 1500
    assert blocked.timeout_reply == NULL_ARRAY and not ctx.dirty
    rerun = blocked.resume["args"]
    assert rerun == b("XREAD", "COUNT", "5", "BLOCK", "1500", "STREAMS", "s", "t", "1-0", "0-0")
    xadd(context(ks, 0), b("XADD", "t", "2-0", "g", "w"))  # added while parked: new to the re-run
    assert xread(context(ks, 20, may_block=True), rerun) == [[b"t", [[b"2-0", [b"g", b"w"]]]]]
    # without may_block (MULTI, scripts, replay): the timeout reply at once
    assert xread(context(ks, 10), b("XREAD", "BLOCK", "0", "STREAMS", "s", "$")) == NULL_ARRAY
    # RESP3: a map from key to entries
    got = xread(context(ks, 10, protocol=3), b("XREAD", "STREAMS", "s", "t", "0", "0"))
    assert got == {b"s": [[b"1-0", [b"f", b"v"]]], b"t": [[b"2-0", [b"g", b"w"]]]}


def test_xreadgroup_block_parks_without_touching_the_group_then_delivers() -> None:
    ks = Keyspace()
    xadd(context(ks, 0), b("XADD", "s", "1-0", "f", "v"))
    xgroup(context(ks, 0), b("XGROUP", "CREATE", "s", "g", "$"))
    call = b("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    ctx = context(ks, 100, may_block=True)
    blocked = xreadgroup(ctx, call)
    assert isinstance(blocked, WouldBlock) and blocked.keys == (b"s",)
    s = ks.get_typed(b"s", 0, Stream)
    assert s is not None and not s.groups[b"g"].consumers and not ctx.dirty
    xadd(context(ks, 0), b("XADD", "s", "2-0", "f", "w"))
    ctx = context(ks, 200, may_block=True)
    assert xreadgroup(ctx, blocked.resume["args"]) == [[b"s", [[b"2-0", [b"f", b"w"]]]]]
    assert ctx.log_commands == [
        b("XGROUP", "CREATECONSUMER", "s", "g", "c"),
        b("XCLAIM", "s", "g", "c", "0", "2-0", "TIME", "200", "RETRYCOUNT", "1", "FORCE",
          "JUSTID", "LASTID", "2-0"),
        b("XGROUP", "SETID", "s", "g", "2-0", "ENTRIESREAD", "2"),
    ]  # fmt: skip
    # a consumer that finds nothing and may not block is created (as in Redis)
    ctx = context(ks, 300)
    assert xreadgroup(ctx, b("XREADGROUP", "GROUP", "g", "d", "STREAMS", "s", ">")) == NULL_ARRAY
    assert b"d" in s.groups[b"g"].consumers
    assert ctx.log_commands == [b("XGROUP", "CREATECONSUMER", "s", "g", "d")]


SCRIPT: list[tuple[Any, ...]] = [
    ("XADD", "s", "*", "a", "1"),
    ("XADD", "s", "*", "b", "2"),
    ("XADD", "s", "MAXLEN", "~", "1000", "*", "c", "3"),
    ("XGROUP", "CREATE", "s", "g", "0"),
    ("XGROUP", "CREATE", "s", "h", "$", "MKSTREAM"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "s", ">"),
    ("XADD", "s", "*", "d", "4"),
    ("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
    ("XAUTOCLAIM", "s", "g", "carol", "0", "0", "COUNT", "1"),
    ("XADD", "other", "1-1", "x", "y"),
    ("XDEL", "other", "1-1"),
    ("XSETID", "other", "5-0", "ENTRIESADDED", "9", "MAXDELETEDID", "3-0"),
]


def _run(engine: Engine) -> None:
    for cmd in SCRIPT:
        engine.execute(*cmd)
    first = engine.execute("XRANGE", "s", "-", "+")[0][0]
    engine.execute("XCLAIM", "s", "g", "dave", "0", first, "IDLE", "5000", "RETRYCOUNT", "4")
    engine.execute("XGROUP", "CREATECONSUMER", "s", "h", "erin")


def _state(engine: Engine, *, with_consumer_times: bool) -> dict[bytes, Any]:
    out = {}
    for key in (b"s", b"other"):
        s = engine.keyspace.get_typed(key, None, Stream)
        assert s is not None
        plain = s.to_plain()
        if not with_consumer_times:  # seen/active times are the replaying node's clock
            for group in plain["groups"]:
                group[4] = sorted(c[0] for c in group[4])
        out[key] = plain
    return out


def test_replay_snapshot_and_replica_rebuild_the_same_streams(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path / "p")
    with Engine(cfg) as e:
        _run(e)
        live = _state(e, with_consumer_times=False)
        nack_times = [n[3] for n in live[b"s"]["groups"][0][3]]
        assert len(set(nack_times)) > 1  # IDLE 5000 made one delivery time stand out
        records = list(e.transaction_log.read_from(LogPosition(1)))  # type: ignore[union-attr]
    time.sleep(0.01)  # replay runs at a later clock: logged times must not depend on it
    with Engine(cfg) as e:
        assert _state(e, with_consumer_times=False) == live
        e.execute("SAVE")
        exact = _state(e, with_consumer_times=True)
    with Engine(cfg) as e:
        assert _state(e, with_consumer_times=True) == exact  # snapshot: byte for byte
        assert e.execute("TYPE", "s") == "stream"
    with Engine(EngineConfig(data_dir=tmp_path / "r", read_only=True)) as replica:
        replica.replicate(records)
        replica.wait_durable(len(records))
        assert _state(replica, with_consumer_times=False) == live


def test_multi_exec_runs_stream_commands_and_blocking_ones_do_not_block(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        replies = e.transaction(
            [
                ("XADD", "s", "1-0", "f", "v"),
                ("XREAD", "BLOCK", "0", "STREAMS", "s", "$"),
                ("XGROUP", "CREATE", "s", "g", "0"),
                ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"),
                ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"),
                ("XLEN", "s"),
            ]
        )
        assert replies[0] == b"1-0" and replies[1] == NULL_ARRAY
        assert replies[3] == [[b"s", [[b"1-0", [b"f", b"v"]]]]] and replies[4] == NULL_ARRAY
        assert replies[5] == 1
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        assert e.execute("XPENDING", "s", "g")[0] == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("XADD", "s", "0-0", "f", "v"), "must be greater than 0-0"),
        (("XADD", "s", "1-1", "f"), "wrong number of arguments for 'xadd'"),
        (("XTRIM", "s", "MAXLEN", "1", "LIMIT", "5"), "without the special ~ option"),
        (("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"), "NOGROUP No such key 's'"),
    ],
)
def test_refusals_leave_no_key_behind(tmp_path: Path, args: tuple[str, ...], error: str) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        with pytest.raises(StoreError) as info:
            e.execute(*args)
        assert error in info.value.resp_line()
        assert e.execute("EXISTS", "s") == 0


def test_memory_usage_follows_entries_and_survives_a_round_trip() -> None:
    ks = Keyspace()
    xadd(context(ks, 0), b("XADD", "s", "1-0", "name", "v" * 50))
    s = ks.get_typed(b"s", 0, Stream)
    assert s is not None
    one = s.memory_usage()
    for i in range(2, 302):
        xadd(context(ks, 0), b("XADD", "s", f"{i}-0", "name", "v" * 50))
    grown = s.memory_usage()
    assert grown - one >= 300 * 200  # an entry costs CPython a few hundred bytes
    xtrim(context(ks, 0), b("XTRIM", "s", "MAXLEN", "1"))
    xdel(context(ks, 0), b("XDEL", "s", "301-0"))
    assert s.memory_usage() < one  # no entry left: less than with one
    copy = Stream.from_plain(s.to_plain())
    assert copy.memory_usage() == s.memory_usage() and copy.to_plain() == s.to_plain()


def test_random_writes_keep_the_index_and_the_node_layout_consistent() -> None:
    rng = random.Random(7)
    ks = Keyspace()
    ms = 1
    for _ in range(3000):
        roll = rng.random()
        if roll < 0.6:
            ms += rng.randint(0, 2)
            xadd(context(ks, ms), b("XADD", "s", "*", "f", "v" * rng.randint(1, 80)))
        elif roll < 0.85:
            xdel(
                context(ks, 0),
                b("XDEL", "s", *(f"{rng.randint(0, ms)}-{rng.randint(0, 3)}" for _ in range(3))),
            )
        else:
            how = rng.choice([["MAXLEN", rng.choice(["=", "~"]), str(rng.randint(0, 400))],
                              ["MINID", rng.choice(["=", "~"]), str(rng.randint(0, ms))]])  # fmt: skip
            if how[1] == "~" and rng.random() < 0.5:
                how += ["LIMIT", str(rng.randint(0, 250))]
            xtrim(context(ks, 0), b("XTRIM", "s", *how))
        s = ks.get_typed(b"s", 0, Stream)
        assert s is not None
        assert s.order.ids == sorted(s.entries)
        assert all(n.live == sum(1 for i in n.ids if i in s.entries) > 0 for n in s.nodes)
        assert sum(n.live for n in s.nodes) == len(s.entries)


def test_listpack_sizes_follow_the_encodings() -> None:
    from store.datatypes import stream_listpack as lp

    assert [lp.int_size(v) for v in (0, 127, 128, -1, 4095, -4096, 4096, 1 << 20, 1 << 40)] == [
        2, 2, 3, 3, 3, 3, 4, 5, 10,
    ]  # fmt: skip
    assert lp.str_size(b"123") == lp.int_size(123)  # canonical integers are stored as such
    assert lp.str_size(b"0123") == 1 + 4 + 1  # not canonical: a 4-byte string
    assert lp.str_size(b"x" * 63) == 1 + 63 + 1 and lp.str_size(b"x" * 64) == 2 + 64 + 1
    assert lp.str_size(b"x" * 200) == 2 + 200 + 2  # the back-length takes 2 bytes past 127
    assert lp.diff(5, 7) == -2 and lp.diff(7, 5) == 2
    # master entry: header 7 + count + deleted + nfields + "f" + terminator
    assert lp.master_size([b"f", b"v"]) == 7 + 2 + 2 + 2 + 3 + 2
    # same fields as the master: flags, ms-diff, seq-diff, value, lp-count
    assert lp.entry_size([b"f", b"v"], [b"f"], (1, 0)) == 2 + 2 + 2 + 3 + 2
    assert lp.entry_size([b"g", b"v"], [b"f"], (1, 0)) == 2 + 2 + 2 + 2 + 3 + 3 + 2


def test_an_expired_stream_is_gone_for_every_stream_command(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("XADD", "s", "5-0", "f", "v")
        e.execute("XGROUP", "CREATE", "s", "old", "0")
        e.execute("PEXPIREAT", "s", 1)  # in the past: expired at once
        assert e.execute("XLEN", "s") == 0
        assert e.execute("XRANGE", "s", "-", "+") == []
        with pytest.raises(StoreError, match="No such key 's' or consumer group 'old'"):
            e.execute("XREADGROUP", "GROUP", "old", "c", "STREAMS", "s", ">")
        with pytest.raises(StoreError, match="requires the key to exist"):
            e.execute("XGROUP", "CREATECONSUMER", "s", "old", "c")
        assert e.execute("XGROUP", "CREATE", "s", "new", "$", "MKSTREAM") == "OK"
        assert e.execute("XINFO", "GROUPS", "s") == [
            {b"name": b"new", b"consumers": 0, b"pending": 0, b"last-delivered-id": b"0-0",
             b"entries-read": None, b"lag": 0}
        ]  # fmt: skip
        assert e.execute("XADD", "s", "1-0", "f", "v") == b"1-0"  # a fresh stream
    with Engine(EngineConfig(data_dir=tmp_path)) as e:  # replay: the same fresh stream
        assert [g[b"name"] for g in e.execute("XINFO", "GROUPS", "s")] == [b"new"]
        assert e.execute("XRANGE", "s", "-", "+") == [[b"1-0", [b"f", b"v"]]]
