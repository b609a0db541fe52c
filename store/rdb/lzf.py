"""LZF, as RDB strings use it: Redis's own C library (liblzf 3.6) through ``python-lzf``.

RDB strings longer than 20 bytes are stored LZF-compressed when that saves at least 4
bytes; a DUMP payload is byte-identical to the peer's only if the compressor makes the
same choices. ``python-lzf`` bundles the liblzf Redis bundles, built with Redis's settings
(HLOG 16, VERY_FAST, not ULTRA_FAST, CHECK_INPUT), so it does by construction what
:mod:`store.rdb.lzf_port` (the Python port this module replaced) does step by step. The
port is ~190x slower: a DUMP of a 128 MB string took 9.6 s of the event loop, 0.051 s
now (decision 0020). ``tests/store/test_lzf.py`` holds the two byte for byte against each other.

Two guards around the library:

* ``python-lzf``'s ``decompress`` allocates the announced length without checking the
  allocation, and a RESTORE payload announces any length it likes. A length that
  ``data`` cannot decode to (LZF expands at most :data:`MAX_EXPANSION` times) is refused
  here; one above :data:`C_MAX_OUT` bytes is decoded by the port, which fails cleanly
  with MemoryError.
* Its ``compress(data, n)`` lets the output reach ``n + 1`` bytes: it is called with one
  less, so ``out_len`` means what liblzf's does.
"""

from __future__ import annotations

import lzf as _c

from .lzf_port import LzfError, port_decompress

__all__ = ["C_MAX_OUT", "MAX_EXPANSION", "LzfError", "compress", "decompress"]

MAX_EXPANSION = 88
"""Most output bytes per input byte: a 3-byte back reference copies 264 bytes."""
C_MAX_OUT = 1 << 30
"""Outputs past this many bytes are decoded by the port (see the module doc)."""


def compress(data: bytes | bytearray | memoryview, out_len: int) -> bytes | None:
    """``lzf_compress(data, out_len)``: the compressed bytes, or None if they would not fit
    in ``out_len`` bytes."""
    if len(data) < 2 or out_len < 2:  # no room for a literal's control byte and a byte
        return None
    packed: bytes | None = _c.compress(bytes(data), out_len - 1)
    return packed


def decompress(data: bytes, out_len: int) -> bytes:
    """``lzf_decompress``: exactly ``out_len`` bytes, or LzfError."""
    if out_len < 0 or out_len > MAX_EXPANSION * len(data):
        raise LzfError("wrong decompressed length")
    if out_len == 0:
        if data:
            raise LzfError("wrong decompressed length")
        return b""
    if out_len > C_MAX_OUT:
        return port_decompress(bytes(data), out_len)
    try:
        out: bytes | None = _c.decompress(bytes(data), out_len)
    except ValueError as exc:  # liblzf's EINVAL: a reference before the start, a cut run
        raise LzfError(f"corrupt LZF data ({exc})") from None
    if out is None or len(out) != out_len:
        raise LzfError("wrong decompressed length")
    return out
