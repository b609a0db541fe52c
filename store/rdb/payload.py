"""DUMP/RESTORE payloads: one RDB-serialised value, the RDB version and a CRC64.

Layout (``dumpCommand``/``verifyDumpPayload``)::

    1 byte     RDB object type: 0 string, 4 hash (hashtable), 16 hash (listpack)
    ...        the value, RDB-encoded (below)
    2 bytes    RDB version, little-endian: 80, the peer's (Valkey 9); any version up to
               80 is accepted (Redis 7.x writes 11)
    8 bytes    CRC-64/Jones (:mod:`.crc64`) of everything before it, little-endian

Lengths: ``00xxxxxx`` (< 64), ``01xxxxxx xxxxxxxx`` (< 16384, big-endian), ``0x80`` + 4
bytes or ``0x81`` + 8 bytes big-endian. Strings (``rdbSaveRawString``): text of at most
11 bytes that reads back as the same 32-bit integer is ``0xC0``/``0xC1``/``0xC2`` + 1/2/4
bytes little-endian; longer than 20 bytes and LZF-compressible by 4 bytes or more:
``0xC3`` + compressed length + original length + LZF data (:mod:`.lzf`); else length + bytes.

A hash of at most 128 fields, every field and value at most 64 bytes (Redis's listpack
limits), is type 16: one string holding a listpack (:mod:`.listpack`) of field, value,
field, value ... in insertion order, as Redis keeps it, so it is byte-identical with the
peer's. A larger hash is type 4 (count, then field/value strings) in insertion order;
the peer writes its hashtable's order, so those payloads are equivalent, not identical.
"""

from __future__ import annotations

from ..numbers import parse_int64
from . import listpack, lzf
from .crc64 import crc64

__all__ = ["RDB_VERSION", "PayloadError", "dump_value", "load_value", "verify"]

RDB_VERSION = 80
TYPE_STRING, TYPE_HASH, TYPE_HASH_LISTPACK = 0, 4, 16
LISTPACK_ENTRIES, LISTPACK_VALUE = 128, 64


class PayloadError(ValueError):
    """A payload whose value does not decode (Redis: ``Bad data format``)."""


def _len(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def _string(s: bytes) -> bytes:
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
            return b"\xc3" + _len(len(packed)) + _len(len(s)) + packed
    return _len(len(s)) + s


def is_listpack_hash(value: dict[bytes, bytes]) -> bool:
    return len(value) <= LISTPACK_ENTRIES and all(
        len(f) <= LISTPACK_VALUE and len(v) <= LISTPACK_VALUE for f, v in value.items()
    )


def dump_value(value: bytes | dict[bytes, bytes]) -> bytes:
    """The DUMP payload of a string or a hash."""
    if isinstance(value, bytes):
        body = bytes([TYPE_STRING]) + _string(value)
    elif is_listpack_hash(value):
        flat = [x for pair in value.items() for x in pair]
        body = bytes([TYPE_HASH_LISTPACK]) + _string(listpack.encode(flat))
    else:
        parts = [bytes([TYPE_HASH]), _len(len(value))]
        for f, v in value.items():
            parts += [_string(f), _string(v)]
        body = b"".join(parts)
    body += RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def verify(payload: bytes) -> bool:
    """Redis's ``verifyDumpPayload``: a known RDB version and a matching CRC."""
    if len(payload) < 10:
        return False
    if int.from_bytes(payload[-10:-8], "little") > RDB_VERSION:
        return False
    return crc64(payload[:-8]) == int.from_bytes(payload[-8:], "little")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise PayloadError("truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

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

    def count(self) -> int:
        n, special = self.length()
        if special:
            raise PayloadError("bad length")
        return n

    def string(self) -> bytes:
        n, special = self.length()
        if not special:
            return self.take(n)
        if n in (0, 1, 2):
            width = 1 << n
            return str(int.from_bytes(self.take(width), "little", signed=True)).encode()
        if n == 3:
            clen, olen = self.count(), self.count()
            try:
                return lzf.decompress(self.take(clen), olen)
            except lzf.LzfError as exc:
                raise PayloadError(str(exc)) from exc
        raise PayloadError("unknown string encoding")


def load_value(payload: bytes) -> bytes | dict[bytes, bytes]:
    """The value of a verified payload; PayloadError for types memvec does not hold and
    malformed data."""
    r = _Reader(payload[:-10])
    kind = r.take(1)[0]
    value: bytes | dict[bytes, bytes]
    if kind == TYPE_STRING:
        value = r.string()
    elif kind == TYPE_HASH:
        n = r.count()
        value = {}
        for _ in range(n):
            f = r.string()
            value[f] = r.string()
        if len(value) != n or not value:
            raise PayloadError("duplicate or missing hash fields")
    elif kind == TYPE_HASH_LISTPACK:
        try:
            flat = listpack.decode(r.string())
        except listpack.ListpackError as exc:
            raise PayloadError(str(exc)) from exc
        if not flat or len(flat) % 2:
            raise PayloadError("odd listpack hash")
        value = dict(zip(flat[::2], flat[1::2], strict=True))
        if len(value) * 2 != len(flat):
            raise PayloadError("duplicate hash fields")
    else:
        raise PayloadError(f"RDB type {kind} is not supported")
    if r.pos != len(r.data):
        raise PayloadError("trailing bytes")
    return value
