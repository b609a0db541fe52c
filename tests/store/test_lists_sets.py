"""Lists and sets in the engine: Redis's encodings (and the orders they imply), snapshot
round trips, log replay, and blocking commands outside a client's top-level call."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import Engine, EngineConfig
from store.commands.blocking import WouldBlock, parse_timeout
from store.commands.table import resolve
from store.datatypes.lists import LISTPACK_MAX_BYTES, ListValue, lp_entry_size
from store.datatypes.sets import SetValue
from store.errors import CommandError
from store.replies import NULL_ARRAY


@pytest.mark.parametrize(
    ("value", "size"),
    [(b"7", 2), (b"127", 2), (b"128", 3), (b"-4096", 3), (b"40000", 5), (b"2147483648", 10),
     (b"007", 5), (b"", 2), (b"x" * 63, 65), (b"x" * 64, 67), (b"x" * 200, 204)],
)  # fmt: skip
def test_listpack_entry_sizes(value: bytes, size: int) -> None:
    assert lp_entry_size(value) == size


def test_list_encoding_switches_at_redis_bytes() -> None:
    lst = ListValue()
    lst.push([b"a" * 60] * 130, left=False)  # 130 * 62 + 7 = 8067 bytes
    assert lst.encoding() == "listpack" and lst.lp_bytes == 8067
    lst.push([b"b" * 200], left=True)
    assert lst.encoding() == "quicklist" and lst.lp_bytes > LISTPACK_MAX_BYTES
    lst.pop(70, left=False)
    assert lst.encoding() == "listpack"


def test_set_encodings_and_orders() -> None:
    s = SetValue.create(b"3", 3)
    for m in (b"3", b"-1", b"20"):
        s.add(m)
    assert s.encoding() == "intset" and list(s) == [b"-1", b"3", b"20"]
    s.add(b"x")
    assert s.encoding() == "listpack" and list(s) == [b"-1", b"3", b"20", b"x"]
    s.remove(b"3")
    assert list(s) == [b"-1", b"20", b"x"]
    s.add(b"y" * 65)
    assert s.encoding() == "hashtable"
    big = SetValue.create(b"a", 200)
    assert big.encoding() == "hashtable"
    ints = SetValue.create(b"1", 1)
    for n in range(513):
        ints.add(b"%d" % n)
    assert ints.encoding() == "hashtable"


def _state(e: Engine) -> dict[str, object]:
    return {
        "l": e.execute("LRANGE", "l", 0, -1),
        "q": e.execute("LRANGE", "q", 0, -1),
        "s": e.execute("SMEMBERS", "s"),
        "i": list(e.execute("SMEMBERS", "i")),
        "enc": [e.keyspace.data[k].encoding() for k in (b"l", b"q", b"s", b"i")],
        "types": [e.keyspace.type_name(k, None) for k in (b"l", b"s")],
    }


def _write(e: Engine) -> None:
    e.execute("RPUSH", "l", "a", "b", "c", "d")
    e.execute("LMOVE", "l", "l", "LEFT", "RIGHT")
    e.execute("RPUSH", "q", *["v" * 100] * 100)
    e.execute("BLPOP", "q", "0")
    e.execute("SADD", "s", "x", "y", "z", "1")
    e.execute("SPOP", "s")
    e.execute("SADD", "i", "5", "1", "3")
    e.execute("SINTERSTORE", "i2", "i", "i")
    e.execute("SPOP", "i2", "1")


def test_snapshot_and_log_replay_round_trip(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path / "snap")
    with Engine(cfg) as e:
        _write(e)
        e.execute("SAVE")
        expected = _state(e)
    with Engine(cfg) as e:
        assert _state(e) == expected
    cfg = EngineConfig(data_dir=tmp_path / "log")  # no snapshot: the log alone
    with Engine(cfg) as e:
        _write(e)
        expected = _state(e)
    with Engine(cfg) as e:
        assert _state(e) == expected


def test_blocking_commands_do_not_block_outside_a_client_call() -> None:
    with Engine() as e:
        assert e.execute("BLPOP", "none", "0") == NULL_ARRAY
        assert e.execute("BLMOVE", "none", "d", "LEFT", "LEFT", "0") is None
        assert e.transaction([["BLMPOP", "0", "1", "none", "LEFT"]]) == [NULL_ARRAY]
        args = [b"BRPOP", b"a", b"b", b"1.5"]
        done = e.submit(resolve(args), args, may_block=True)
        assert done.reply == WouldBlock((b"a", b"b"), 1500, NULL_ARRAY, key_type="list")


@pytest.mark.parametrize(("raw", "ms"), [(b"0", 0), (b"0.0011", 2), (b"2", 2000), (b"1e-9", 1)])
def test_timeouts(raw: bytes, ms: int) -> None:
    assert parse_timeout(raw) == ms


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"-1", "timeout is negative"), (b"x", "timeout is not a float or out of range"),
     (b"1e300", "timeout is out of range"), (b"-inf", "timeout is negative")],
)  # fmt: skip
def test_bad_timeouts(raw: bytes, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_timeout(raw)


def test_sintercard_limit_bounds_the_walk(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """SINTERCARD ... LIMIT walks the smallest set only until LIMIT matches (it copied the
    whole set first: 3.8 ms at 500,000 members for LIMIT 10)."""
    from store import Engine, EngineConfig
    from store.datatypes.sets import SetValue

    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("SADD", "a", *[f"m{i}" for i in range(5000)])
        e.execute("SADD", "b", *[f"m{i}" for i in range(5000)])
        probes = []
        real, real_iter = SetValue.__contains__, SetValue.__iter__

        def counting(self, member):  # type: ignore[no-untyped-def]
            probes.append(member)
            return real(self, member)

        def no_copy(self):  # type: ignore[no-untyped-def]
            raise AssertionError("SetValue.__iter__ copies the members")

        monkeypatch.setattr(SetValue, "__contains__", counting)
        monkeypatch.setattr(SetValue, "__iter__", no_copy)
        assert e.execute("SINTERCARD", "2", "a", "b", "LIMIT", "10") == 10
        assert len(probes) == 10
        monkeypatch.setattr(SetValue, "__contains__", real)
        monkeypatch.setattr(SetValue, "__iter__", real_iter)
        assert e.execute("SINTERCARD", "2", "a", "b") == 5000
        e.execute("SADD", "i", "1", "3", "2")  # an intset walks in order
        e.execute("SADD", "j", "3", "2", "9")
        assert list(e.execute("SINTER", "i", "j")) == [b"2", b"3"]
