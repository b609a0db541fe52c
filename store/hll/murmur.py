"""MurmurHash64A (MurmurHash2, 64-bit), endian-neutral, as Redis's ``hyperloglog.c`` has it.

The HyperLogLog register an element lands in, and the run of zeros it counts, come from
this hash with seed ``0xadc83b19``; any other hash would give different registers than
the peer's for the same elements.
"""

from __future__ import annotations

__all__ = ["murmurhash64a"]

_M = 0xC6A4A7935BD1E995
_R = 47
_MASK = (1 << 64) - 1


def murmurhash64a(data: bytes, seed: int) -> int:
    """The 64-bit hash of ``data``; words are read little-endian whatever the platform."""
    length = len(data)
    h = (seed ^ (length * _M)) & _MASK
    whole = length - (length & 7)
    for i in range(0, whole, 8):
        k = int.from_bytes(data[i : i + 8], "little")
        k = (k * _M) & _MASK
        k ^= k >> _R
        k = (k * _M) & _MASK
        h ^= k
        h = (h * _M) & _MASK
    tail = data[whole:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _M) & _MASK
    h ^= h >> _R
    h = (h * _M) & _MASK
    h ^= h >> _R
    return h
