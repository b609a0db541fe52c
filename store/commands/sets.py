"""Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE
SSCAN (intersections, unions and differences: :mod:`store.commands.set_algebra`).

Members are listed in the order Redis lists them for intset and listpack sets
(:mod:`store.datatypes.sets`). SPOP is random: it is logged as the SREM of what it popped
(or the DEL of the whole set), so replay and replicas remove the same members.
SRANDMEMBER is random and reads only.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..datatypes.sets import HASHTABLE, SetValue
from ..errors import CommandError
from .element_scan import ELEMENT_SCANS
from .scan_args import parse_cursor, parse_scan_options
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext

LONG_MAX = 2**63 - 1


class MemberSet(frozenset):
    """A set reply (RESP3 ``~``, a RESP2 array) that keeps the order it was built in."""

    order: list[bytes]

    def __new__(cls, members: Iterable[bytes]) -> MemberSet:
        order = list(members)
        made = super().__new__(cls, order)
        made.order = order
        return made

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.order)


def get_set(ctx: ExecContext, key: bytes, *, write: bool = False) -> SetValue | None:
    """The set at ``key`` (None if missing; WRONGTYPE). ``write``: as a write command
    sees it (``ctx.expire_now``: what replay will see)."""
    return ctx.keyspace.get_typed(key, ctx.expire_now if write else ctx.read_now, SetValue)


def add_members(ctx: ExecContext, key: bytes, members: list[bytes]) -> int:
    """SADD's work: how many were new. Creates the set as Redis's ``setTypeCreate``."""
    current = get_set(ctx, key, write=True)
    if current is None:
        current = SetValue.create(members[0], len(members))
        added = sum(1 for m in members if current.add(m))
        ctx.keyspace.set_value(key, current)
    else:
        added = sum(1 for m in members if current.add(m))
        if added:
            ctx.keyspace.touched(key)
    if added:
        ctx.dirty = True
    return added


@command("SADD", -3, "write denyoom fast", "set", keys=(1, 1, 1))
def sadd(ctx: ExecContext, args: list[bytes]) -> int:
    """Add members to a set; how many were not there."""
    return add_members(ctx, args[1], args[2:])


@command("SREM", -3, "write fast", "set", keys=(1, 1, 1))
def srem(ctx: ExecContext, args: list[bytes]) -> int:
    """Remove members from a set; how many were there."""
    current = get_set(ctx, args[1], write=True)
    if current is None:
        return 0
    removed = sum(1 for m in args[2:] if current.remove(m))
    if removed:
        ctx.keyspace.touched(args[1])
        ctx.dirty = True
    return removed


@command("SMEMBERS", 2, "readonly", "set slow", keys=(1, 1, 1))
def smembers(ctx: ExecContext, args: list[bytes]) -> MemberSet:
    """Every member of a set."""
    current = get_set(ctx, args[1])
    return MemberSet(() if current is None else current)


@command("SISMEMBER", 3, "readonly fast", "set", keys=(1, 1, 1))
def sismember(ctx: ExecContext, args: list[bytes]) -> int:
    """1 if the member is in the set."""
    current = get_set(ctx, args[1])
    return int(current is not None and args[2] in current)


@command("SMISMEMBER", -3, "readonly fast", "set", keys=(1, 1, 1))
def smismember(ctx: ExecContext, args: list[bytes]) -> list[int]:
    """For each member, 1 if it is in the set."""
    current = get_set(ctx, args[1])
    return [int(current is not None and m in current) for m in args[2:]]


@command("SCARD", 2, "readonly fast", "set", keys=(1, 1, 1))
def scard(ctx: ExecContext, args: list[bytes]) -> int:
    """The number of members of a set."""
    current = get_set(ctx, args[1])
    return 0 if current is None else len(current)


@command("SPOP", -2, "write fast", "set", keys=(1, 1, 1))
def spop(ctx: ExecContext, args: list[bytes]) -> object:
    """Remove and return random members (logged as the SREM of those members)."""
    if len(args) > 3:
        raise CommandError("syntax error")
    key = args[1]
    if len(args) == 2:
        current = get_set(ctx, key, write=True)
        if current is None:
            return None
        member = current.random_member()
        current.remove(member)
        ctx.keyspace.touched(key)
        ctx.dirty = True
        ctx.log_args = [b"SREM", key, member]
        return member
    count = parse_int(args[2], "value is out of range, must be positive")
    if count < 0:
        raise CommandError("value is out of range, must be positive")
    current = get_set(ctx, key, write=True)  # WRONGTYPE even for a count of 0
    if current is None or count == 0:
        return MemberSet(())
    ctx.dirty = True
    if count >= len(current):
        whole = MemberSet(union_of([current], stored=False))
        ctx.keyspace.delete(key)
        ctx.log_args = [b"DEL", key]
        return whole
    popped = distinct_random(current, count)
    for m in popped:
        current.remove(m)
    ctx.keyspace.touched(key)
    ctx.log_args = [b"SREM", key, *popped]
    return MemberSet(popped)


@command("SRANDMEMBER", -2, "readonly", "set slow", keys=(1, 1, 1))
def srandmember(ctx: ExecContext, args: list[bytes]) -> object:
    """Random members (count < 0: may repeat); reads only."""
    if len(args) > 3:
        raise CommandError("syntax error")
    if len(args) == 2:
        current = get_set(ctx, args[1])
        return None if current is None else current.random_member()
    count = parse_int(args[2])
    if count < -LONG_MAX:
        raise CommandError(f"value is out of range, value must between {-LONG_MAX} and {LONG_MAX}")
    current = get_set(ctx, args[1])
    if current is None or count == 0:
        return []
    if count < 0:
        return [current.random_member() for _ in range(-count)]
    if count >= len(current):
        return list(current)
    return distinct_random(current, count)


def distinct_random(current: SetValue, count: int) -> list[bytes]:
    """``count`` (< the set's size) distinct members at random: picks from the set's pool
    while they are few against its size, else one sample of a copy."""
    if count * 4 > len(current):
        return random.sample(list(current.members), count)
    picked: dict[bytes, None] = {}
    while len(picked) < count:
        picked[current.random_member()] = None
    return list(picked)


@command("SMOVE", 4, "write fast", "set", keys=(1, 2, 1))
def smove(ctx: ExecContext, args: list[bytes]) -> int:
    """Move a member from one set to another; 1 if it moved."""
    src, dst, member = args[1], args[2], args[3]
    source = get_set(ctx, src, write=True)
    if source is None:
        return 0
    dest = get_set(ctx, dst, write=True)
    if source is dest:
        return int(member in source)
    if not source.remove(member):
        return 0
    ctx.keyspace.touched(src)
    if dest is None:
        dest = SetValue.create(member, 1)
        dest.add(member)
        ctx.keyspace.set_value(dst, dest)
    elif dest.add(member):
        ctx.keyspace.touched(dst)
    ctx.dirty = True
    return 1


@command("SSCAN", -3, "readonly", "set slow", keys=(1, 1, 1))
def sscan(ctx: ExecContext, args: list[bytes]) -> list[object]:
    """SSCAN key cursor [MATCH pattern] [COUNT n].

    A set of up to ``ONE_REPLY_MAX`` (512) members comes in one reply with cursor 0, as
    Redis answers an intset or listpack set; a larger one in pages of COUNT members
    (:mod:`store.commands.element_scan`), keeping SCAN's guarantee.
    """
    cursor = parse_cursor(args[2])
    opts = parse_scan_options(args, 3, hash_scan=True)
    if opts.novalues:
        raise CommandError("NOVALUES option can only be used in HSCAN")
    current = get_set(ctx, args[1])
    if current is None:
        return [b"0", []]
    following, names = ELEMENT_SCANS.page(args[1], cursor, opts.count, lambda: list(current))
    return [str(following).encode(), [m for m in names if m in current and opts.matches(m)]]


def union_of(sets: Iterable[SetValue | None], *, stored: bool) -> SetValue:
    """SUNION's result set, encoded as Redis 7.2 builds it: an intset grown member by
    member, or (not stored, some input not an intset) a hashtable from the start."""
    inputs = [s for s in sets if s is not None]
    start = "intset"
    if not stored and any(s.enc != "intset" for s in inputs):
        start = HASHTABLE
    out = SetValue(enc=start)
    for s in inputs:
        for m in s:
            out.add(m)
    return out
