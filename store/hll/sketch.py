"""Redis's HyperLogLog string, byte for byte (``hyperloglog.c``), so GET of an HLL key, DUMP
and PFCOUNT answer what the peer answers.

Layout (all of it is the string value)::

    offset  width  field
    0       4      magic "HYLL"
    4       1      encoding: 0 dense, 1 sparse
    5       3      unused, zero
    8       8      cached cardinality, little-endian; bit 7 of byte 15 set = cache invalid
    16      ...    registers: 16384 of them (P = 14), each the longest run of zeros + 1

Dense: 12288 bytes, 6 bits per register, packed least significant bit first (register i
is bits 6i..6i+5 of the little-endian bit stream). Sparse: run-length opcodes::

    00xxxxxx           ZERO   xxxxxx + 1 registers (1..64) set to 0
    01xxxxxx yyyyyyyy  XZERO  14-bit length + 1 (1..16384) registers set to 0
    1vvvvvxx           VAL    xx + 1 registers (1..4) set to vvvvv + 1 (1..32)

A new HLL is sparse, one XZERO over every register, cache 0 (valid). A register value
above 32, or a sparse string that would pass ``hll-sparse-max-bytes`` (3000), converts it
to dense, as Redis does. :func:`sparse_set` is a line-by-line port of ``hllSparseSet``
(split, then merge of adjacent equal VALs) because the exact bytes depend on it.

An element's register and run come from :func:`store.hll.murmur.murmurhash64a` with seed
``0xadc83b19``: the low 14 bits pick the register, the run of zeros above them counts.
The estimate is Ertl's improved estimator over the register histogram, as in Redis 5+.
"""

from __future__ import annotations

import math

import numpy as np

from .murmur import murmurhash64a
from .sparse_ops import Promote, SparseOps

__all__ = [
    "DENSE",
    "HDR_SIZE",
    "REGISTERS",
    "SPARSE",
    "CorruptHLL",
    "add",
    "add_many",
    "cardinality",
    "estimate",
    "is_hll",
    "merge_into",
    "new_sparse",
    "registers",
]

P = 14
Q = 64 - P
REGISTERS = 1 << P
BITS = 6
HDR_SIZE = 16
DENSE_SIZE = HDR_SIZE + REGISTERS * BITS // 8
DENSE, SPARSE = 0, 1
SPARSE_MAX_BYTES = 3000  # Redis's hll-sparse-max-bytes default
SEED = 0xADC83B19
ALPHA_INF = 0.721347520444481703680
_WEIGHTS = np.array([1, 2, 4, 8, 16, 32], dtype=np.uint8)


class CorruptHLL(Exception):
    """A sparse representation that does not cover exactly 16384 registers."""


def new_sparse() -> bytearray:
    """An empty HLL: sparse, one XZERO of 16384 registers, cached cardinality 0."""
    return bytearray(b"HYLL" + bytes([SPARSE]) + bytes(11) + b"\x7f\xff")


def is_hll(value: bytes) -> bool:
    """Redis's ``isHLLObjectOrReply`` checks: magic, encoding, and the dense size."""
    if len(value) < HDR_SIZE or value[:4] != b"HYLL" or value[4] > SPARSE:
        return False
    return not (value[4] == DENSE and len(value) != DENSE_SIZE)


def pattern(element: bytes) -> tuple[int, int]:
    """``hllPatLen``: (register index, run of zeros + 1) of an element."""
    h = murmurhash64a(element, SEED)
    index = h & (REGISTERS - 1)
    h >>= P
    h |= 1 << Q
    run = (h & -h).bit_length()  # trailing zeros + 1
    return index, run


# -- dense ---------------------------------------------------------------------------------


def dense_get(s: bytearray, index: int) -> int:
    bit = index * BITS
    byte, shift = HDR_SIZE + bit // 8, bit & 7
    word = s[byte] | ((s[byte + 1] << 8) if byte + 1 < len(s) else 0)
    return (word >> shift) & 63


def dense_set(s: bytearray, index: int, value: int) -> None:
    bit = index * BITS
    byte, shift = HDR_SIZE + bit // 8, bit & 7
    s[byte] = (s[byte] & ~(63 << shift) & 0xFF) | ((value << shift) & 0xFF)
    if shift > 2:
        s[byte + 1] = (s[byte + 1] & ~(63 >> (8 - shift)) & 0xFF) | (value >> (8 - shift))


def pack_dense(regs: np.ndarray) -> bytes:
    bits = ((regs[:, None] >> np.arange(6, dtype=np.uint8)) & 1).astype(np.uint8)
    return np.packbits(bits.reshape(-1), bitorder="little").tobytes()


