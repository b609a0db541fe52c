"""HyperLogLog sketch (store/hll): golden bytes taken from the peer, the hash, encodings,
the estimate's error, and PFADD/PFMERGE through the engine's write path."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from store.config import EngineConfig
from store.engine import Engine
from store.errors import StoreError
from store.hll import CorruptHLL, add, add_many, cardinality, is_hll, new_sparse, registers
from store.hll.murmur import murmurhash64a
from store.hll.sketch import DENSE, DENSE_SIZE, SPARSE, pattern

# the peer's GET after PFADD k a b c, then after PFCOUNT k (cache filled with 3)
GOLDEN_ABC = bytes.fromhex("48594c4c01000000000000000000008060f38050b1844bfb80425a")
GOLDEN_ABC_COUNTED = bytes.fromhex("48594c4c01000000030000000000000060f38050b1844bfb80425a")


def build(*elements: bytes) -> bytearray:
    s = new_sparse()
    for element in elements:
        s, _ = add(s, element)
    return s


def test_golden_bytes_from_the_peer() -> None:
    s = build(b"a", b"b", b"c")
    s[15] |= 0x80
    assert bytes(s) == GOLDEN_ABC
    assert cardinality(s) == (3, True)
    assert bytes(s) == GOLDEN_ABC_COUNTED
    assert cardinality(s) == (3, False)  # served from the cache


def test_new_hll_is_one_xzero_with_a_valid_zero_cache() -> None:
    s = new_sparse()
    assert bytes(s) == b"HYLL\x01" + bytes(11) + b"\x7f\xff"
    assert is_hll(bytes(s)) and cardinality(s) == (0, False)


def test_murmur_reads_words_little_endian() -> None:
    # one 8-byte word plus a 3-byte tail exercises both loops; the register and run are
    # what the golden bytes above confirm against the peer
    h = murmurhash64a(b"abcdefgh123", 0xADC83B19)
    assert 0 <= h < 2**64
    assert murmurhash64a(b"abcdefgh123", 0xADC83B19) == h
    index, run = pattern(b"a")
    assert 0 <= index < 16384 and 1 <= run <= 51


def test_promotion_to_dense_and_error_bound() -> None:
    s = build(*(f"e{i}".encode() for i in range(8000)))
    assert s[4] == DENSE and len(s) == DENSE_SIZE
    card, _ = cardinality(s)
    assert abs(card - 8000) / 8000 < 0.03  # standard error 0.81%
    few = build(*(f"e{i}".encode() for i in range(100)))
    assert few[4] == SPARSE and len(few) < 3000


def test_corrupt_sparse_is_detected() -> None:
    bad = b"HYLL\x01" + bytes(11) + b"\x7f\xfe"  # covers 16383 registers
    with pytest.raises(CorruptHLL):
        registers(bad)
    assert not is_hll(b"HYLL\x00" + bytes(11) + b"\x7f\xfe")  # dense of the wrong size
    assert not is_hll(b"HYLX\x01" + bytes(11) + b"\x7f\xff")


def test_pfadd_pfmerge_replay_and_snapshot(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("PFADD", "a", *(f"x{i}" for i in range(300)))
        e.execute("PFADD", "b", *(f"y{i}" for i in range(2000)))
        e.execute("PFMERGE", "m", "a", "b")
        e.execute("SET", "s", "text")
        with pytest.raises(StoreError, match="not a valid HyperLogLog"):
            e.execute("PFADD", "s", "x")
        counts = [e.execute("PFCOUNT", k) for k in ("a", "b", "m")]
        union = e.execute("PFCOUNT", "a", "b")
        registers_before = {k: registers(e.execute("GET", k)).tolist() for k in "abm"}
    assert counts[2] == union
    with Engine(EngineConfig(data_dir=tmp_path)) as e:  # log replay
        assert [e.execute("PFCOUNT", k) for k in ("a", "b", "m")] == counts
        assert {k: registers(e.execute("GET", k)).tolist() for k in "abm"} == registers_before


def test_batched_adds_write_the_same_bytes_as_one_by_one() -> None:
    """add_many (opcode list) and add (Redis's byte walk) agree, through promotion."""
    rng = random.Random(11)
    for size in (1, 50, 400, 1500, 4000):
        elements = [str(rng.random()).encode() for _ in range(size)]
        one_by_one = build(*elements)
        batched, changed = add_many(new_sparse(), elements)
        assert bytes(batched[16:]) == bytes(one_by_one[16:]), size
        assert batched[4] == one_by_one[4] and changed > 0
    corrupt = bytearray(b"HYLL\x01" + bytes(11) + b"\x7f\xfe")  # 16383 registers
    with pytest.raises(CorruptHLL):
        add_many(corrupt, [b"x"] * 50 + [str(i).encode() for i in range(3000)])


def test_pfselftest_passes_and_catches_a_broken_register_codec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PFSELFTEST answers OK on the real code and TESTFAILED with Redis's text when the
    dense register codec or the estimate is wrong."""
    import store.hll.selftest as selftest_module

    with Engine(EngineConfig(data_dir=tmp_path)) as engine:
        assert engine.execute("PFSELFTEST") == "OK"
        real_get = selftest_module.dense_get
        monkeypatch.setattr(selftest_module, "dense_get", lambda s, i: real_get(s, i) ^ (i == 7))
        with pytest.raises(StoreError, match=r"Register error at index 7: ") as failed:
            engine.execute("PFSELFTEST")
        assert failed.value.prefix == "TESTFAILED"
    monkeypatch.setattr(selftest_module, "dense_get", real_get)
    monkeypatch.setattr(selftest_module, "cardinality", lambda s: (3, True))
    assert selftest_module.selftest(1) == "Too big error. card:10 abserr:7"
