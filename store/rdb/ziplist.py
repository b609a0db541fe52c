"""Ziplist (Redis < 7 ``ziplist.c``): read-only, for RESTORE of older payloads.

Layout: total bytes (uint32 LE), offset of the last entry (uint32 LE), entry count
(uint16 LE, 65535 = unknown), entries, 0xFF. An entry is the previous entry's length
(1 byte below 254, else 0xFE + uint32 LE), an encoding and its data::

    00pppppp                 string < 64            11000000  int16 LE
    01pppppp qqqqqqqq        string < 16384 (BE)    11010000  int32 LE
    10000000 <4 bytes BE>    larger string          11100000  int64 LE
    11110000  int24 LE       11111110  int8         1111xxxx  0..12 (xxxx - 1)
"""

from __future__ import annotations

__all__ = ["ZiplistError", "decode"]

_INTS = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}


class ZiplistError(ValueError):
    """Bytes that are not a well-formed ziplist."""


def decode(blob: bytes) -> list[bytes]:
    if len(blob) < 11 or int.from_bytes(blob[:4], "little") != len(blob) or blob[-1] != 0xFF:
        raise ZiplistError("bad ziplist header")
    out: list[bytes] = []
    p, end = 10, len(blob) - 1
    while p < end:
        p += 5 if blob[p] == 0xFE else 1  # the previous entry's length
        if p >= end:
            raise ZiplistError("entry past the end")
        b = blob[p]
        kind = b >> 6
        if kind == 0:
            n, p = b & 0x3F, p + 1
        elif kind == 1:
            n, p = ((b & 0x3F) << 8) | blob[p + 1], p + 2
        elif b == 0x80:
            n, p = int.from_bytes(blob[p + 1 : p + 5], "big"), p + 5
        elif b in _INTS:
            n = _INTS[b]
            raw = blob[p + 1 : p + 1 + n]
            if p + 1 + n > end:
                raise ZiplistError("entry past the end")
            out.append(str(int.from_bytes(raw, "little", signed=True)).encode())
            p += 1 + n
            continue
        elif 0xF1 <= b <= 0xFD:
            out.append(str((b & 0x0F) - 1).encode())
            p += 1
            continue
        else:
            raise ZiplistError(f"unknown ziplist encoding 0x{b:02x}")
        if p + n > end:
            raise ZiplistError("entry past the end")
        out.append(blob[p : p + n])
        p += n
    if p != end:
        raise ZiplistError("entries overrun the end")
    return out