# -- sparse --------------------------------------------------------------------------------


def _val(value: int, length: int) -> int:
    return 0x80 | ((value - 1) << 2) | (length - 1)


def _zeros(length: int) -> bytes:
    if length > 64:
        n = length - 1
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return bytes([length - 1])


def to_dense(s: bytearray) -> bytearray:
    """``hllSparseToDense``: same header (cache included), encoding 0, dense registers."""
    if s[4] == DENSE:
        return s
    out = bytearray(s[:HDR_SIZE]) + pack_dense(registers(bytes(s)))
    out[4] = DENSE
    return out


def sparse_set(s: bytearray, index: int, count: int) -> tuple[bytearray, int]:
    """``hllSparseSet``: raise register ``index`` to ``count``; (the string, possibly now
    dense, and 1 if a register changed else 0)."""
    s, changed, _ = sparse_set_from(s, index, count, (HDR_SIZE, 0))
    return s, changed


Hint = tuple[int, int]  # (opcode position, first register it covers)


def sparse_set_from(
    s: bytearray, index: int, count: int, hint: Hint
) -> tuple[bytearray, int, Hint]:
    """:func:`sparse_set` scanning from ``hint`` instead of the first opcode, plus the hint
    for a later call with a higher ``index`` (PFMERGE sets registers in order). The hint is
    the opcode before the one changed: the split and the merge never move it."""
    if count > 32:
        return (*_promote(s, index, count), (HDR_SIZE, 0))
    end = len(s)
    p, first = hint
    span = 0
    prev: int | None = None
    prev_first = 0
    while p < end:
        b = s[p]
        oplen = 1
        if b & 0xC0 == 0:
            span = (b & 0x3F) + 1
        elif b & 0x80:
            span = (b & 3) + 1
        else:
            if p + 1 >= end:
                raise CorruptHLL
            span = (((b & 0x3F) << 8) | s[p + 1]) + 1
            oplen = 2
        if index <= first + span - 1:
            break
        prev, prev_first = p, first
        p += oplen
        first += span
    if span == 0 or p >= end:
        raise CorruptHLL
    b = s[p]
    is_zero, is_xzero, is_val = b & 0xC0 == 0, b & 0xC0 == 0x40, bool(b & 0x80)
    if is_val:
        old = ((b >> 2) & 0x1F) + 1
        if old >= count:
            return s, 0, hint
    if (is_val and span == 1) or (is_zero and span == 1):
        s[p] = _val(count, 1)
    else:
        last = first + span - 1
        if is_val:
            cur = ((b >> 2) & 0x1F) + 1
            seq = bytearray()
            if index != first:
                seq.append(_val(cur, index - first))
            seq.append(_val(count, 1))
            if index != last:
                seq.append(_val(cur, last - index))
        else:
            seq = bytearray()
            if index != first:
                seq += _zeros(index - first)
            seq.append(_val(count, 1))
            if index != last:
                seq += _zeros(last - index)
        oldlen = 2 if is_xzero else 1
        if len(seq) - oldlen > 0 and len(s) + len(seq) - oldlen > SPARSE_MAX_BYTES:
            return (*_promote(s, index, count), (HDR_SIZE, 0))
        s[p : p + oldlen] = seq
    # merge adjacent VALs of the same value, scanning up to 5 opcodes from prev
    p = prev if prev is not None else hint[0]
    scan = 5
    while p < len(s) and scan > 0:
        scan -= 1
        b = s[p]
        if b & 0xC0 == 0x40:
            p += 2
            continue
        if b & 0xC0 == 0:
            p += 1
            continue
        if p + 1 < len(s) and s[p + 1] & 0x80:
            v1, v2 = ((b >> 2) & 0x1F) + 1, ((s[p + 1] >> 2) & 0x1F) + 1
            if v1 == v2:
                length = (b & 3) + 1 + (s[p + 1] & 3) + 1
                if length <= 4:
                    s[p + 1] = _val(v1, length)
                    del s[p]
                    continue
        p += 1
    s[15] |= 0x80
    return s, 1, ((prev, prev_first) if prev is not None else hint)


def _promote(s: bytearray, index: int, count: int) -> tuple[bytearray, int]:
    dense = to_dense(s)
    dense_set(dense, index, count)
    return dense, 1


# -- whole-sketch operations -----------------------------------------------------------------


