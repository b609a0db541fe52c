"""RDB's building blocks: lengths, strings, a bounded reader (``rdb.c``).

Lengths: ``00xxxxxx`` (< 64), ``01xxxxxx xxxxxxxx`` (< 16384, big-endian), ``0x80`` + 4
bytes or ``0x81`` + 8 bytes big-endian. Strings (``rdbSaveRawString``): text of at most
11 bytes that reads back as the same 32-bit integer is ``0xC0``/``0xC1``/``0xC2`` + 1/2/4
bytes little-endian; longer than 20 bytes and LZF-compressible by 4 bytes or more:
``0xC3`` + compressed length + original length + LZF data (:mod:`.lzf`); else length + bytes.
"""

from __future__ import annotations

from ..numbers import parse_int64
from . import lzf

__all__ = ["PayloadError", "Reader", "length_bytes", "string_bytes"]


class PayloadError(ValueError):
    """A payload whose value does not decode (Redis: ``Bad data format``)."""


def length_bytes(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def string_bytes(s: bytes) -> bytes:
    if len(s) <= 11:
        value = parse_int64(s)
        if value is not None:
            if -(2**7) <= value < 2**7:
                return b"\xc0" + value.to_bytes(1, "little", signed=True)
            if -(2**15) <= value < 2**15:
                return b"\xc1" + value.to_bytes(2, "little", signed=True)
            if -(2**31) <= value < 2**31:
                return b"\xc2" + value.to_bytes(4, "little", signed=True)
    if len(s) > 20:
        packed = lzf.compress(s, len(s) - 4)
        if packed is not None:
            return b"\xc3" + length_bytes(len(packed)) + length_bytes(len(s)) + packed
    return length_bytes(len(s)) + s


class Reader:
    """Reads one RDB value; every read past the end raises :class:`PayloadError`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PayloadError("truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def int_le(self, width: int, *, signed: bool = True) -> int:
        return int.from_bytes(self.take(width), "little", signed=signed)

    def length(self) -> tuple[int, bool]:
        """(the length, whether it is a special string encoding instead)."""
        b = self.take(1)[0]
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.take(1)[0], False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise PayloadError("bad length")

    def number(self) -> int:
        """A length-encoded number (an id, a counter): any unsigned 64-bit value."""
        n, special = self.length()
        if special:
            raise PayloadError("bad length")
        return n

    def count(self) -> int:
        """A length-encoded count of items that follow (each takes a byte or more)."""
        n = self.number()
        if n > len(self.data):
            raise PayloadError("count past the payload")  # every item takes a byte or more
        return n

    def string(self) -> bytes:
        n, special = self.length()
        if not special:
            return self.take(n)
        if n in (0, 1, 2):
            width = 1 << n
            return str(int.from_bytes(self.take(width), "little", signed=True)).encode()
        if n == 3:
            clen, olen = self.count(), self.length()[0]
            try:
                return lzf.decompress(self.take(clen), olen)
            except lzf.LzfError as exc:
                raise PayloadError(str(exc)) from exc
        raise PayloadError("unknown string encoding")

    def done(self) -> None:
        if self.pos != len(self.data):
            raise PayloadError("trailing bytes")
