"""Sorted-set ranges: ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES), ZRANGESTORE and the
older forms ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX; and
ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX.

One parser serves them all, as Redis's ``zrangeGenericCommand`` does, so their option
errors are the same. ``LIMIT offset count``: a negative offset selects nothing and a
negative count means "all the rest" (Redis's loops behave so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..datatypes.zsets import ZSet
from ..errors import CommandError, SyntaxErr
from .table import command
from .util import parse_int
from .zsets_args import parse_lex_range, parse_score_range, read_zset, with_scores, write_zset

if TYPE_CHECKING:
    from .context import ExecContext

RANK, SCORE, LEX = "rank", "score", "lex"


def rank_span(length: int, start: int, end: int) -> tuple[int, int]:
    """Redis's rank normalisation: ``[start, stop)`` in forward ranks (maybe empty)."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    start = max(start, 0)
    if start > end or start >= length:
        return 0, 0
    return start, min(end, length - 1) + 1


def _select(
    z: ZSet, kind: str, reverse: bool, low: bytes, high: bytes, offset: int, limit: int
) -> list[tuple[float, bytes]]:
    n = len(z)
    if kind == RANK:
        start, stop = rank_span(n, parse_int(low), parse_int(high))
        if reverse:
            start, stop = n - stop, n - start
        return list(z.items(start, stop, reverse))
    if kind == SCORE:
        start, stop = z.score_span(*parse_score_range(low, high))
    else:
        start, stop = z.lex_span(*parse_lex_range(low, high))
    if offset < 0 or (offset > 0 and offset >= n):
        return []
    if reverse:
        stop -= offset
    else:
        start += offset
    if start >= stop:
        return []
    if limit >= 0:
        if reverse:
            start = max(start, stop - limit)
        else:
            stop = min(stop, start + limit)
    return list(z.items(start, stop, reverse))


def zrange_generic(
    ctx: ExecContext,
    args: list[bytes],
    first: int,
    *,
    store: bool = False,
    kind: str | None = None,
    reverse: bool | None = None,
) -> Any:
    """``args[first]`` is the source key, then min, max and options (Redis's
    ``zrangeGenericCommand``); ``kind``/``reverse`` are fixed by the older command forms."""
    withscores = False
    offset, limit = 0, -1
    has_limit = False
    j = first + 3
    while j < len(args):
        opt = args[j].upper()
        left = len(args) - j - 1
        if not store and opt == b"WITHSCORES":
            withscores = True
        elif opt == b"LIMIT" and left >= 2:
            offset = parse_int(args[j + 1])
            limit = parse_int(args[j + 2])
            has_limit = True
            j += 2
        elif reverse is None and opt == b"REV":
            reverse = True
        elif kind is None and opt == b"BYLEX":
            kind = LEX
        elif kind is None and opt == b"BYSCORE":
            kind = SCORE
        else:
            raise SyntaxErr()
        j += 1
    reverse = bool(reverse)
    kind = kind or RANK
    if has_limit and kind == RANK:
        raise CommandError(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    if withscores and kind == LEX:
        raise CommandError("syntax error, WITHSCORES not supported in combination with BYLEX")
    low, high = args[first + 1], args[first + 2]
    if reverse and kind != RANK:
        low, high = high, low
    # parse the bounds before looking the key up (a bad bound wins over WRONGTYPE)
    if kind == RANK:
        parse_int(low), parse_int(high)
    elif kind == SCORE:
        parse_score_range(low, high)
    else:
        parse_lex_range(low, high)
    # a STORE reads as a write does (replay must see what the primary saw)
    z = write_zset(ctx, args[first]) if store else read_zset(ctx, args[first])
    pairs = [] if z is None else _select(z, kind, reverse, low, high, offset, limit)
    if store:
        return store_pairs(ctx, args[1], pairs)
    return with_scores(ctx, pairs, withscores)


def store_pairs(ctx: ExecContext, key: bytes, pairs: list[tuple[float, bytes]]) -> int:
    """Replace ``key`` with a sorted set of ``pairs`` (deleted if there are none): every
    STORE variant's last step. Returns the new set's size."""
    if pairs:
        z = ZSet.build(pairs)
        ctx.keyspace.set_value(key, z)
        ctx.dirty = True
        return len(z)
    if ctx.keyspace.delete(key):
        ctx.dirty = True
    return 0


@command("ZRANGE", -4, "readonly", "sortedset slow", keys=(1, 1, 1))
def zrange(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]."""
    return zrange_generic(ctx, args, 1)


@command("ZRANGESTORE", -5, "write denyoom", "sortedset slow", keys=(1, 2, 1))
def zrangestore(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]."""
    return zrange_generic(ctx, args, 2, store=True)


@command("ZREVRANGE", -4, "readonly", "sortedset slow", keys=(1, 1, 1))
def zrevrange(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZREVRANGE key start stop [WITHSCORES]."""
    return zrange_generic(ctx, args, 1, kind=RANK, reverse=True)


@command("ZRANGEBYSCORE", -4, "readonly", "sortedset slow", keys=(1, 1, 1))
def zrangebyscore(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]."""
    return zrange_generic(ctx, args, 1, kind=SCORE, reverse=False)


@command("ZREVRANGEBYSCORE", -4, "readonly", "sortedset slow", keys=(1, 1, 1))
def zrevrangebyscore(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]."""
    return zrange_generic(ctx, args, 1, kind=SCORE, reverse=True)


@command("ZRANGEBYLEX", -4, "readonly", "sortedset slow", keys=(1, 1, 1))
def zrangebylex(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZRANGEBYLEX key min max [LIMIT offset count]."""
    return zrange_generic(ctx, args, 1, kind=LEX, reverse=False)


@command("ZREVRANGEBYLEX", -4, "readonly", "sortedset slow", keys=(1, 1, 1))
def zrevrangebylex(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZREVRANGEBYLEX key max min [LIMIT offset count]."""
    return zrange_generic(ctx, args, 1, kind=LEX, reverse=True)


def _remove_span(ctx: ExecContext, key: bytes, span: Any) -> int:
    z = ctx.keyspace.get_typed(key, ctx.expire_now, ZSet)
    if z is None:
        return 0
    start, stop = span(z)
    if start >= stop:
        return 0
    removed = z.remove_slice(start, stop)
    ctx.keyspace.touched(key)
    ctx.dirty = True
    return removed


@command("ZREMRANGEBYRANK", 4, "write", "sortedset slow", keys=(1, 1, 1))
def zremrangebyrank(ctx: ExecContext, args: list[bytes]) -> int:
    """ZREMRANGEBYRANK key start stop."""
    start, end = parse_int(args[2]), parse_int(args[3])
    return _remove_span(ctx, args[1], lambda z: rank_span(len(z), start, end))


@command("ZREMRANGEBYSCORE", 4, "write", "sortedset slow", keys=(1, 1, 1))
def zremrangebyscore(ctx: ExecContext, args: list[bytes]) -> int:
    """ZREMRANGEBYSCORE key min max."""
    r = parse_score_range(args[2], args[3])
    return _remove_span(ctx, args[1], lambda z: z.score_span(*r))


@command("ZREMRANGEBYLEX", 4, "write", "sortedset slow", keys=(1, 1, 1))
def zremrangebylex(ctx: ExecContext, args: list[bytes]) -> int:
    """ZREMRANGEBYLEX key min max."""
    low, high = parse_lex_range(args[2], args[3])
    return _remove_span(ctx, args[1], lambda z: z.lex_span(low, high))
