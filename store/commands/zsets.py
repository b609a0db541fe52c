"""Sorted-set commands, single-element part: ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE,
ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT, ZSCAN, ZRANDMEMBER.

Ranges (ZRANGE and friends, ZREMRANGEBY*): :mod:`store.commands.zsets_range`; set algebra
(ZUNION, ZINTER, ZDIFF, ZINTERCARD): :mod:`store.commands.zsets_algebra`; pops, blocking
included: :mod:`store.commands.zsets_pop`. Behaviour and error texts are Redis 7.4's
(``t_zset.c``). ZRANDMEMBER is random but read-only, so nothing about it is logged.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from ..datatypes.zsets import ZSet
from ..errors import ArityError, CommandError, SyntaxErr
from ..numbers import INT64_MAX, format_double
from ..replies import NULL_ARRAY
from .element_scan import ELEMENT_SCANS
from .scan_args import parse_cursor, parse_scan_options
from .table import command
from .util import parse_int
from .zsets_args import (
    parse_lex_range,
    parse_score,
    parse_score_range,
    read_zset,
    with_scores,
)

if TYPE_CHECKING:
    from .context import ExecContext

_NAN_ERROR = "resulting score is not a number (NaN)"
RANDOM_REPLY_MAX = 10_000_000  # ZRANDMEMBER's negative count (a reply with repetitions)


def zadd_apply(
    ctx: ExecContext, key: bytes, args: list[bytes], start: int, *, incr: bool = False
) -> Any:
    """ZADD's whole semantics from ``args[start:]`` (options then score/member pairs);
    also GEOADD's once it has turned coordinates into scores."""
    nx = xx = gt = lt = ch = False
    i = start
    while i < len(args):
        opt = args[i].upper()
        if opt == b"NX":
            nx = True
        elif opt == b"XX":
            xx = True
        elif opt == b"CH":
            ch = True
        elif opt == b"INCR":
            incr = True
        elif opt == b"GT":
            gt = True
        elif opt == b"LT":
            lt = True
        else:
            break
        i += 1
    rest = args[i:]
    if not rest or len(rest) % 2:
        raise SyntaxErr()
    if nx and xx:
        raise CommandError("XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("GT, LT, and/or NX options at the same time are not compatible")
    if incr and len(rest) > 2:
        raise CommandError("INCR option supports a single increment-element pair")
    pairs = [(parse_score(rest[j]), rest[j + 1]) for j in range(0, len(rest), 2)]
    z = ctx.keyspace.get_typed(key, ctx.expire_now, ZSet)
    added = updated = processed = 0
    result: float | None = None
    if z is not None or not xx:
        z = ctx.keyspace.typed_for_write(key, ZSet)
        for score, member in pairs:
            current = z.scores.get(member)
            if current is not None:
                if nx:
                    continue
                if incr:
                    score = current + score
                    if math.isnan(score):
                        raise CommandError(_NAN_ERROR)
                if (lt and score >= current) or (gt and score <= current):
                    continue
                result = score
                if score != current:
                    z.add(member, score)
                    updated += 1
                processed += 1
            elif not xx:
                result = score
                z.add(member, score)
                added += 1
                processed += 1
        if added or updated:  # only a real change signals the key (WATCH, blocked pops)
            ctx.keyspace.touched(key)
            ctx.dirty = True
    if incr:
        return result if processed else None
    return added + updated if ch else added


@command("ZADD", -4, "write denyoom fast", "sortedset", keys=(1, 1, 1))
def zadd(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]."""
    return zadd_apply(ctx, args[1], args, 2)


@command("ZINCRBY", 4, "write denyoom fast", "sortedset", keys=(1, 1, 1))
def zincrby(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZINCRBY key increment member."""
    return zadd_apply(ctx, args[1], args, 2, incr=True)


@command("ZREM", -3, "write fast", "sortedset", keys=(1, 1, 1))
def zrem(ctx: ExecContext, args: list[bytes]) -> int:
    """ZREM key member [member ...]."""
    z = ctx.keyspace.get_typed(args[1], ctx.expire_now, ZSet)
    if z is None:
        return 0
    removed = sum(1 for member in args[2:] if z.remove(member))
    if removed:
        ctx.keyspace.touched(args[1])
        ctx.dirty = True
    return removed


@command("ZCARD", 2, "readonly fast", "sortedset", keys=(1, 1, 1))
def zcard(ctx: ExecContext, args: list[bytes]) -> int:
    """ZCARD key."""
    z = read_zset(ctx, args[1])
    return 0 if z is None else len(z)


@command("ZSCORE", 3, "readonly fast", "sortedset", keys=(1, 1, 1))
def zscore(ctx: ExecContext, args: list[bytes]) -> float | None:
    """ZSCORE key member."""
    z = read_zset(ctx, args[1])
    return None if z is None else z.scores.get(args[2])


@command("ZMSCORE", -3, "readonly fast", "sortedset", keys=(1, 1, 1))
def zmscore(ctx: ExecContext, args: list[bytes]) -> list[float | None]:
    """ZMSCORE key member [member ...]."""
    z = read_zset(ctx, args[1])
    return [None if z is None else z.scores.get(m) for m in args[2:]]


def _rank(ctx: ExecContext, args: list[bytes], reverse: bool) -> Any:
    if len(args) > 4:
        raise ArityError.for_command(args[0].decode("utf-8", "replace").lower())
    withscore = False
    if len(args) == 4:
        if args[3].upper() != b"WITHSCORE":
            raise SyntaxErr()
        withscore = True
    z = read_zset(ctx, args[1])
    rank = None if z is None else z.rank(args[2])
    if rank is None or z is None:
        return NULL_ARRAY if withscore else None
    if reverse:
        rank = len(z) - 1 - rank
    return [rank, z.scores[args[2]]] if withscore else rank


@command("ZRANK", -3, "readonly fast", "sortedset", keys=(1, 1, 1))
def zrank(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZRANK key member [WITHSCORE]."""
    return _rank(ctx, args, False)


@command("ZREVRANK", -3, "readonly fast", "sortedset", keys=(1, 1, 1))
def zrevrank(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZREVRANK key member [WITHSCORE]."""
    return _rank(ctx, args, True)


@command("ZCOUNT", 4, "readonly fast", "sortedset", keys=(1, 1, 1))
def zcount(ctx: ExecContext, args: list[bytes]) -> int:
    """ZCOUNT key min max."""
    r = parse_score_range(args[2], args[3])
    z = read_zset(ctx, args[1])
    if z is None:
        return 0
    start, stop = z.score_span(*r)
    return stop - start


@command("ZLEXCOUNT", 4, "readonly fast", "sortedset", keys=(1, 1, 1))
def zlexcount(ctx: ExecContext, args: list[bytes]) -> int:
    """ZLEXCOUNT key min max."""
    low, high = parse_lex_range(args[2], args[3])
    z = read_zset(ctx, args[1])
    if z is None:
        return 0
    start, stop = z.lex_span(low, high)
    return stop - start


@command("ZSCAN", -3, "readonly", "sortedset slow", keys=(1, 1, 1))
def zscan(ctx: ExecContext, args: list[bytes]) -> list[Any]:
    """ZSCAN key cursor [MATCH pattern] [COUNT n].

    A sorted set of up to ``ONE_REPLY_MAX`` (512) members comes in one reply with cursor
    0, as Redis answers a listpack one; a larger one in pages of COUNT members
    (:mod:`store.commands.element_scan`), keeping SCAN's guarantee, with their scores at
    the time of the call. Scores are bulk strings in both protocols, as Redis sends them.
    """
    cursor = parse_cursor(args[2])
    z = read_zset(ctx, args[1])
    if z is None:
        return [b"0", []]
    opts = parse_scan_options(args, 3, hash_scan=False)
    if opts.want_type is not None:
        raise SyntaxErr()
    out: list[bytes] = []
    scores = z.scores
    following, names = ELEMENT_SCANS.page(
        args[1], cursor, opts.count, lambda: [member for _, member in z.items()]
    )
    for member in names:
        now = scores.get(member)
        if now is not None and opts.matches(member):
            out.append(member)
            out.append(format_double(now))
    return [str(following).encode(), out]


@command("ZRANDMEMBER", -2, "readonly", "sortedset slow", keys=(1, 1, 1))
def zrandmember(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZRANDMEMBER key [count [WITHSCORES]]."""
    if len(args) == 2:
        z = read_zset(ctx, args[1])
        if z is None:
            return None
        return z.order[random.randrange(len(z.order))][1]
    count = parse_int(args[2])
    if count < -INT64_MAX:
        raise CommandError("value is out of range")
    withscores = False
    if len(args) > 4 or (len(args) == 4 and args[3].upper() != b"WITHSCORES"):
        raise SyntaxErr()
    if len(args) == 4:
        withscores = True
        if count < -INT64_MAX // 2 or count > INT64_MAX // 2:
            raise CommandError("value is out of range")
    z = read_zset(ctx, args[1])
    if z is None or count == 0:
        return []
    if count < -RANDOM_REPLY_MAX:
        # Redis streams such a reply until the client's output limit drops it; memvec
        # builds replies whole, so it refuses rather than stall the engine
        raise CommandError(f"count is out of range: at most {RANDOM_REPLY_MAX} repeated members")
    # picks are ranks into the sorted order, O(log n) each: copying the members to pick
    # from cost 3.9 ms a call at 500,000
    n, order = len(z.order), z.order
    if count < 0:
        picked = [order[random.randrange(n)] for _ in range(-count)]
    elif count >= n:
        # Redis walks the set from its tail here (zuiInitIterator)
        return with_scores(ctx, list(z.items(reverse=True)), withscores)
    else:
        picked = [order[i] for i in random.sample(range(n), count)]
    return with_scores(ctx, picked, withscores)
