"""LZF in Python, step by step as Redis's bundled liblzf 3.6 (``lzf_c.c`` with HLOG 16,
VERY_FAST, ``lzf_d.c``): the reference :mod:`store.rdb.lzf` is tested against, and its
fallback for outputs too large to hand to the C library's unchecked allocation.

RDB strings longer than 20 bytes are stored LZF-compressed when that saves at least 4
bytes, so a DUMP payload is byte-identical to the peer's only if the compressor makes the
same choices: :func:`port_compress` is a step-by-step port (same hash, same hash-slot updates
after a match, same 264-byte match cap and 8 KiB window). Format::

    000LLLLL <L+1 bytes>          literal run of 1..32 bytes
    LLLooooo oooooooo             back reference, length L+2 (3..8), offset o+1
    111ooooo LLLLLLLL oooooooo    back reference, length L+9, offset o+1

liblzf leaves its hash table uninitialised; a stale slot can only ever point at real
earlier input with equal bytes, so this port (an empty table) matches it in practice.
"""

from __future__ import annotations

__all__ = ["LzfError", "port_compress", "port_decompress"]

_HSIZE_MASK = (1 << 16) - 1
_MAX_LIT = 32
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


class LzfError(ValueError):
    """Compressed data that does not decode to the announced length."""


def _idx(h: int) -> int:
    return ((h >> 8) - h * 5) & _HSIZE_MASK


def port_compress(data: bytes, out_len: int) -> bytes | None:
    """``lzf_compress(data, out_len)``: the compressed bytes, or None if they would not fit
    in ``out_len`` bytes."""
    d = data
    n = len(d)
    if not n or not out_len or n < 2:
        return None
    out = bytearray(out_len + 8)
    htab: dict[int, int] = {}
    lit, op, ip = 0, 1, 0
    hval = (d[0] << 8) | d[1]
    while ip < n - 2:
        hval = ((hval << 8) | d[ip + 2]) & 0xFFFFFFFF
        slot = _idx(hval)
        ref = htab.get(slot)
        htab[slot] = ip
        if (
            ref is not None
            and 0 <= ip - ref - 1 < _MAX_OFF
            and ref > 0
            and d[ref + 2] == d[ip + 2]
            and d[ref] == d[ip]
            and d[ref + 1] == d[ip + 1]
        ):
            off = ip - ref - 1
            length = 2
            maxlen = min(n - ip - length, _MAX_REF)
            if op + 4 >= out_len and op - (0 if lit else 1) + 4 >= out_len:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF
            op -= 0 if lit else 1
            matched = False
            if maxlen > 16:
                for _ in range(16):
                    length += 1
                    if d[ref + length] != d[ip + length]:
                        matched = True
                        break
            if not matched:
                length += 1
                while length < maxlen and d[ref + length] == d[ip + length]:
                    length += 1
            length -= 2
            ip += 1
            if length < 7:
                out[op] = (off >> 8) + (length << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = length - 7
                op += 2
            out[op] = off & 0xFF
            op += 2  # the offset byte, then start a new literal run
            lit = 0
            ip += length + 1
            if ip >= n - 2:
                break
            ip -= 2
            hval = (d[ip] << 8) | d[ip + 1]
            hval = ((hval << 8) | d[ip + 2]) & 0xFFFFFFFF
            htab[_idx(hval)] = ip
            ip += 1
            hval = ((hval << 8) | d[ip + 2]) & 0xFFFFFFFF
            htab[_idx(hval)] = ip
            ip += 1
        else:
            if op >= out_len:
                return None
            lit += 1
            out[op] = d[ip]
            op += 1
            ip += 1
            if lit == _MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_len:
        return None
    while ip < n:
        lit += 1
        out[op] = d[ip]
        op += 1
        ip += 1
        if lit == _MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    op -= 0 if lit else 1
    return bytes(out[:op])


def port_decompress(data: bytes, out_len: int) -> bytes:
    """``lzf_decompress``: exactly ``out_len`` bytes, or LzfError."""
    out = bytearray()
    ip, n = 0, len(data)
    while ip < n:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            if ip + run > n:
                raise LzfError("literal run past the end")
            out += data[ip : ip + run]
            ip += run
            continue
        length = ctrl >> 5
        if length == 7:
            if ip >= n:
                raise LzfError("truncated back reference")
            length += data[ip]
            ip += 1
        if ip >= n:
            raise LzfError("truncated back reference")
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[ip] - 1
        ip += 1
        if ref < 0:
            raise LzfError("back reference before the start")
        for _ in range(length + 2):
            out.append(out[ref])
            ref += 1
    if len(out) != out_len:
        raise LzfError("wrong decompressed length")
    return bytes(out)
