"""CRC-64/Jones as Redis's ``crc64.c`` computes it: reflected polynomial 0xad93d23594c935a9,
initial value 0, no final xor. DUMP payloads end with it, little-endian.

Check value: ``crc64(b"123456789") == 0xE9C6D914C4B8D9CA`` (Redis's own test vector).
"""

from __future__ import annotations

__all__ = ["crc64"]

_POLY = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reversed (reflected form)


def _table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc64(data: bytes, crc: int = 0) -> int:
    """The CRC of ``data``, continuing from ``crc``."""
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc
