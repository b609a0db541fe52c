"""JSON documents survive the transaction log (replay re-runs the logged JSON commands with
the same handlers) and snapshots (the ``typed`` section), exactly: integers stay integers,
doubles keep their digits, object key order (ijson's swap-remove included) is kept."""

from __future__ import annotations

import pickle
from pathlib import Path

from store import Engine, EngineConfig
from store.snapshot.local import LocalSnapshotStore

WRITES: list[tuple[str, ...]] = [
    (
        "JSON.SET",
        "d",
        "$",
        '{"a":1,"b":[1,2.5,"é"],"c":{"x":null,"y":true},"z":180144.23492546822}',
    ),
    ("JSON.ARRAPPEND", "d", "$.b", "[3]", '{"k":1e20}'),
    ("JSON.NUMINCRBY", "d", "$.a", "9223372036854775807"),  # wraps, as RedisJSON's i64 does
    ("JSON.DEL", "d", "$.a"),  # the last key takes a's place
    ("JSON.MERGE", "d", "$.c", '{"x":2,"w":[]}'),
    ("JSON.STRAPPEND", "d", "$.b[2]", '"x"'),
    ("JSON.TOGGLE", "d", "$.c.y"),
    ("JSON.ARRPOP", "d", "$.b", "0"),
    ("JSON.SET", "e", "$", "[1.0,-0.0,18446744073709551615]"),
    ("PEXPIRE", "e", "600000"),
    ("JSON.SET", "e", "$[0]", "2"),
]
EXPECTED_D = (
    b'{"z":180144.23492546825,"b":[2.5,"\xc3\xa9x",[3],{"k":1e20}],"c":{"x":2,"y":false,"w":[]}}'
)
EXPECTED_E = b"[2,-0.0,18446744073709551615]"


def write_all(engine: Engine) -> None:
    for cmd in WRITES:
        engine.execute(*cmd)


def check(engine: Engine) -> None:
    assert engine.execute("JSON.GET", "d") == EXPECTED_D
    assert engine.execute("JSON.GET", "e") == EXPECTED_E
    assert engine.execute("TYPE", "d") == "ReJSON-RL"
    assert 0 < engine.execute("PTTL", "e") <= 600_000  # the in-place JSON.SET kept the TTL


def test_replay_from_the_log(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        write_all(e)
        check(e)
    with Engine(cfg) as e:
        check(e)


def test_snapshot_round_trip_then_log_tail(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        write_all(e)
        e.execute("SAVE")
        e.execute("JSON.SET", "f", "$", '{"after":"snapshot"}')
    store = LocalSnapshotStore(tmp_path / "snapshots")
    with store.open(store.list()[-1]) as reader:
        assert "typed" in reader.section_names()
    with Engine(cfg) as e:
        check(e)
        assert e.execute("JSON.GET", "f", "$.after") == b'["snapshot"]'


def test_an_old_snapshot_loads_and_takes_json(tmp_path: Path) -> None:
    """A snapshot written before JSON existed (no ``typed`` section) loads; JSON written
    after it lands in the next snapshot."""
    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        e.execute("SET", "s", "1")
        e.execute("HSET", "h", "f", "v")
        e.execute("SAVE")
    store = LocalSnapshotStore(tmp_path / "snapshots")
    with store.open(store.list()[-1]) as reader:
        assert "typed" not in reader.section_names()
        assert pickle.loads(reader.read_bytes("keyspace"))[0] == {b"s": b"1", b"h": {b"f": b"v"}}
    with Engine(cfg) as e:
        assert e.execute("GET", "s") == b"1"
        write_all(e)
        e.execute("SAVE")
    with Engine(cfg) as e:
        check(e)
        assert e.execute("HGET", "h", "f") == b"v"


def test_nesting_is_bounded(tmp_path: Path) -> None:
    """127 levels parse (serde_json's limit); writes that would nest a document deeper than
    128 are refused and change nothing (memvec's limit: docs/compatibility.md)."""
    import pytest

    from store.json.errors import JsonError

    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("JSON.SET", "d", "$", "[" * 127 + "]" * 127)
        with pytest.raises(JsonError, match="deeper than 128 levels"):
            e.execute("JSON.ARRAPPEND", "d", "$" + "[0]" * 126, "[[]]")
        assert e.execute("JSON.ARRAPPEND", "d", "$" + "[0]" * 126, "[]") == [1]
        with pytest.raises(JsonError, match="deeper than 128 levels"):
            e.execute("JSON.SET", "d", "$" + "[0]" * 127, "[[]]")
        assert e.execute("JSON.GET", "d") == b"[" * 128 + b"]" * 128
