"""LZF through Redis's C library equals the step-by-step Python port, byte for byte.

:mod:`store.rdb.lzf` calls liblzf (``python-lzf``); :mod:`store.rdb.lzf_port` is the port
whose output was held to the peer's DUMP payloads before. Both compress the same inputs to
the same bytes, agree on what does not fit, decode each other's output, and refuse the
same corrupt data. The guards around the library (a length the data cannot decode to,
the port for very large outputs) are tested here too; DUMP/RESTORE through a server are in
tests/store/test_rdb.py and tests/server/test_rdb_types_differential.py.
"""

from __future__ import annotations

import random

import pytest

from store.rdb import lzf
from store.rdb.crc64 import crc64
from store.rdb.lzf_port import port_compress, port_decompress


def _inputs() -> list[bytes]:
    rng = random.Random(7)
    out: list[bytes] = [b"\x00" * 100_000, b"ab" * 5_000, bytes(range(256)) * 40]
    for alphabet in (b"ab c", b"abcdefghijklmnop", bytes(range(256))):
        for _ in range(60):
            n = rng.randrange(21, 20_000)
            out.append(bytes(rng.choice(alphabet) for _ in range(n)))
    # long matches (past the 264-byte cap) and far ones (past the 8 KiB window)
    block = bytes(rng.randrange(256) for _ in range(600))
    out.append(block + bytes(rng.randrange(256) for _ in range(9_000)) + block * 3)
    out.append(b"x" * 21)
    out.append(b"document 17: " + b"lorem ipsum " * 300)
    return out


INPUTS = _inputs()


def test_the_library_compresses_as_the_port_does() -> None:
    for data in INPUTS:
        expected = port_compress(data, len(data) - 4)
        assert lzf.compress(data, len(data) - 4) == expected, len(data)
        if expected is not None:
            # the same fit decisions around the boundary (liblzf wants up to 3 bytes of
            # slack at the end, and a back reference 4)
            fits = []
            for out_len in range(len(expected) - 1, len(expected) + 5):
                ours = lzf.compress(data, out_len)
                assert ours == port_compress(data, out_len), (len(data), out_len)
                fits.append(ours is not None)
            assert fits[0] is False and fits[-1] is True


def test_each_decodes_the_others_output() -> None:
    for data in INPUTS:
        packed = lzf.compress(data, len(data) - 4)
        if packed is None:
            continue
        assert lzf.decompress(packed, len(data)) == data
        assert port_decompress(packed, len(data)) == data


def test_corrupt_data_is_refused_alike() -> None:
    rng = random.Random(11)
    packed_inputs = [
        (p, len(d)) for d in INPUTS[:40] if (p := lzf.compress(d, len(d) - 4)) is not None
    ]
    outcomes = {"same bytes": 0, "both refused": 0}
    for packed, size in packed_inputs:
        for _ in range(20):
            bad = bytearray(packed)
            for _ in range(rng.randrange(1, 4)):
                bad[rng.randrange(len(bad))] = rng.randrange(256)
            if rng.random() < 0.3:
                bad = bad[: rng.randrange(1, len(bad))]
            results: list[bytes | None] = []
            for decode in (lzf.decompress, port_decompress):
                try:
                    results.append(decode(bytes(bad), size))
                except lzf.LzfError:
                    results.append(None)
            assert results[0] == results[1]
            outcomes["both refused" if results[0] is None else "same bytes"] += 1
    assert outcomes["both refused"] > 100  # the mutations did reach the error paths


def test_lengths_the_data_cannot_decode_to_never_reach_the_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The C decoder allocates the announced length unchecked: a length past what the data
    can expand to is refused before it is called; a wrong one within reach by it."""
    packed = lzf.compress(b"a" * 1000, 996)
    assert packed is not None
    called: list[int] = []
    c_decompress = lzf._c.decompress

    def recording(raw: bytes, n: int) -> bytes | None:
        called.append(n)
        result: bytes | None = c_decompress(raw, n)
        return result

    monkeypatch.setattr(lzf._c, "decompress", recording)
    for bad_length in (-1, 0, lzf.MAX_EXPANSION * len(packed) + 1, 1 << 40, 1 << 62):
        with pytest.raises(lzf.LzfError):
            lzf.decompress(packed, bad_length)
    assert called == []
    for bad_length in (999, 1001):
        with pytest.raises(lzf.LzfError):
            lzf.decompress(packed, bad_length)
    assert called == [999, 1001]
    assert lzf.decompress(b"", 0) == b""
    with pytest.raises(lzf.LzfError):
        lzf.decompress(b"", 5)


def test_a_run_of_one_byte_reaches_the_largest_expansion() -> None:
    """MAX_EXPANSION is the real bound: a long run of one byte compresses to back
    references of 264 bytes each, so its ratio approaches it (and never passes it)."""
    data = b"z" * 1_000_000
    packed = lzf.compress(data, len(data) - 4)
    assert packed is not None
    assert lzf.MAX_EXPANSION * 0.99 < len(data) / len(packed) <= lzf.MAX_EXPANSION
    assert lzf.decompress(packed, len(data)) == data


def test_outputs_past_the_c_limit_go_through_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"0123456789" * 500
    packed = lzf.compress(data, len(data) - 4)
    assert packed is not None
    calls: list[int] = []

    def port(raw: bytes, n: int) -> bytes:
        calls.append(n)
        return port_decompress(raw, n)

    monkeypatch.setattr(lzf, "C_MAX_OUT", 1000)
    monkeypatch.setattr(lzf, "port_decompress", port)
    assert lzf.decompress(packed, len(data)) == data
    assert calls == [len(data)]


def _crc64_bitwise(data: bytes) -> int:
    """Redis's crc64.c definition, one bit at a time (reflected 0xad93d23594c935a9)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95AC9329AC4BC9B5 if crc & 1 else crc >> 1
    return crc


def test_crc64_matches_the_bitwise_definition() -> None:
    rng = random.Random(5)
    for n in (0, 1, 7, 8, 9, 63, 64, 65, 1000, 4099):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert crc64(data) == _crc64_bitwise(data), n
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
