"""Scripting at the store level: what is logged (a script's effects in one record, with
per-call rewrites; FUNCTION LOAD/DELETE as themselves; never EVAL), restart replay and
snapshots restoring libraries, a replica applying the primary's records without running
Lua, snapshots from before functions loading, writes kept when a script fails after
them, admission (READONLY) per redis.call, and the sandbox."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest

from store.config import EngineConfig
from store.engine import Engine
from store.errors import StoreError
from store.replies import ErrorReply
from store.wal.payload import decode_commands
from store.wal.position import LogPosition

LIB = (
    "#!lua name=tlib\n"
    "redis.register_function('tset', function(keys, args) "
    "redis.call('set', keys[1], args[1]) return redis.call('incr', keys[2]) end)\n"
    "redis.register_function{function_name='tget', callback=function(keys) "
    "return redis.call('get', keys[1]) end, flags={'no-writes'}}"
)


def records(engine: Engine) -> list[list[list[bytes]]]:
    """Each log record's commands, names upper-cased (a script's spelling is logged)."""
    log = engine.transaction_log
    assert log is not None
    return [
        [[cmd[0].upper(), *cmd[1:]] for cmd in decode_commands(rec.payload)]
        for rec in log.read_from(LogPosition.start())
    ]


def test_effects_are_logged_in_one_record_and_replayed(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("SET", "gone", "1", "PX", "1")
        time.sleep(0.005)  # past its deadline by the script's clock (ms granularity)
        e.execute("SET", "n", "5")
        reply = e.execute(
            "EVAL",
            "redis.call('set', KEYS[1], 'v', 'EX', '100') redis.call('get', KEYS[1]) "
            "redis.call('set', KEYS[2], 'w') return redis.call('incrby', KEYS[3], 2)",
            "3", "a", "gone", "n",
        )  # fmt: skip
        assert reply == 7
        assert e.execute("EVAL", "return redis.call('get', 'a')", "0") == b"v"  # no record
        assert e.execute("FUNCTION", "LOAD", LIB) == b"tlib"
        assert e.execute("FCALL", "tset", "2", "b", "n", "x") == 8
        assert e.execute("FCALL_RO", "tget", "1", "b") == b"x"
        recs = records(e)
        deadline = e.keyspace.expires[b"a"]
    assert all(cmd[0] not in (b"EVAL", b"FCALL", b"FCALL_RO") for rec in recs for cmd in rec)
    # `gone` expired either before the script (active expiry logs its own DEL record) or
    # inside it (the script's lazy expiry: a DEL among its effects); both are right
    expired_alone = [[b"DEL", b"gone"]] in recs
    recs = [r for r in recs if r != [[b"DEL", b"gone"]]]
    script = recs[2]
    assert script[0][:3] == [b"SET", b"a", b"v"] and b"EX" not in script[0]  # rewrite kept
    expiry = [] if expired_alone else [[b"DEL", b"gone"]]
    assert script[1:] == [*expiry, [b"SET", b"gone", b"w"], [b"INCRBY", b"n", b"2"]], recs
    assert recs[3][0][:2] == [b"FUNCTION", b"LOAD"]
    assert recs[4] == [[b"SET", b"b", b"x"], [b"INCR", b"n"]]
    assert len(recs) == 5
    with Engine(EngineConfig(data_dir=tmp_path)) as e:  # log replay: Lua never runs
        assert e.execute("GET", "n") == b"8" and e.execute("GET", "gone") == b"w"
        assert e.keyspace.expires[b"a"] == deadline
        assert e.execute("FCALL_RO", "tget", "1", "b") == b"x"  # the library was replayed
        assert e.execute("SCRIPT", "EXISTS", "a" * 40) == [0]
        e.execute("SAVE")
    with Engine(EngineConfig(data_dir=tmp_path)) as e:  # the snapshot holds the library
        assert e.stats.loaded_snapshot is not None
        assert e.execute("FCALL", "tset", "2", "c", "n", "y") == 9
        assert [lib[b"library_name"] for lib in e.execute("FUNCTION", "LIST")] == [b"tlib"]
        e.execute("FUNCTION", "DELETE", "tlib")
        e.execute("SAVE")
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        assert e.execute("FUNCTION", "LIST") == []


def test_replica_applies_the_effects(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as primary:
        primary.execute("FUNCTION", "LOAD", LIB)
        primary.execute("FCALL", "tset", "2", "k", "c", "v")
        primary.execute("EVAL", "redis.call('hset', KEYS[1], 'f', ARGV[1])", "1", "h", "1")
        log = primary.transaction_log
        assert log is not None
        recs = list(log.read_from(LogPosition.start()))
        state = dict(primary.keyspace.data)
    with Engine(EngineConfig(read_only=True)) as replica:
        for rec in recs:
            replica.apply(rec)
        assert dict(replica.keyspace.data) == state
        assert replica.execute("FCALL_RO", "tget", "1", "k") == b"v"
        # a replica refuses a script's write per call, as the peer
        err = replica.execute("EVAL", "return redis.call('set', 'x', '1')", "0")
        assert err == ErrorReply(
            "READONLY You can't write against a read only replica. script: on @user_script:1."
        )
        with pytest.raises(StoreError, match="read only replica"):
            replica.execute("FUNCTION", "LOAD", "REPLACE", LIB)


def test_writes_before_a_failure_are_kept_and_logged(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        reply = e.execute("EVAL", "redis.call('set', 'p', '1') error('late')", "0")
        assert reply == ErrorReply("ERR user_script:1: late script: on @user_script:1.")
        assert e.execute("GET", "p") == b"1"
        assert records(e) == [[[b"SET", b"p", b"1"]]]


def test_snapshot_without_functions_loads(tmp_path: Path) -> None:
    class OldReader:
        epoch = 0

        def __init__(self, engine: Engine) -> None:
            self.sections = {
                "keyspace": pickle.dumps(({b"k": b"v"}, {}, {})),
                "indexes": pickle.dumps(engine.indexes.dump_state()),
            }

        def read_bytes(self, name: str) -> bytes:
            return self.sections[name]

        def section_names(self) -> list[str]:
            return list(self.sections)

    with Engine() as e:
        e.execute("FUNCTION", "LOAD", LIB)
        e.persistence.load(OldReader(e), scratch=tmp_path)  # type: ignore[arg-type]
        assert e.execute("GET", "k") == b"v"
        assert e.execute("FUNCTION", "LIST") == []  # the state is the snapshot's


@pytest.mark.parametrize(
    "body",
    [
        "return python",
        "return debug.getinfo(1)",
        "return getfenv(1)",
        "return io.open('/etc/passwd')",
        "return require('os')",
        "return os.execute('true')",
        "return loadstring(string.dump(function() end))",
        "return redis.call.__class__",
        "return dofile('/etc/passwd')",
    ],
)
def test_the_sandbox_holds(body: str) -> None:
    with Engine() as e:
        reply = e.execute("EVAL", body, "0")
        assert isinstance(reply, ErrorReply) or reply is None or reply == [], reply
        assert e.execute("EVAL", "return type(rawget(_G, 'python'))", "0") == b"nil"


def test_globals_changed_by_rawset_do_not_leak_into_the_next_script() -> None:
    with Engine() as e:
        e.execute("EVAL", "rawset(_G, 'leak', 1) rawset(_G, 'redis', nil)", "0")
        assert e.execute("EVAL", "return type(rawget(_G, 'leak'))", "0") == b"nil"
        assert e.execute("EVAL", "return redis.call('ping')", "0") == "PONG"


def test_cjson_and_bit() -> None:
    with Engine() as e:
        assert (
            e.execute(
                "EVAL",
                "return cjson.encode(cjson.decode(ARGV[1]))",
                "0",
                '{"a":[1,2.5,"x/y",null]}',
            )
            == b'{"a":[1,2.5,"x\\/y",null]}'
        )
        assert e.execute(
            "EVAL",
            "return {bit.tobit(2^32 + 5), bit.arshift(-256, 4), bit.rol(1, 33), bit.bswap(1),"
            " bit.tohex(-1, -4), bit.bor(1, 2, 4)}",
            "0",
        ) == [5, -16, 2, 16777216, b"FFFF", 7]
        err = e.execute("EVAL", "return cjson.decode('{bad')", "0")
        # lua-cjson's own error texts are not reproduced (docs/compatibility.md)
        assert isinstance(err, ErrorReply) and err.startswith("ERR Expected value")


def test_function_restore_is_logged_and_replayed(tmp_path: Path) -> None:
    """FUNCTION RESTORE is logged with its payload: a restart has the libraries back."""
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("FUNCTION", "LOAD", LIB)
        payload = e.execute("FUNCTION", "DUMP")
        e.execute("FUNCTION", "FLUSH")
        assert e.execute("FUNCTION", "RESTORE", payload) == "OK"
        with pytest.raises(StoreError, match="Library tlib already exists"):
            e.execute("FUNCTION", "RESTORE", payload)
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        assert [lib[b"library_name"] for lib in e.execute("FUNCTION", "LIST")] == [b"tlib"]
        assert e.execute("FUNCTION", "DUMP") == payload
