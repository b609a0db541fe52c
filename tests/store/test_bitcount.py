"""BITCOUNT's word count agrees with the definition (the range's bits as one Python int).

``store.commands.bitmaps.count_set_bits`` counts ranges of ``POPCOUNT_MIN_BYTES`` and more
as unaligned 64-bit words through numpy's popcount, plus the leftover bytes and the two
edge bytes of a BIT range. Random bitmaps, every range form (BYTE and BIT, negative
indices, start only), ranges whose inner part starts at every alignment, on both the
numpy path and the int path numpy 1.x takes; strings written in place (a ``bytearray``)
included. The peer's answers are in tests/server/test_strings_differential.py.
"""

from __future__ import annotations

import random

import pytest

from store import Engine, EngineConfig
from store.commands import bitmaps
from store.commands.bitmaps import clamp_range


def _reference(value: bytes, args: list[str]) -> int:
    if not args:
        return int.from_bytes(value, "big").bit_count()
    end = int(args[1]) if len(args) >= 2 else len(value) - 1
    span = clamp_range(int(args[0]), end, len(value), len(args) == 3 and args[2] == "BIT")
    if span is None or (int(args[0]) < 0 and end < 0 and int(args[0]) > end):
        return 0
    chunk, _ = span.bits(value)
    return chunk.bit_count()


@pytest.mark.parametrize("numpy_popcount", [True, False])
def test_the_count_agrees_with_the_definition(
    monkeypatch: pytest.MonkeyPatch, numpy_popcount: bool
) -> None:
    if numpy_popcount and bitmaps._BITWISE_COUNT is None:
        pytest.fail("numpy has no bitwise_count: the word path is untested (numpy >= 2 needed)")
    if not numpy_popcount:
        monkeypatch.setattr(bitmaps, "_BITWISE_COUNT", None)
    monkeypatch.setattr(bitmaps, "POPCOUNT_MIN_BYTES", 3)
    rng = random.Random(1205 + numpy_popcount)
    with Engine(EngineConfig(data_dir=None)) as e:
        for round_ in range(120):
            value = rng.randbytes(rng.randrange(1, 200))
            e.execute("SET", "b", value)
            if round_ % 2:
                e.execute("APPEND", "b", b"\xa5" * 600)  # a bytearray from here
                value += b"\xa5" * 600
            n = len(value)
            assert e.execute("BITCOUNT", "b") == _reference(value, [])
            for _ in range(12):
                form = rng.randrange(3)
                size = n * 8 if form == 2 else n
                lo, hi = rng.randrange(-size - 2, size + 2), rng.randrange(-size - 2, size + 2)
                args = [str(lo)] if form == 0 else [str(lo), str(hi)]
                if form == 2:
                    args.append("BIT")
                got = e.execute("BITCOUNT", "b", *args)
                assert got == _reference(value, args), (round_, n, args)


def test_a_large_random_bitmap() -> None:
    rng = random.Random(7)
    value = rng.randbytes((4 << 20) + 13)
    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("SET", "big", value)
        assert e.execute("BITCOUNT", "big") == int.from_bytes(value, "big").bit_count()
        assert e.execute("BITCOUNT", "big", "5", "-7", "BIT") == _reference(
            value, ["5", "-7", "BIT"]
        )
        assert (
            e.execute("BITCOUNT", "big", "1", "-2")
            == int.from_bytes(value[1:-1], "big").bit_count()
        )
