"""Set algebra: SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE.

The algorithms and the order of their results are Redis 7.2's (``t_set.c``): SINTER walks
the smallest set (a stable sort by size) and lists members in its order; SUNION and SDIFF
build a result set (an intset grown member by member when storing or when every input is
an intset, else a hashtable) and list it, and SDIFF picks the same one of its two
algorithms. A missing key is an empty set; a key of another type is WRONGTYPE even after
a missing one. The STORE variants replace the destination whatever it held, and delete it
when the result is empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..datatypes.sets import HASHTABLE, INTSET, SetValue
from ..errors import CommandError, SyntaxErr
from .sets import MemberSet, get_set, union_of
from .table import command
from .util import numkeys_finder, parse_int

if TYPE_CHECKING:
    from .context import ExecContext


def _load(ctx: ExecContext, keys: list[bytes], write: bool) -> list[SetValue | None]:
    return [get_set(ctx, k, write=write) for k in keys]


def intersection(sets: list[SetValue | None], limit: int = 0) -> list[bytes]:
    """The members common to every set, in the smallest set's order (Redis's walk)."""
    if not sets or any(s is None for s in sets):
        return []
    present = [s for s in sets if s is not None]
    present.sort(key=len)
    first = present[0]
    out: list[bytes] = []
    # an intset walks sorted; any other set its members in place, not a copy of them, so
    # LIMIT bounds the walk (SINTERCARD ... LIMIT 10 of 500,000 members: 3.8 ms before)
    for m in first if first.enc == INTSET else first.members:
        if all(m in s for s in present[1:] if s is not first):
            out.append(m)
            if limit and len(out) >= limit:
                break
    return out


def difference(sets: list[SetValue | None], *, stored: bool) -> SetValue:
    """SDIFF's result set, built by the algorithm Redis 7.2 picks for these sizes."""
    start = INTSET
    if not stored and any(s is not None and s.enc != INTSET for s in sets):
        start = HASHTABLE
    out = SetValue(enc=start)
    first = sets[0]
    if first is None or any(s is first for s in sets[1:]):
        return out
    others = [s for s in sets[1:] if s is not None]
    present = [s for s in sets if s is not None]
    algo_one = len(first) * len(present) // 2
    algo_two = sum(len(s) for s in present)
    if algo_one <= algo_two:
        others.sort(key=len, reverse=True)
        for m in first:
            if not any(m in s for s in others):
                out.add(m)
    else:
        for m in first:
            out.add(m)
        for s in others:
            for m in s:
                out.remove(m)
                if not out.members:
                    return out
    return out


def _store(ctx: ExecContext, dst: bytes, result: SetValue) -> int:
    ctx.dirty = True
    if result.is_empty():
        ctx.keyspace.delete(dst)
        return 0
    ctx.keyspace.set_value(dst, result)
    return len(result)


@command("SINTER", -2, "readonly", "set slow", keys=(1, -1, 1))
def sinter(ctx: ExecContext, args: list[bytes]) -> MemberSet:
    """The members common to every given set."""
    return MemberSet(intersection(_load(ctx, args[1:], False)))


@command("SINTERCARD", -3, "readonly movablekeys", "set slow", find_keys=numkeys_finder(1))
def sintercard(ctx: ExecContext, args: list[bytes]) -> int:
    """SINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the intersection."""
    message = "numkeys should be greater than 0"
    numkeys = parse_int(args[1], message)
    if numkeys < 1:
        raise CommandError(message)
    if numkeys > len(args) - 2:
        raise CommandError("Number of keys can't be greater than number of args")
    limit = 0
    i = 2 + numkeys
    while i < len(args):
        if args[i].upper() == b"LIMIT" and i + 1 < len(args):
            limit = parse_int(args[i + 1], "LIMIT can't be negative")
            if limit < 0:
                raise CommandError("LIMIT can't be negative")
            i += 2
        else:
            raise SyntaxErr()
    return len(intersection(_load(ctx, args[2 : 2 + numkeys], False), limit))


@command("SINTERSTORE", -3, "write denyoom", "set slow", keys=(1, -1, 1))
def sinterstore(ctx: ExecContext, args: list[bytes]) -> int:
    """Store the intersection of sets at a destination; its size."""
    result = SetValue(enc=INTSET)
    for m in intersection(_load(ctx, args[2:], True)):
        result.add(m)
    return _store(ctx, args[1], result)


@command("SUNION", -2, "readonly", "set slow", keys=(1, -1, 1))
def sunion(ctx: ExecContext, args: list[bytes]) -> MemberSet:
    """The members of any given set."""
    return MemberSet(union_of(_load(ctx, args[1:], False), stored=False))


@command("SUNIONSTORE", -3, "write denyoom", "set slow", keys=(1, -1, 1))
def sunionstore(ctx: ExecContext, args: list[bytes]) -> int:
    """Store the union of sets at a destination; its size."""
    return _store(ctx, args[1], union_of(_load(ctx, args[2:], True), stored=True))


@command("SDIFF", -2, "readonly", "set slow", keys=(1, -1, 1))
def sdiff(ctx: ExecContext, args: list[bytes]) -> MemberSet:
    """The members of the first set that are in none of the others."""
    return MemberSet(difference(_load(ctx, args[1:], False), stored=False))


@command("SDIFFSTORE", -3, "write denyoom", "set slow", keys=(1, -1, 1))
def sdiffstore(ctx: ExecContext, args: list[bytes]) -> int:
    """Store the difference of sets at a destination; its size."""
    return _store(ctx, args[1], difference(_load(ctx, args[2:], True), stored=True))
