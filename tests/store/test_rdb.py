"""DUMP payload encodings (store/rdb): golden bytes taken from the peer's DUMP, the CRC
check value, LZF and listpack round trips, and RESTORE through the engine (log + replay)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from store.config import EngineConfig
from store.datatypes.json_doc import JsonDoc
from store.datatypes.lists import ListValue
from store.datatypes.sets import SetValue
from store.datatypes.zsets import ZSet
from store.engine import Engine
from store.errors import StoreError
from store.rdb import PayloadError, dump_value, listpack, load_value, lzf, verify
from store.rdb.crc64 import crc64
from store.rdb.primitives import length_bytes
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


# DUMP payloads written by the peer (valkey 9.1.2): RPUSH a 1 -5000 hello; SADD 1 2 -70000;
# SADD a b 3; ZADD 1 a 1.5 b -3 c 1e30 d; JSON.SET $ {"a":[1,2.5,"x",null,true],
# "b":{"c":1e30}}; HSET f v g w + HPEXPIREAT f; XADD 1-1 f v + XGROUP CREATE g 0 +
# XREADGROUP GROUP g c (one pending entry, one consumer).
PEER_TYPED = {
    "list": "120102171700000004008161020101f178ec038568656c6c6f06ff50000cdfc9bcbd6ebcfd",
    "intset": "0b14040000000300000090eefeff0100000002000000500092b73e4bb111b79f",
    "set-listpack": "140f0f00000003008161028162020301ff5000b4f4e694a3818a73",
    "zset-listpack": "1124240000000800816302dffd02816102010181620283312e35048164028531652b333006ff"
    "5000e75b6cdd6b442493",
    "json": "078145e25238df912c03052a7b2261223a5b312c322e352c2278222c6e756c6c2c747275655d2c22"
    "62223a7b2263223a316533307d7d005000deee95cdc4caf5d8",
    "hash-ttl": "1602016601764541e642a201000001670177ffffffffffffffff500068bafb284d2bc71b",
    "stream": "150110000000000000000100000000000000011d1d0000000a0001010001010181660200010201"
    "000100018176020401ff010101010100000101016701010101000000000000000100000000000000010cffd6"
    "42a2010000010101630cffd642a20100000cffd642a201000001000000000000000100000000000000015000"
    "5bd776096ec10101",
}


@pytest.mark.parametrize("name", sorted(PEER_TYPED))
def test_peer_payloads_of_every_type_round_trip(name: str) -> None:
    """Each peer payload decodes and encodes back to the same bytes."""
    payload = bytes.fromhex(PEER_TYPED[name])
    assert verify(payload)
    restored = load_value(payload)
    assert dump_value(restored.value, restored.deadlines or None) == payload


def test_peer_payloads_decode_to_their_values() -> None:
    lst = load_value(bytes.fromhex(PEER_TYPED["list"])).value
    assert isinstance(lst, ListValue)
    assert list(lst.items) == [b"a", b"1", b"-5000", b"hello"]
    iset = load_value(bytes.fromhex(PEER_TYPED["intset"])).value
    assert isinstance(iset, SetValue)
    assert (list(iset), iset.encoding()) == ([b"-70000", b"1", b"2"], "intset")
    z = load_value(bytes.fromhex(PEER_TYPED["zset-listpack"])).value
    assert isinstance(z, ZSet)
    assert z.scores == {b"c": -3.0, b"a": 1.0, b"b": 1.5, b"d": 1e30}
    doc = load_value(bytes.fromhex(PEER_TYPED["json"])).value
    assert isinstance(doc, JsonDoc)
    assert doc.root == {"a": [1, 2.5, "x", None, True], "b": {"c": 1e30}}
    h = load_value(bytes.fromhex(PEER_TYPED["hash-ttl"]))
    assert h.value == {b"f": b"v", b"g": b"w"}
    assert list(h.deadlines) == [b"f"]


@pytest.mark.parametrize("announced", [2**40, 2**62, 1000, 999])
def test_restore_refuses_a_string_announcing_a_length_it_cannot_decode_to(
    announced: int,
) -> None:
    """An LZF string whose announced length is not what its data decodes to is refused
    with the payload error, and the key keeps its value (store.rdb.lzf's guards)."""
    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("SET", "keep", "v")
        e.execute("SET", "src", "a" * 998)
        good = e.execute("DUMP", "src")
        packed = lzf.compress(b"a" * 998, 994)
        assert packed is not None and good[1:2] == b"\xc3"  # an LZF string, as built below
        body = b"\x00\xc3" + length_bytes(len(packed)) + length_bytes(announced) + packed
        body += good[-10:-8]  # the RDB version
        with pytest.raises(StoreError, match="Bad data format"):
            e.execute("RESTORE", "keep", "0", body + crc64(body).to_bytes(8, "little"), "REPLACE")
        assert e.execute("GET", "keep") == b"v"
        correct = b"\x00\xc3" + length_bytes(len(packed)) + length_bytes(998) + packed
        correct += good[-10:-8]
        assert correct + crc64(correct).to_bytes(8, "little") == good
