"""Hash-field expiry at the store level (issue #20 item 7): what is logged (absolute
deadlines, HDEL for expired fields), log replay and snapshots agreeing with the primary,
snapshots written before field deadlines still loading, and the keyspace bookkeeping."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

from store.config import EngineConfig
from store.engine import Engine
from store.wal.payload import decode_commands
from store.wal.position import LogPosition
from tests.harness.wait import wait_for


def logged(engine: Engine) -> list[list[bytes]]:
    log = engine.transaction_log
    assert log is not None
    return [
        cmd for rec in log.read_from(LogPosition.start()) for cmd in decode_commands(rec.payload)
    ]


def test_log_holds_absolute_deadlines_and_hdel(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("HSET", "h", "a", "1", "b", "2", "c", "3")
        e.execute("HEXPIRE", "h", "1000", "NX", "FIELDS", "2", "a", "zz")
        e.execute("HPEXPIRE", "h", "100", "FIELDS", "1", "b")
        e.execute("HPEXPIRE", "h", "0", "FIELDS", "1", "c")  # past: deleted at once
        wait_for(lambda: b"b" not in e.keyspace.data[b"h"], 10)  # the sweeper removes b
        deadline_a = e.execute("HPEXPIRETIME", "h", "FIELDS", "1", "a")[0]
        assert e.execute("HGETALL", "h") == {b"a": b"1"}
        cmds = logged(e)
    names = [c[0] for c in cmds]
    assert [b"HPEXPIREAT", b"h", str(deadline_a).encode(), b"FIELDS", b"1", b"a"] in cmds
    assert [b"HDEL", b"h", b"c"] in cmds and [b"HDEL", b"h", b"b"] in cmds
    assert b"HEXPIRE" not in names and b"HPEXPIRE" not in names
    # replay (the log only) and then a snapshot give the primary's state and deadlines
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        assert e.execute("HGETALL", "h") == {b"a": b"1"}
        assert e.execute("HPEXPIRETIME", "h", "FIELDS", "1", "a") == [deadline_a]
        assert e.keyspace.field_expires == {b"h": {b"a": deadline_a}}
        e.execute("SAVE")
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        assert e.stats.loaded_snapshot is not None
        assert e.execute("HPEXPIRETIME", "h", "FIELDS", "1", "a") == [deadline_a]


def test_replay_never_expires_by_its_own_clock(tmp_path: Path) -> None:
    """A replica applies the primary's HPEXPIREAT as a deadline even once it has passed:
    it hides the field from reads but deletes it only when the primary's HDEL arrives."""
    with Engine(EngineConfig(data_dir=tmp_path)) as primary:
        primary.execute("HSET", "h", "a", "1", "b", "2")
        primary.execute("HPEXPIRE", "h", "50", "FIELDS", "1", "a")
        wait_for(lambda: b"a" not in primary.keyspace.data[b"h"], 10)  # swept, HDEL logged
        log = primary.transaction_log
        assert log is not None
        records = list(log.read_from(LogPosition.start()))
    with Engine(EngineConfig(read_only=True)) as replica:
        for rec in records[:-1]:
            replica.apply(rec)
        time.sleep(0.3)  # a negative check: three sweeper ticks delete nothing on a replica
        assert replica.keyspace.data[b"h"] == {b"a": b"1", b"b": b"2"}
        assert replica.execute("HGETALL", "h") == {b"b": b"2"}
        replica.apply(records[-1])
        assert decode_commands(records[-1].payload) == [[b"HDEL", b"h", b"a"]]
        assert replica.keyspace.data[b"h"] == {b"b": b"2"}
        assert replica.keyspace.field_expires == {}


def test_snapshot_without_field_deadlines_loads(tmp_path: Path) -> None:
    """Snapshots written before hash-field expiry hold ``(data, expires)``."""

    class OldReader:
        epoch = 0

        def __init__(self, engine: Engine) -> None:
            self.sections = {
                "keyspace": pickle.dumps(({b"h": {b"a": b"1"}}, {b"h": 10**15})),
                "indexes": pickle.dumps(engine.indexes.dump_state()),
            }

        def read_bytes(self, name: str) -> bytes:
            return self.sections[name]

        def section_names(self) -> list[str]:
            return list(self.sections)

    with Engine() as e:
        e.execute("HSET", "x", "f", "v")
        e.persistence.load(OldReader(e), scratch=tmp_path)  # type: ignore[arg-type]
        assert e.execute("HGETALL", "h") == {b"a": b"1"}
        assert e.execute("EXPIRETIME", "h") == 10**12
        assert e.keyspace.field_expires == {}
        assert e.execute("SCAN", "0") == [b"0", [b"h"]]


def test_field_deadlines_follow_the_key() -> None:
    with Engine() as e:
        e.execute("HSET", "h", "a", "1", "b", "2")
        e.execute("HEXPIRE", "h", "100", "FIELDS", "2", "a", "b")
        e.execute("HDEL", "h", "a")
        assert e.keyspace.field_expires == {b"h": {b"b": e.keyspace.field_deadline(b"h", b"b")}}
        assert e.execute("DEL", "h") == 1
        e.execute("SET", "h", "now a string")
        assert e.keyspace.field_expires == {}
        e.execute("HSET", "g", "a", "1")
        e.execute("HEXPIRE", "g", "100", "FIELDS", "1", "a")
        e.execute("FLUSHALL")
        assert e.keyspace.field_expires == {}
        e.execute("HSET", "g", "a", "1")
        e.execute("HPEXPIRE", "g", "50", "FIELDS", "1", "a")
        wait_for(lambda: b"g" not in e.keyspace.data, 10)  # the last field went: so did g
        assert e.keyspace.field_expires == {}


def test_sweeper_follows_changed_deadlines() -> None:
    """The sweeper's heap holds superseded deadlines too: a field whose TTL was removed,
    lengthened or rewritten by HSET is not deleted at its old time; the rest are."""
    with Engine() as e:
        for i in range(300):
            e.execute("HSET", f"h{i}", "a", "1", "b", "2")
            e.execute("HPEXPIRE", f"h{i}", "50", "FIELDS", "2", "a", "b")
        e.execute("HPERSIST", "h0", "FIELDS", "1", "a")
        e.execute("HEXPIRE", "h1", "100", "FIELDS", "1", "a")
        e.execute("HSET", "h2", "a", "new")
        wait_for(lambda: e.execute("DBSIZE") == 3, 10)
        time.sleep(0.15)  # a negative check: the old deadline of h0..h2's a passed long ago
        assert e.execute("DBSIZE") == 3
        assert {k: e.execute("HGETALL", k) for k in ("h0", "h1", "h2")} == {
            "h0": {b"a": b"1"},
            "h1": {b"a": b"1"},
            "h2": {b"a": b"new"},
        }
        assert e.keyspace.field_expires == {b"h1": {b"a": e.keyspace.field_deadline(b"h1", b"a")}}
