"""BITPOS's byte scan finds what reading the whole range as one integer finds.

``store.commands.bitmaps.first_bit`` scans bytes with numpy, a chunk at a time, and reads
bits only in the first byte that can hold the answer. The reference here is the
definition: the range's bits as one Python int (how BITPOS was computed before), on
random bitmaps with long 0x00 and 0xFF runs, every range form (BYTE and BIT, negative
indices, with and without an end), both bits, and chunks of 1-7 bytes so the answer
often sits at or across a chunk's edge. The peer's answers for the same commands are in
tests/server/test_strings_differential.py.
"""

from __future__ import annotations

import random

import pytest

from store import Engine, EngineConfig
from store.commands import bitmaps
from store.commands.bitmaps import clamp_range


def _reference(value: bytes, bit: int, args: list[str]) -> int:
    """BITPOS by the definition, on the range's bits as one integer."""
    if not args:
        span = clamp_range(0, len(value) - 1, len(value), False)
        end_given = False
    else:
        end_given = len(args) >= 2
        isbit = len(args) == 3 and args[2] == "BIT"
        end = int(args[1]) if end_given else len(value) - 1
        span = clamp_range(int(args[0]), end, len(value), isbit)
    if span is None:
        return -1
    chunk = int.from_bytes(value[span.start : span.end + 1], "big") >> span.tail_bits
    nbits = (span.end - span.start + 1) * 8 - span.tail_bits - span.head_bits
    chunk &= (1 << nbits) - 1
    if bit == 0:
        chunk ^= (1 << nbits) - 1
    first = span.start * 8 + span.head_bits
    if chunk:
        return first + nbits - chunk.bit_length()
    return first + nbits if bit == 0 and not end_given else -1


def _bitmap(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randrange(1, 6)):
        kind = rng.random()
        n = rng.randrange(0, 40)
        if kind < 0.35:
            parts.append(b"\x00" * n)
        elif kind < 0.7:
            parts.append(b"\xff" * n)
        else:
            parts.append(bytes(rng.randrange(256) for _ in range(n)))
    return b"".join(parts) or b"\x00"


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_the_scan_agrees_with_the_definition(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(bitmaps, "SCAN_CHUNK_BYTES", chunk)
    rng = random.Random(chunk)
    with Engine(EngineConfig(data_dir=None)) as e:
        for round_ in range(150):
            value = _bitmap(rng)
            e.execute("SET", "b", value)
            n = len(value)
            for _ in range(8):
                bit = rng.randrange(2)
                form = rng.randrange(4)
                if form == 0:
                    args: list[str] = []
                else:
                    unit = "BIT" if form == 3 else "BYTE"
                    size = n * 8 if unit == "BIT" else n
                    lo = rng.randrange(-size - 2, size + 2)
                    hi = rng.randrange(-size - 2, size + 2)
                    args = [str(lo)] if form == 1 else [str(lo), str(hi)]
                    if form == 3:
                        args.append("BIT")
                got = e.execute("BITPOS", "b", str(bit), *args)
                assert got == _reference(value, bit, args), (round_, value.hex(), bit, args)


def test_a_large_bitmap_answers_past_its_zero_run() -> None:
    value = bytes(8 << 20) + b"\x10" + b"\xff" * 100
    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("SET", "big", value)
        assert e.execute("BITPOS", "big", "1") == (8 << 20) * 8 + 3
        assert e.execute("BITPOS", "big", "0", str(8 << 20)) == (8 << 20) * 8
        assert e.execute("BITPOS", "big", "0", str((8 << 20) + 1)) == (len(value)) * 8
        assert e.execute("BITPOS", "big", "0", str((8 << 20) + 1), "-1") == -1
