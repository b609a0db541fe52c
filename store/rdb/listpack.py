"""Listpack (Redis ``listpack.c``): how small hashes are stored in RDB (type 16).

Layout: total bytes (uint32 LE), element count (uint16 LE, 65535 = unknown), entries, 0xFF.
Each entry is an encoding + data, then its own length (``backlen``, 7 bits per byte, most
significant group first, continuation bit 0x80 on every byte but the first). Integers
(text that ``string2ll`` reads back exactly) take the smallest integer encoding::

    0xxxxxxx                 7-bit uint          110xxxxx yyyyyyyy  13-bit int
    10LLLLLL <data>          string < 64         1110LLLL LLLLLLLL  string < 4096
    11110000 <4B len> <data> larger string       0xF1/F2/F3/F4       int16/24/32/64 LE
"""

from __future__ import annotations

from ..numbers import parse_int64

__all__ = ["ListpackError", "decode", "encode"]


class ListpackError(ValueError):
    """Bytes that are not a well-formed listpack."""


def _backlen(size: int) -> bytes:
    if size <= 127:
        return bytes([size])
    if size < 16383:
        return bytes([size >> 7, (size & 127) | 128])
    if size < 2097151:
        return bytes([size >> 14, ((size >> 7) & 127) | 128, (size & 127) | 128])
    if size < 268435455:
        return bytes(
            [size >> 21, ((size >> 14) & 127) | 128, ((size >> 7) & 127) | 128, (size & 127) | 128]
        )
    return bytes(
        [
            size >> 28,
            ((size >> 21) & 127) | 128,
            ((size >> 14) & 127) | 128,
            ((size >> 7) & 127) | 128,
            (size & 127) | 128,
        ]
    )


def _entry(element: bytes) -> bytes:
    value = parse_int64(element) if len(element) <= 20 else None
    if value is not None:
        if 0 <= value <= 127:
            enc = bytes([value])
        elif -4096 <= value <= 4095:
            u = value & 0x1FFF
            enc = bytes([0xC0 | (u >> 8), u & 0xFF])
        elif -(2**15) <= value < 2**15:
            enc = b"\xf1" + value.to_bytes(2, "little", signed=True)
        elif -(2**23) <= value < 2**23:
            enc = b"\xf2" + value.to_bytes(3, "little", signed=True)
        elif -(2**31) <= value < 2**31:
            enc = b"\xf3" + value.to_bytes(4, "little", signed=True)
        else:
            enc = b"\xf4" + value.to_bytes(8, "little", signed=True)
    else:
        size = len(element)
        if size < 64:
            enc = bytes([0x80 | size]) + element
        elif size < 4096:
            enc = bytes([0xE0 | (size >> 8), size & 0xFF]) + element
        else:
            enc = b"\xf0" + size.to_bytes(4, "little") + element
    return enc + _backlen(len(enc))


def encode(elements: list[bytes]) -> bytes:
    body = b"".join(_entry(e) for e in elements)
    total = 6 + len(body) + 1
    count = min(len(elements), 65535)
    return total.to_bytes(4, "little") + count.to_bytes(2, "little") + body + b"\xff"


def decode(blob: bytes) -> list[bytes]:
    if len(blob) < 7 or int.from_bytes(blob[:4], "little") != len(blob) or blob[-1] != 0xFF:
        raise ListpackError("bad listpack header")
    out: list[bytes] = []
    p, end = 6, len(blob) - 1
    while p < end:
        b = blob[p]
        if b < 0x80:
            value: bytes = str(b).encode()
            size = 1
        elif b & 0xC0 == 0x80:
            n = b & 0x3F
            value, size = blob[p + 1 : p + 1 + n], 1 + n
        elif b & 0xE0 == 0xC0:
            u = ((b & 0x1F) << 8) | blob[p + 1]
            value, size = str(u - 0x2000 if u & 0x1000 else u).encode(), 2
        elif b & 0xF0 == 0xE0:
            n = ((b & 0x0F) << 8) | blob[p + 1]
            value, size = blob[p + 2 : p + 2 + n], 2 + n
        elif b == 0xF0:
            n = int.from_bytes(blob[p + 1 : p + 5], "little")
            value, size = blob[p + 5 : p + 5 + n], 5 + n
        elif b in (0xF1, 0xF2, 0xF3, 0xF4):
            width = {0xF1: 2, 0xF2: 3, 0xF3: 4, 0xF4: 8}[b]
            raw = blob[p + 1 : p + 1 + width]
            value, size = str(int.from_bytes(raw, "little", signed=True)).encode(), 1 + width
        else:
            raise ListpackError(f"unknown listpack encoding 0x{b:02x}")
        if p + size > end:
            raise ListpackError("entry past the end")
        out.append(value)
        p += size + len(_backlen(size))
    if p != end:
        raise ListpackError("entries overrun the end")
    return out
