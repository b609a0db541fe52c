"""Byte ranges of strings: GETRANGE (SUBSTR), SETRANGE, and LCS (longest common subsequence).

Replies follow Redis's ``t_string.c`` step by step, including its index clamping for
GETRANGE and the order in which LCS emits its IDX ranges (from the end of both strings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CommandError, SyntaxErr
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext

# Redis's default proto-max-bulk-len: the largest string SETRANGE/SETBIT may build, and the
# cap on LCS's transient table.
MAX_STRING_BYTES = 512 * 1024 * 1024
# LCS fills a (len a + 1) x (len b + 1) table in Python, ~5 M cells a second, holding the
# engine: past this many cells (about 3 s) it is refused rather than stalling every client.
# Redis allows 128 M cells (its proto-max-bulk-len bound), which would take minutes here.
MAX_LCS_CELLS = 16_000_000


def check_string_length(offset: int, append: int) -> None:
    """Redis's ``checkStringLength``: the string would be too long."""
    if offset + append > MAX_STRING_BYTES:
        raise CommandError("string exceeds maximum allowed size (proto-max-bulk-len)")


def byte_range(start: int, end: int, length: int) -> tuple[int, int] | None:
    """GETRANGE's clamping of ``start``/``end`` (inclusive, negative from the end); None
    when the range is empty."""
    if start < 0 and end < 0 and start > end:
        return None
    if start < 0:
        start += length
    if end < 0:
        end += length
    start = max(start, 0)
    end = max(end, 0)
    if end >= length:
        end = length - 1
    if start > end or length == 0:
        return None
    return start, end


@command("GETRANGE", 4, "readonly", "string slow", keys=(1, 1, 1))
def getrange(ctx: ExecContext, args: list[bytes]) -> bytes:
    """The bytes of the string at key between two inclusive offsets."""
    start, end = parse_int(args[2]), parse_int(args[3])
    value = ctx.keyspace.peek_string(args[1], ctx.read_now)
    if value is None:
        return b""
    span = byte_range(start, end, len(value))
    return b"" if span is None else bytes(value[span[0] : span[1] + 1])


@command("SUBSTR", 4, "readonly", "string slow", keys=(1, 1, 1))
def substr(ctx: ExecContext, args: list[bytes]) -> bytes:
    """GETRANGE under its old name."""
    return getrange(ctx, args)


@command("SETRANGE", 4, "write denyoom", "string slow", keys=(1, 1, 1))
def setrange(ctx: ExecContext, args: list[bytes]) -> int:
    """Overwrite the string at key from an offset (zero-padded); the new length. The
    string is changed in place (:meth:`~store.keyspace.Keyspace.string_buffer`): a call
    costs what it writes and any padding, not the string's length."""
    key, value = args[1], args[3]
    offset = parse_int(args[2])
    if offset < 0:
        raise CommandError("offset is out of range")
    buf = ctx.keyspace.string_buffer(key, ctx.expire_now)
    if buf is None:
        if not value:
            return 0
        check_string_length(offset, len(value))
        buf = bytearray()
    elif not value:
        return len(buf)
    else:
        check_string_length(offset, len(value))
    end = offset + len(value)
    if len(buf) < end:
        buf += bytes(end - len(buf))
    buf[offset:end] = value
    ctx.keyspace.string_written(key, buf)
    ctx.dirty = True
    return len(buf)


@command("LCS", -3, "readonly", "string slow", keys=(1, 2, 1))
def lcs(ctx: ExecContext, args: list[bytes]) -> object:
    """LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]."""
    a_val = ctx.keyspace.get(args[1], ctx.read_now)
    b_val = ctx.keyspace.get(args[2], ctx.read_now)
    if (a_val is not None and not isinstance(a_val, bytes)) or (
        b_val is not None and not isinstance(b_val, bytes)
    ):
        raise CommandError("The specified keys must contain string values")
    a = a_val if isinstance(a_val, bytes) else b""
    b = b_val if isinstance(b_val, bytes) else b""
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    while j < len(args):
        opt = args[j].upper()
        if opt == b"IDX":
            getidx = True
        elif opt == b"LEN":
            getlen = True
        elif opt == b"WITHMATCHLEN":
            withmatchlen = True
        elif opt == b"MINMATCHLEN" and j + 1 < len(args):
            minmatchlen = max(parse_int(args[j + 1]), 0)
            j += 1
        else:
            raise SyntaxErr()
        j += 1
    if getlen and getidx:
        raise CommandError("If you want both the length and indexes, please just use IDX.")
    cells = (len(a) + 1) * (len(b) + 1)
    if cells * 4 > MAX_STRING_BYTES:
        raise CommandError(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        )
    if cells > MAX_LCS_CELLS:
        raise CommandError(
            f"LCS of strings this long ({len(a)} x {len(b)} bytes) is refused by memvec: "
            f"the product of the lengths must stay under {MAX_LCS_CELLS}"
        )
    table = lcs_table(a, b)
    total = table[len(a)][len(b)]
    if getlen:
        return total
    text, ranges = lcs_backtrack(a, b, table)
    if not getidx:
        return text
    matches: list[object] = []
    for (a0, a1), (b0, b1) in ranges:
        length = a1 - a0 + 1
        if minmatchlen == 0 or length >= minmatchlen:
            entry: list[object] = [[a0, a1], [b0, b1]]
            if withmatchlen:
                entry.append(length)
            matches.append(entry)
    return {b"matches": matches, b"len": total}


def lcs_table(a: bytes, b: bytes) -> list[list[int]]:
    """``table[i][j]``: the LCS length of ``a[:i]`` and ``b[:j]``."""
    table = [[0] * (len(b) + 1)]
    for i in range(1, len(a) + 1):
        prev = table[i - 1]
        row = [0] * (len(b) + 1)
        ai = a[i - 1]
        for j in range(1, len(b) + 1):
            if ai == b[j - 1]:
                row[j] = prev[j - 1] + 1
            else:
                up, left = prev[j], row[j - 1]
                row[j] = up if up > left else left
        table.append(row)
    return table


Range = tuple[tuple[int, int], tuple[int, int]]


def lcs_backtrack(a: bytes, b: bytes, table: list[list[int]]) -> tuple[bytes, list[Range]]:
    """The LCS text and its contiguous matching ranges, walked back from the ends exactly
    as Redis's ``lcsCommand`` walks (which fixes which of several LCSs is answered)."""
    alen = len(a)
    out = bytearray()
    ranges: list[Range] = []
    i, j = alen, len(b)
    a_start = alen  # alen: no range open
    a_end = b_start = b_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out.append(a[i - 1])
            if a_start == alen:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            i -= 1
            j -= 1
        else:
            if table[i - 1][j] > table[i][j - 1]:
                i -= 1
            else:
                j -= 1
            if a_start != alen:
                emit = True
        if emit:
            ranges.append(((a_start, a_end), (b_start, b_end)))
            a_start = alen
    out.reverse()
    return bytes(out), ranges
