"""A sparse HLL held as a list of opcodes while many registers are set (PFADD of many
elements, PFMERGE), so finding a register's opcode is a bisection instead of a walk over
the bytes. Every step is :func:`store.hll.sketch.sparse_set`'s (Redis's ``hllSparseSet``):
the same splits, the same merge of equal VAL runs scanning 5 opcodes from the previous
one, the same promotion once the bytes would pass ``hll-sparse-max-bytes``; the bytes it
writes back are therefore identical (checked against the peer in the tests).
"""

from __future__ import annotations

from bisect import bisect_right

ZERO, XZERO, VAL = 0, 1, 2
_SIZE = (1, 2, 1)


class Promote(Exception):
    """The set needs a dense HLL (a value above 32, or the bytes would grow too long)."""


class SparseOps:
    """Opcodes ``[kind, span, value]`` with the first register each covers."""

    def __init__(self, body: bytes, max_bytes: int, header_size: int) -> None:
        self.ops: list[list[int]] = []
        self.firsts: list[int] = []
        self.max_bytes = max_bytes
        first, p, end = 0, 0, len(body)
        while p < end:
            b = body[p]
            if b & 0xC0 == 0:
                op = [ZERO, (b & 0x3F) + 1, 0]
                p += 1
            elif b & 0x80:
                op = [VAL, (b & 3) + 1, ((b >> 2) & 0x1F) + 1]
                p += 1
            else:
                if p + 1 >= end:
                    raise IndexError("truncated XZERO opcode")
                op = [XZERO, (((b & 0x3F) << 8) | body[p + 1]) + 1, 0]
                p += 2
            self.ops.append(op)
            self.firsts.append(first)
            first += op[1]
        self.nbytes = header_size + len(body)

    def set(self, index: int, count: int) -> int:
        """Raise register ``index`` to ``count``: 1 if changed, 0 if not; Promote; an
        IndexError for opcodes that do not reach ``index`` (a corrupt HLL)."""
        if count > 32:
            raise Promote
        ops, firsts = self.ops, self.firsts
        i = bisect_right(firsts, index) - 1
        kind, span, value = ops[i]
        if index >= firsts[i] + span:  # the opcodes cover fewer than 16384 registers
            raise IndexError("register past the last opcode")
        if kind == VAL and value >= count:
            return 0
        if span == 1 and kind != XZERO:
            ops[i] = [VAL, 1, count]
        else:
            first, last = firsts[i], firsts[i] + span - 1
            seq: list[list[int]] = []
            if kind == VAL:
                if index != first:
                    seq.append([VAL, index - first, value])
                seq.append([VAL, 1, count])
                if index != last:
                    seq.append([VAL, last - index, value])
            else:
                if index != first:
                    gap = index - first
                    seq.append([XZERO if gap > 64 else ZERO, gap, 0])
                seq.append([VAL, 1, count])
                if index != last:
                    gap = last - index
                    seq.append([XZERO if gap > 64 else ZERO, gap, 0])
            delta = sum(_SIZE[op[0]] for op in seq) - _SIZE[kind]
            if delta > 0 and self.nbytes + delta > self.max_bytes:
                raise Promote
            starts, at = [], firsts[i]
            for op in seq:
                starts.append(at)
                at += op[1]
            ops[i : i + 1] = seq
            firsts[i : i + 1] = starts
            self.nbytes += delta
        p = i - 1 if i > 0 else 0
        scan = 5
        while p < len(ops) and scan > 0:
            scan -= 1
            if ops[p][0] != VAL:
                p += 1
                continue
            if p + 1 < len(ops) and ops[p + 1][0] == VAL and ops[p][2] == ops[p + 1][2]:
                length = ops[p][1] + ops[p + 1][1]
                if length <= 4:
                    ops[p + 1] = [VAL, length, ops[p][2]]
                    firsts[p + 1] = firsts[p]
                    del ops[p]
                    del firsts[p]
                    self.nbytes -= 1
                    continue
            p += 1
        return 1

    def body(self) -> bytes:
        out = bytearray()
        for kind, span, value in self.ops:
            if kind == VAL:
                out.append(0x80 | ((value - 1) << 2) | (span - 1))
            elif kind == ZERO:
                out.append(span - 1)
            else:
                out += bytes([0x40 | ((span - 1) >> 8), (span - 1) & 0xFF])
        return bytes(out)
