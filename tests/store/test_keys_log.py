"""String, key and bitmap commands through the one write path: what they log (deterministic
rewrites), and log replay, snapshots and a replica reaching the primary's state."""

from __future__ import annotations

from pathlib import Path

from store.config import EngineConfig
from store.engine import Engine
from store.wal.payload import decode_commands
from store.wal.position import LogPosition

FAR_MS = 4_000_000_000_000


def logged(engine: Engine) -> list[list[bytes]]:
    log = engine.transaction_log
    assert log is not None
    return [
        cmd for rec in log.read_from(LogPosition.start()) for cmd in decode_commands(rec.payload)
    ]


def state(engine: Engine) -> tuple[dict[bytes, object], dict[bytes, int], dict[bytes, object]]:
    ks = engine.keyspace
    return dict(ks.data), dict(ks.expires), {k: dict(v) for k, v in ks.field_expires.items()}


WORKLOAD: list[tuple[str, ...]] = [
    ("SETEX", "ex", "1000", "v"),
    ("PSETEX", "px", "1000000", "v"),
    ("SET", "g", "value"),
    ("GETEX", "g", "EX", "500"),
    ("SET", "p", "v", "EX", "100"),
    ("GETEX", "p", "PERSIST"),
    ("SET", "gone", "v"),
    ("GETEX", "gone", "PXAT", "1"),
    ("SETNX", "nx", "1"),
    ("GETSET", "nx", "2"),
    ("MSETNX", "m1", "a", "m2", "b"),
    ("SETRANGE", "m1", "4", "zz"),
    ("SETBIT", "bits", "13", "1"),
    ("BITFIELD", "bits", "INCRBY", "u8", "16", "250", "OVERFLOW", "SAT", "INCRBY", "u8", "16", "9"),
    ("BITOP", "XOR", "x", "bits", "m1"),
    ("HSET", "h", "a", "1", "b", "2"),
    ("HPEXPIREAT", "h", str(FAR_MS), "FIELDS", "1", "a"),
    ("RENAME", "h", "h2"),
    ("COPY", "h2", "h3"),
    ("SET", "t", "v", "PXAT", str(FAR_MS)),
    ("RENAMENX", "t", "t2"),
    ("COPY", "t2", "m2", "REPLACE"),
]


def test_log_holds_deterministic_rewrites(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        for cmd in WORKLOAD:
            e.execute(*cmd)
        g_deadline = e.keyspace.expires[b"g"]
        cmds = logged(e)
    names = {c[0] for c in cmds}
    assert not names & {b"SETEX", b"PSETEX", b"GETEX", b"GETSET", b"SETNX"}
    assert [b"PEXPIREAT", b"g", str(g_deadline).encode()] in cmds
    assert [b"PERSIST", b"p"] in cmds
    assert [b"DEL", b"gone"] in cmds
    assert [b"SET", b"nx", b"2"] in cmds
    assert any(c[:3] == [b"SET", b"ex", b"v"] and c[3] == b"PXAT" for c in cmds)
    assert [b"RENAME", b"h", b"h2"] in cmds and [b"COPY", b"h2", b"h3"] in cmds


def test_replay_snapshot_and_replica_agree(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        for cmd in WORKLOAD:
            e.execute(*cmd)
        primary = state(e)
        log = e.transaction_log
        assert log is not None
        records = list(log.read_from(LogPosition.start()))
    # field and key deadlines moved with RENAME and were copied by COPY
    assert primary[2] == {b"h2": {b"a": FAR_MS}, b"h3": {b"a": FAR_MS}}
    assert primary[1][b"t2"] == primary[1][b"m2"] == FAR_MS
    assert b"t" not in primary[0] and b"gone" not in primary[0]
    with Engine(EngineConfig(data_dir=tmp_path)) as e:  # log replay
        assert state(e) == primary
        e.execute("SAVE")
    with Engine(EngineConfig(data_dir=tmp_path)) as e:  # snapshot
        assert e.stats.loaded_snapshot is not None
        assert state(e) == primary
        assert e.execute("GET", "m1") == b"a\x00\x00\x00zz"
    with Engine(EngineConfig(read_only=True)) as replica:
        for rec in records:
            replica.apply(rec)
        assert state(replica) == primary


def test_copy_is_independent_of_its_source() -> None:
    with Engine() as e:
        e.execute("HSET", "h", "a", "1")
        e.execute("COPY", "h", "c")
        e.execute("HSET", "h", "b", "2")
        assert e.execute("HGETALL", "c") == {b"a": b"1"}
