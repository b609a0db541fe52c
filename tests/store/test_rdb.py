"""DUMP payload encodings (store/rdb): golden bytes taken from the peer's DUMP, the CRC
check value, LZF and listpack round trips, and RESTORE through the engine (log + replay)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from store.config import EngineConfig
from store.engine import Engine
from store.errors import StoreError
from store.rdb import PayloadError, dump_value, listpack, load_value, lzf, verify
from store.rdb.crc64 import crc64
from store.wal.payload import decode_commands
from store.wal.position import LogPosition

# value -> the peer's DUMP of it (Valkey 9: RDB version 80)
GOLDEN: list[tuple[bytes | dict[bytes, bytes], str]] = [
    (b"hello", "000568656c6c6f5000ac5816e7fb6647fe"),
    (b"12345", "00c13930500052be23b60dae6f4d"),  # int16
    (b"a" * 40, "00c30928016161e01b0001616150000023e63b3077e4e9"),  # LZF
    (b"9999999999", "000a3939393939393939393950001d400b0841018826"),  # beyond int32: text
    (
        {b"a": b"1", b"bb": b"hello"},
        "10171700000004008161020101826262038568656c6c6f06ff50000bdd06e5de2b6fac",
    ),
]


@pytest.mark.parametrize(("value", "hexed"), GOLDEN)
def test_golden_payloads(value: bytes | dict[bytes, bytes], hexed: str) -> None:
    assert dump_value(value).hex() == hexed
    assert load_value(bytes.fromhex(hexed)).value == value


def test_crc64_check_value() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA


def test_lzf_round_trip_and_refusal() -> None:
    rng = random.Random(3)
    for _ in range(200):
        data = bytes(rng.choice(b"ab c") for _ in range(rng.randrange(21, 2000)))
        packed = lzf.compress(data, len(data) - 4)
        if packed is not None:
            assert len(packed) <= len(data) - 4
            assert lzf.decompress(packed, len(data)) == data
    assert lzf.compress(bytes(range(64)), 60) is None  # incompressible
    with pytest.raises(lzf.LzfError):
        lzf.decompress(b"\x05ab", 6)


def test_listpack_integer_and_string_encodings() -> None:
    elements = [b"0", b"127", b"128", b"-4096", b"4095", b"-32768", b"8388607", b"-2147483648"]
    elements += [b"9223372036854775807", b"007", b"-0", b"x" * 63, b"y" * 64, b"z" * 5000]
    blob = listpack.encode(elements)
    assert listpack.decode(blob) == elements
    assert blob[6:7] == b"\x00"  # "0" is a 7-bit uint
    with pytest.raises(listpack.ListpackError):
        listpack.decode(blob[:-1] + b"\x00")


def test_bad_payloads() -> None:
    good = dump_value(b"hello")
    assert verify(good)
    assert not verify(good[:-1] + bytes([good[-1] ^ 1]))  # checksum
    newer = bytearray(good)
    newer[-10:-8] = (81).to_bytes(2, "little")
    assert not verify(bytes(newer))  # a newer RDB version
    unknown = b"\x01\x00" + (80).to_bytes(2, "little")  # an empty list
    with pytest.raises(PayloadError):
        load_value(unknown + crc64(unknown).to_bytes(8, "little"))


def test_restore_is_logged_with_an_absolute_ttl(tmp_path: Path) -> None:
    payload = dump_value({b"f": b"v"})
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("RESTORE", "k", "100000", payload)
        deadline = e.keyspace.expires[b"k"]
        e.execute("SET", "s", "x")
        e.execute("RESTORE", "s", "1", dump_value(b"y"), "REPLACE", "ABSTTL")  # past: DEL
        with pytest.raises(StoreError, match="already exists"):
            e.execute("RESTORE", "k", "0", payload)
        e.execute("HSET", "h", "a", "1")
        e.execute("HPEXPIRE", "h", "100000", "FIELDS", "1", "a")
        e.execute("RESTORE", "h2", "0", e.execute("DUMP", "h"))  # field TTLs travel along
        field_deadline = e.keyspace.field_deadline(b"h2", b"a")
        assert field_deadline is not None
        assert field_deadline == e.keyspace.field_deadline(b"h", b"a")
        log = e.transaction_log
        assert log is not None
        cmds = [c for r in log.read_from(LogPosition.start()) for c in decode_commands(r.payload)]
    assert [b"RESTORE", b"k", str(deadline).encode(), payload, b"ABSTTL"] in cmds
    assert [b"DEL", b"s"] in cmds
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        assert e.execute("HGETALL", "k") == {b"f": b"v"}
        assert e.keyspace.expires[b"k"] == deadline
        assert e.execute("EXISTS", "s") == 0
        assert e.keyspace.field_deadline(b"h2", b"a") == field_deadline


def test_restore_of_every_type_is_logged_and_replayed(tmp_path: Path) -> None:
    """Each type's payload restores, is logged as RESTORE, and replays to the same value
    (a refused payload changes nothing)."""
    build = [
        ("RPUSH", "l", "a", "1", "-5000"),
        ("SADD", "si", "1", "-70000"),
        ("SADD", "sl", "a", "b"),
        ("ZADD", "z", "1.5", "a", "-3", "b"),
        ("XADD", "x", "1-1", "f", "v"),
        ("XGROUP", "CREATE", "x", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">"),
        ("JSON.SET", "j", "$", '{"a":[1,2.5,null]}'),
    ]
    keys = ["l", "si", "sl", "z", "x", "j"]
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        for c in build:
            e.execute(*c)
        payloads = {k: e.execute("DUMP", k) for k in keys}
        for k, payload in payloads.items():
            e.execute("RESTORE", f"{k}:r", "0", payload)
            assert e.execute("DUMP", f"{k}:r") == payload
        e.execute("SET", "keep", "v")
        bad = payloads["x"][:-10][:-3] + payloads["x"][-10:-8]
        with pytest.raises(StoreError, match="Bad data format"):
            e.execute("RESTORE", "keep", "0", bad + crc64(bad).to_bytes(8, "little"), "REPLACE")
        assert e.execute("GET", "keep") == b"v"
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        for k, payload in payloads.items():
            assert e.execute("DUMP", f"{k}:r") == payload, k