def registers(value: bytes) -> np.ndarray:
    """The 16384 register values (uint8) of a valid HLL string; CorruptHLL if a sparse one
    does not cover exactly 16384 registers, or has opcodes past them."""
    if value[4] == DENSE:
        raw = np.frombuffer(value, dtype=np.uint8, offset=HDR_SIZE)
        bits = np.unpackbits(raw, bitorder="little")[: REGISTERS * BITS]
        return bits.reshape(REGISTERS, BITS) @ _WEIGHTS
    regs = np.zeros(REGISTERS, dtype=np.uint8)
    idx, p, end = 0, HDR_SIZE, len(value)
    while p < end:
        b = value[p]
        if b & 0xC0 == 0:
            idx += (b & 0x3F) + 1
            p += 1
        elif b & 0x80 == 0:
            if p + 1 >= end:
                raise CorruptHLL
            idx += (((b & 0x3F) << 8) | value[p + 1]) + 1
            p += 2
        else:
            run = (b & 3) + 1
            if idx + run > REGISTERS:  # past the registers: corrupt (the peer's overflow check)
                raise CorruptHLL
            regs[idx : idx + run] = ((b >> 2) & 0x1F) + 1
            idx += run
            p += 1
    if idx != REGISTERS:
        raise CorruptHLL
    return regs


def add(s: bytearray, element: bytes) -> tuple[bytearray, int]:
    """``hllAdd``: (the string, 1 if a register changed else 0)."""
    index, run = pattern(element)
    if s[4] == DENSE:
        if dense_get(s, index) < run:
            dense_set(s, index, run)
            return s, 1
        return s, 0
    return sparse_set(s, index, run)


def add_many(s: bytearray, elements: list[bytes]) -> tuple[bytearray, int]:
    """:func:`add` of each element in order; (the string, how many changed a register).

    A sparse HLL is edited as :class:`store.hll.sparse_ops.SparseOps` (same bytes as
    :func:`sparse_set` one by one, much faster for many elements)."""
    changed = 0
    pending = [pattern(e) for e in elements]
    if s[4] == SPARSE and pending:
        done = 0
        try:
            ops = SparseOps(bytes(s[HDR_SIZE:]), SPARSE_MAX_BYTES, HDR_SIZE)
        except IndexError:
            # a truncated last opcode (bytes appended past the registers, e.g. by APPEND):
            # Redis reads opcodes only as far as the register it sets, so set them one at
            # a time as it does (sparse_set, which never reads that far) while sparse
            while done < len(pending) and s[4] == SPARSE:
                s, one = sparse_set(s, *pending[done])
                changed += one
                done += 1
        else:
            try:
                for index, run in pending:
                    changed += ops.set(index, run)
                    done += 1
            except Promote:
                pass
            except IndexError as exc:
                raise CorruptHLL from exc
            s[HDR_SIZE:] = ops.body()
            if done < len(pending):  # promoted: the element that needed it goes in dense
                s = to_dense(s)
            elif changed:
                s[15] |= 0x80
        pending = pending[done:]
        if not pending:
            return s, changed
    for index, run in pending:
        if dense_get(s, index) < run:
            dense_set(s, index, run)
            changed += 1
    return s, changed


def merge_into(s: bytearray, maxima: np.ndarray, use_dense: bool) -> bytearray:
    """PFMERGE's write of ``maxima`` into the destination string ``s`` (which was one of
    the merged inputs): dense if any input was, else register by register in sparse."""
    if use_dense:
        s = to_dense(s)
    if s[4] == DENSE:
        s[HDR_SIZE:] = pack_dense(maxima)
    else:
        hint = (HDR_SIZE, 0)
        for j in np.flatnonzero(maxima).tolist():
            value = int(maxima[j])
            if s[4] == SPARSE:
                s, _, hint = sparse_set_from(s, j, value, hint)  # may turn dense part way
            elif dense_get(s, j) < value:
                dense_set(s, j, value)
    s[15] |= 0x80
    return s


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_prime = z
        z += x * y
        y += y
        if z_prime == z:
            return z


def _tau(x: float) -> float:
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        z_prime = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if z_prime == z:
            return z / 3


def estimate(regs: np.ndarray) -> int:
    """``hllCount``: the cardinality estimate from the register values."""
    histo = np.bincount(regs, minlength=64).tolist()
    m = float(REGISTERS)
    z = m * _tau((m - histo[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += histo[j]
        z *= 0.5
    z += m * _sigma(histo[0] / m)
    e = ALPHA_INF * m * m / z
    return math.floor(e + 0.5)


def cardinality(s: bytearray) -> tuple[int, bool]:
    """(the cardinality, whether it was computed now): the cached value if valid, else
    the estimate, written into the cache bytes of ``s``."""
    if not s[15] & 0x80:
        return int.from_bytes(s[8:16], "little"), False
    card = estimate(registers(bytes(s)))
    s[8:16] = card.to_bytes(8, "little")
    return card, True
