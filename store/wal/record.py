"""The byte format of one transaction-log record, and its writer/reader pair.

A segment file is nothing but records laid end to end; there is no file header, so a
segment can be truncated at any record boundary and stay valid. All integers are
little-endian and unsigned.

======  =====  =================================================================
offset  width  field
======  =====  =================================================================
0       1      ``magic``: ``0xA1`` (high nibble ``0xA`` marks a record, low nibble is
               the format version, 1). Never ``0x00``, so a zero-filled tail is never
               mistaken for a record.
1       4      ``length``: payload length in bytes (at most ``MAX_PAYLOAD_BYTES``)
5       4      ``crc``: CRC32C (Castagnoli) over bytes ``[0:5]`` and ``[9:25+length]``,
               i.e. every byte of the record except the crc field itself (magic,
               length, epoch, seq and payload)
9       8      ``epoch``: the writer epoch (fencing; 0 until replication)
17      8      ``seq``: the record's sequence number (first record of a log is 1)
25      n      ``payload``: opaque bytes (the engine's encoded command)
======  =====  =================================================================

So the empty payload with epoch 0 and seq 1 encodes to 25 bytes. A record is *intact*
when its magic matches, all ``25 + length`` bytes are present and the CRC matches; the
reader reports anything else as :class:`BadRecord` with the reason, and leaves it to the
caller (recovery) to decide whether that is a torn tail or corruption.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c

from .base import LogRecord

MAGIC = 0xA1
HEADER = struct.Struct("<BIIQQ")
HEADER_BYTES = HEADER.size  # 25
MAX_PAYLOAD_BYTES = 0xFFFF_FFFF
_LENGTH = struct.Struct("<I")
_TAIL = struct.Struct("<QQ")
_MAGIC_BYTE = bytes([MAGIC])

# Reasons a record does not decode (``BadRecord.reason``).
SHORT_HEADER = "short header"
BAD_MAGIC = "bad magic byte"
SHORT_PAYLOAD = "short payload"
BAD_CRC = "crc mismatch"


@dataclass(frozen=True, slots=True)
class BadRecord:
    """Bytes at ``offset`` that are not an intact record, and why."""

    offset: int
    reason: str


def encode(seq: int, epoch: int, payload: bytes | bytearray | memoryview) -> bytes:
    """Return the bytes of one record. Raises ``ValueError`` for out-of-range fields."""
    length = len(payload)
    if length > MAX_PAYLOAD_BYTES:
        raise ValueError(f"record payload of {length} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if not 0 <= seq < 1 << 64 or not 0 <= epoch < 1 << 64:
        raise ValueError(f"seq {seq} and epoch {epoch} must fit in an unsigned 64-bit integer")
    head = _MAGIC_BYTE + _LENGTH.pack(length)
    tail = _TAIL.pack(epoch, seq)
    crc = crc32c.crc32c(payload, value=crc32c.crc32c(tail, value=crc32c.crc32c(head)))
    return b"".join((head, _LENGTH.pack(crc), tail, payload))


def decode_at(
    buf: bytes | memoryview, offset: int, end: int | None = None
) -> tuple[LogRecord, int] | BadRecord:
    """Decode the record starting at ``buf[offset]``, reading no further than ``end``.

    Returns ``(record, offset_after_it)`` for an intact record, else a :class:`BadRecord`.
    """
    limit = len(buf) if end is None else end
    if limit - offset < HEADER_BYTES:
        return BadRecord(offset, SHORT_HEADER)
    magic, length, crc, epoch, seq = HEADER.unpack_from(buf, offset)
    if magic != MAGIC:
        return BadRecord(offset, BAD_MAGIC)
    stop = offset + HEADER_BYTES + length
    if stop > limit:
        return BadRecord(offset, SHORT_PAYLOAD)
    if _crc_of(buf, offset, stop) != crc:
        return BadRecord(offset, BAD_CRC)
    return LogRecord(seq, epoch, bytes(buf[offset + HEADER_BYTES : stop])), stop


def decode(data: bytes) -> LogRecord:
    """Decode a buffer holding exactly one record; ``ValueError`` if it is anything else."""
    result = decode_at(data, 0)
    if isinstance(result, BadRecord):
        raise ValueError(f"not an intact record: {result.reason}")
    record, stop = result
    if stop != len(data):
        raise ValueError(f"{len(data) - stop} bytes after the record")
    return record


def find_intact_after(buf: bytes, start: int, *, min_seq: int, max_seq: int) -> int | None:
    """Offset of the first intact record at or after ``start`` whose seq is in range.

    Recovery uses this to tell a torn tail (nothing intact follows the bad bytes) from
    damage in the middle (intact records follow). Every offset holding the magic byte is
    tried; the seq range is checked before the CRC so that scanning garbage stays linear.
    """
    limit = len(buf)
    pos = buf.find(_MAGIC_BYTE, start)
    while 0 <= pos <= limit - HEADER_BYTES:
        _, length, crc, _, seq = HEADER.unpack_from(buf, pos)
        stop = pos + HEADER_BYTES + length
        if min_seq <= seq <= max_seq and stop <= limit and _crc_of(buf, pos, stop) == crc:
            return pos
        pos = buf.find(_MAGIC_BYTE, pos + 1)
    return None


def _crc_of(buf: bytes | memoryview, offset: int, stop: int) -> int:
    view = memoryview(buf)
    head = crc32c.crc32c(view[offset : offset + 5])
    return crc32c.crc32c(view[offset + 9 : stop], value=head)
