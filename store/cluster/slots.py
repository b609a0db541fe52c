"""Hash slots: which of the 16384 slots a key belongs to, exactly as Redis Cluster.

``key_slot(key)`` is CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0) of the key
modulo 16384, where a key holding a hash tag hashes only the tag: the bytes between the
first ``{`` and the first ``}`` after it, when that is not empty (``{user1000}.following``
and ``{user1000}.followers`` share a slot; ``foo{}{bar}`` hashes the whole key). Slot
ranges are inclusive ``(first, last)`` pairs, as CLUSTER SLOTS shows them.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable

__all__ = ["SLOT_COUNT", "crc16", "crc16_reference", "key_slot", "parse_slot", "ranges_of"]

SLOT_COUNT = 16384


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _table()


def crc16_reference(data: bytes) -> int:
    """CRC16-CCITT (XMODEM) computed table-wise in Python (the reference :func:`crc16`
    is tested against)."""
    crc = 0
    table = _TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ byte) & 0xFF]
    return crc


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with.

    ``binascii.crc_hqx`` with initial value 0 is exactly this CRC, in C: the per-slot key
    index hashes every key the keyspace adds, so the pure-Python loop was too slow."""
    return binascii.crc_hqx(data, 0)


def key_slot(key: bytes) -> int:
    """The hash slot of ``key`` (hash tags honoured; see the module docstring)."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc16(key) & (SLOT_COUNT - 1)


def parse_slot(raw: bytes | str) -> int | None:
    """A slot number in range, or None (not an integer, or outside 0..16383)."""
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 0 <= value < SLOT_COUNT else None


def ranges_of(slots: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted slot numbers -> the inclusive ranges they form."""
    out: list[tuple[int, int]] = []
    for slot in sorted(set(slots)):
        if out and out[-1][1] == slot - 1:
            out[-1] = (out[-1][0], slot)
        else:
            out.append((slot, slot))
    return out
