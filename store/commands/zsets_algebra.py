"""Sorted-set algebra: ZUNION, ZINTER, ZDIFF (and their STORE forms), ZINTERCARD.

Redis's ``zunionInterDiffGenericCommand``: sources may be sorted sets or plain sets (a
set's members count with score 1), ``WEIGHTS`` multiply scores (a NaN product counts as
0), ``AGGREGATE SUM|MIN|MAX`` combines them (a NaN sum counts as 0). ZINTER walks the
smallest source first (sources sorted by size, stably) so its sums add up in Redis's order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..datatypes.sets import SetValue
from ..datatypes.zsets import ZSet
from ..errors import CommandError, SyntaxErr, WrongTypeError
from .table import command
from .util import numkeys_finder, parse_int
from .zsets_args import parse_positive, parse_score, with_scores
from .zsets_range import store_pairs

if TYPE_CHECKING:
    from .context import ExecContext

UNION, INTER, DIFF = "union", "inter", "diff"


def source_scores(value: object) -> dict[bytes, float]:
    """The members and scores of a ZUNION/ZINTER/ZDIFF source: a sorted set, or a plain
    set (Redis's ``set`` type, each member scoring 1); WRONGTYPE for anything else."""
    if isinstance(value, ZSet):
        return value.scores
    if isinstance(value, SetValue):
        return dict.fromkeys(value, 1.0)
    raise WrongTypeError()


def _sum(a: float, b: float) -> float:
    total = a + b
    return 0.0 if math.isnan(total) else total


_AGGREGATES: dict[bytes, Callable[[float, float], float]] = {
    b"SUM": _sum,
    b"MIN": lambda a, b: b if b < a else a,
    b"MAX": lambda a, b: b if b > a else a,
}


def _combine(
    ctx: ExecContext, args: list[bytes], numkeys_at: int, op: str, *, store: bool, card: bool
) -> Any:
    numkeys = parse_int(args[numkeys_at])
    if numkeys < 1:
        name = args[0].decode("utf-8", "replace").lower()
        raise CommandError(f"at least 1 input key is needed for '{name}' command")
    if numkeys > len(args) - numkeys_at - 1:
        raise SyntaxErr()
    keys = args[numkeys_at + 1 : numkeys_at + 1 + numkeys]
    # The sources are not declared keys (numkeys moves them), so the engine does not drop
    # the expired ones before the call: a STORE drops them once everything is validated
    # and logs each DEL before the command, so replay (which ignores deadlines) reads the
    # same sources.
    now = ctx.expire_now
    unique = dict.fromkeys(keys)
    expired = [k for k in unique if now is not None and ctx.keyspace.is_expired(k, now)]
    sources: list[dict[bytes, float]] = []
    for key in keys:
        found = ctx.keyspace.get(key, ctx.expire_now if store else ctx.read_now)
        sources.append({} if found is None else source_scores(found))
    weights = [1.0] * numkeys
    aggregate: Callable[[float, float], float] = _sum
    withscores = False
    limit = 0
    j = numkeys_at + 1 + numkeys
    while j < len(args):
        opt = args[j].upper()
        remaining = len(args) - j
        if op != DIFF and not card and remaining >= numkeys + 1 and opt == b"WEIGHTS":
            weights = [
                parse_score(w, "weight value is not a float") for w in args[j + 1 : j + 1 + numkeys]
            ]
            j += 1 + numkeys
        elif op != DIFF and not card and remaining >= 2 and opt == b"AGGREGATE":
            chosen = _AGGREGATES.get(args[j + 1].upper())
            if chosen is None:
                raise SyntaxErr()
            aggregate = chosen
            j += 2
        elif not store and not card and opt == b"WITHSCORES":
            withscores = True
            j += 1
        elif card and remaining >= 2 and opt == b"LIMIT":
            limit = parse_positive(args[j + 1], "LIMIT can't be negative")
            j += 2
        else:
            raise SyntaxErr()
    result: dict[bytes, float] = {}
    if op == INTER:
        ranked = sorted(zip(sources, weights, strict=True), key=lambda sw: len(sw[0]))
        first, w0 = ranked[0]
        count = 0
        for member, score in sorted(first.items(), key=lambda ms: (ms[1], ms[0])):
            total = w0 * score
            if math.isnan(total):
                total = 0.0
            for other, w in ranked[1:]:
                value = other.get(member)
                if value is None:
                    break
                total = aggregate(total, value * w)
            else:
                if card:
                    count += 1
                    if limit and count >= limit:
                        break
                else:
                    result[member] = total
        if card:
            return count
    elif op == UNION:
        ranked = sorted(zip(sources, weights, strict=True), key=lambda sw: len(sw[0]))
        for source, w in ranked:
            for member, score in sorted(source.items(), key=lambda ms: (ms[1], ms[0])):
                total = w * score
                if math.isnan(total):
                    total = 0.0
                current = result.get(member)
                result[member] = total if current is None else aggregate(current, total)
    else:
        result = dict(sources[0])
        for other in sources[1:]:
            for member in other:
                result.pop(member, None)
    pairs = sorted(((s, m) for m, s in result.items()))
    if store:
        for key in expired:
            ctx.keyspace.delete(key)
        stored = store_pairs(ctx, args[1], pairs)
        if expired:
            ctx.dirty = True
            ctx.log_commands = [*([b"DEL", k] for k in expired), args]
        return stored
    return with_scores(ctx, pairs, withscores)


def store_keys(args: list[bytes]) -> list[bytes]:
    """The keys of a ``dst numkeys key [key ...]`` call (ZUNIONSTORE ...): the destination,
    then the sources (a ``find_keys`` for the command table)."""
    return args[1:2] + numkeys_finder(2)(args)


@command("ZUNION", -3, "readonly movablekeys", "sortedset slow", find_keys=numkeys_finder(1))
def zunion(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]."""
    return _combine(ctx, args, 1, UNION, store=False, card=False)


@command("ZINTER", -3, "readonly movablekeys", "sortedset slow", find_keys=numkeys_finder(1))
def zinter(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]."""
    return _combine(ctx, args, 1, INTER, store=False, card=False)


@command("ZDIFF", -3, "readonly movablekeys", "sortedset slow", find_keys=numkeys_finder(1))
def zdiff(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZDIFF numkeys key [key ...] [WITHSCORES]."""
    return _combine(ctx, args, 1, DIFF, store=False, card=False)


@command("ZINTERCARD", -3, "readonly movablekeys", "sortedset slow", find_keys=numkeys_finder(1))
def zintercard(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZINTERCARD numkeys key [key ...] [LIMIT limit]."""
    return _combine(ctx, args, 1, INTER, store=False, card=True)


@command(
    "ZUNIONSTORE",
    -4,
    "write denyoom movablekeys",
    "sortedset slow",
    keys=(1, 1, 1),
    find_keys=store_keys,
)
def zunionstore(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZUNIONSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]."""
    return _combine(ctx, args, 2, UNION, store=True, card=False)


@command(
    "ZINTERSTORE",
    -4,
    "write denyoom movablekeys",
    "sortedset slow",
    keys=(1, 1, 1),
    find_keys=store_keys,
)
def zinterstore(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZINTERSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]."""
    return _combine(ctx, args, 2, INTER, store=True, card=False)


@command(
    "ZDIFFSTORE",
    -4,
    "write denyoom movablekeys",
    "sortedset slow",
    keys=(1, 1, 1),
    find_keys=store_keys,
)
def zdiffstore(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZDIFFSTORE dst numkeys key [key ...]."""
    return _combine(ctx, args, 2, DIFF, store=True, card=False)
