"""The size in bytes of Redis's stream listpacks, to put node boundaries where Redis does.

A Redis stream is a radix tree of listpacks; ``streamAppendItem`` starts a new listpack
when the current one holds ``stream-node-max-entries`` (100) entries, live or deleted,
or when its size plus the new entry's field and value lengths reaches
``stream-node-max-bytes`` (4096). Approximate trimming (``MAXLEN ~``) removes whole
listpacks only, so replies depend on where those boundaries fall. This module computes
the listpack's exact size (``listpack.c`` encodings; ``t_stream.c`` entry layout):

* a listpack is a 6-byte header, its elements, and a 1-byte terminator;
* an element is its encoding plus a back-length of 1-5 bytes; strings that are canonical
  64-bit integers are stored as integers (1, 2, 3, 4, 5 or 9 bytes by range), other
  strings take 1, 2 or 5 header bytes by length;
* a listpack starts with the master entry ``count, deleted, nfields, field..., 0``; each
  entry is ``flags, ms-diff, seq-diff, [nfields, field,] value..., lp-count``, the field
  names left out when they equal the master entry's (SAMEFIELDS).
"""

from __future__ import annotations

from ..numbers import parse_int64

HEADER_BYTES = 7  # total-bytes (4) + element count (2) + terminator (1)
_I64 = 1 << 64


def _backlen(encoded: int) -> int:
    if encoded <= 127:
        return 1
    if encoded < 16383:
        return 2
    if encoded < 2097151:
        return 3
    if encoded < 268435455:
        return 4
    return 5


def int_size(value: int) -> int:
    """Bytes of an integer element."""
    if 0 <= value <= 127:
        enc = 1
    elif -4096 <= value <= 4095:
        enc = 2
    elif -32768 <= value <= 32767:
        enc = 3
    elif -8388608 <= value <= 8388607:
        enc = 4
    elif -(1 << 31) <= value < (1 << 31):
        enc = 5
    else:
        enc = 9
    return enc + _backlen(enc)


def str_size(raw: bytes) -> int:
    """Bytes of a string element (an integer element if ``raw`` is a canonical int64)."""
    if len(raw) <= 20:
        value = parse_int64(raw)
        if value is not None:
            return int_size(value)
    n = len(raw)
    enc = 1 + n if n < 64 else (2 + n if n < 4096 else 5 + n)
    return enc + _backlen(enc)


def diff(a: int, b: int) -> int:
    """``a - b`` as Redis computes it: unsigned 64-bit, then read as signed."""
    d = (a - b) % _I64
    return d - _I64 if d >= 1 << 63 else d


def master_size(fields: list[bytes]) -> int:
    """A new listpack holding only the master entry for an entry with these fields."""
    names = fields[0::2]
    return (
        HEADER_BYTES
        + int_size(1)
        + int_size(0)
        + int_size(len(names))
        + sum(str_size(f) for f in names)
        + int_size(0)
    )


def entry_size(fields: list[bytes], master: list[bytes], id_diff: tuple[int, int]) -> int:
    """Bytes one entry adds to a listpack whose master fields are ``master``."""
    names = fields[0::2]
    same = names == master
    n = len(names)
    size = int_size(2 if same else 0) + int_size(id_diff[0]) + int_size(id_diff[1])
    if same:
        size += sum(str_size(v) for v in fields[1::2])
        lp_count = n + 3
    else:
        size += int_size(n) + sum(str_size(x) for x in fields)
        lp_count = 2 * n + 4
    return size + int_size(lp_count)
