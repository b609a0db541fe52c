"""Sorted-set pops: ZPOPMIN, ZPOPMAX, ZMPOP and the blocking BZPOPMIN, BZPOPMAX, BZMPOP.

Every pop is logged as ``ZPOPMIN|ZPOPMAX key count`` (Redis's own rewrite), so replay
and replicas never block and pop exactly what was popped. The blocking forms keep the
contract of :mod:`store.commands.blocking`: served at once when a key holds elements,
otherwise :class:`WouldBlock` when ``ctx.may_block`` and the timeout reply (a null array)
when not (MULTI, scripts, replay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..datatypes.zsets import ZSet
from ..errors import CommandError, SyntaxErr
from ..numbers import INT64_MAX, parse_int64
from ..replies import NULL_ARRAY
from .blocking import WouldBlock, parse_timeout
from .table import command
from .util import numkeys_finder
from .zsets_args import parse_positive, write_zset

if TYPE_CHECKING:
    from .context import ExecContext


def _ranged(raw: bytes, message: str) -> int:
    """``getRangeLongFromObjectOrReply(1, LONG_MAX, message)``: ``message`` for a
    non-integer too."""
    value = parse_int64(raw)
    if value is None or not 1 <= value <= INT64_MAX:
        raise CommandError(message)
    return value


def _pop(ctx: ExecContext, key: bytes, z: ZSet, from_max: bool, count: int) -> list[Any]:
    """Pop up to ``count`` elements; logs the deterministic ``ZPOPMIN|ZPOPMAX key n``."""
    n = min(count, len(z))
    popped = [z.pop(from_max) for _ in range(n)]
    ctx.keyspace.touched(key)
    ctx.dirty = True
    ctx.log_args = [b"ZPOPMAX" if from_max else b"ZPOPMIN", key, str(n).encode()]
    return popped


def _first_nonempty(ctx: ExecContext, keys: list[bytes]) -> tuple[bytes, ZSet] | None:
    for key in keys:
        z = write_zset(ctx, key)
        if z is not None:
            return key, z
    return None


def _zpop(ctx: ExecContext, args: list[bytes], from_max: bool) -> Any:
    if len(args) > 3:
        raise SyntaxErr()
    count = parse_positive(args[2]) if len(args) == 3 else -1
    z = write_zset(ctx, args[1])
    if z is None or count == 0:
        return []
    popped = _pop(ctx, args[1], z, from_max, 1 if count == -1 else count)
    if ctx.protocol >= 3 and count != -1:
        return [[m, s] for m, s in popped]
    return [x for pair in popped for x in pair]


@command("ZPOPMIN", -2, "write fast", "sortedset", keys=(1, 1, 1))
def zpopmin(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZPOPMIN key [count]."""
    return _zpop(ctx, args, False)


@command("ZPOPMAX", -2, "write fast", "sortedset", keys=(1, 1, 1))
def zpopmax(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZPOPMAX key [count]."""
    return _zpop(ctx, args, True)


def _parse_mpop(args: list[bytes], numkeys_at: int) -> tuple[list[bytes], bool, int]:
    numkeys = _ranged(args[numkeys_at], "numkeys should be greater than 0")
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(args):
        raise SyntaxErr()
    where = args[where_at].upper()
    if where not in (b"MIN", b"MAX"):
        raise SyntaxErr()
    count = -1
    j = where_at + 1
    while j < len(args):
        if count == -1 and args[j].upper() == b"COUNT" and j + 1 < len(args):
            count = _ranged(args[j + 1], "count should be greater than 0")
            j += 2
        else:
            raise SyntaxErr()
    keys = args[numkeys_at + 1 : where_at]
    return keys, where == b"MAX", 1 if count == -1 else count


def _mpop_reply(ctx: ExecContext, found: tuple[bytes, ZSet], from_max: bool, count: int) -> Any:
    key, z = found
    popped = _pop(ctx, key, z, from_max, count)
    return [key, [[m, s] for m, s in popped]]


@command("ZMPOP", -4, "write movablekeys", "sortedset slow", find_keys=numkeys_finder(1))
def zmpop(ctx: ExecContext, args: list[bytes]) -> Any:
    """ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]."""
    keys, from_max, count = _parse_mpop(args, 1)
    found = _first_nonempty(ctx, keys)
    if found is None:
        return NULL_ARRAY
    return _mpop_reply(ctx, found, from_max, count)


def _bzpop(ctx: ExecContext, args: list[bytes], from_max: bool) -> Any:
    timeout_ms = parse_timeout(args[-1])
    keys = args[1:-1]
    found = _first_nonempty(ctx, keys)
    if found is None:
        if ctx.may_block:
            return WouldBlock(tuple(keys), timeout_ms, NULL_ARRAY, key_type="zset")
        return NULL_ARRAY
    key, z = found
    ((member, score),) = _pop(ctx, key, z, from_max, 1)
    ctx.log_args = [b"ZPOPMAX" if from_max else b"ZPOPMIN", key]
    return [key, member, score]


@command("BZPOPMIN", -3, "write blocking fast", "sortedset blocking", keys=(1, -2, 1))
def bzpopmin(ctx: ExecContext, args: list[bytes]) -> Any:
    """BZPOPMIN key [key ...] timeout."""
    return _bzpop(ctx, args, False)


@command("BZPOPMAX", -3, "write blocking fast", "sortedset blocking", keys=(1, -2, 1))
def bzpopmax(ctx: ExecContext, args: list[bytes]) -> Any:
    """BZPOPMAX key [key ...] timeout."""
    return _bzpop(ctx, args, True)


@command(
    "BZMPOP",
    -5,
    "write blocking movablekeys",
    "sortedset blocking slow",
    find_keys=numkeys_finder(2),
)
def bzmpop(ctx: ExecContext, args: list[bytes]) -> Any:
    """BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]."""
    keys, from_max, count = _parse_mpop(args, 2)
    timeout_ms = parse_timeout(args[1])
    found = _first_nonempty(ctx, keys)
    if found is None:
        if ctx.may_block:
            return WouldBlock(tuple(keys), timeout_ms, NULL_ARRAY, key_type="zset")
        return NULL_ARRAY
    return _mpop_reply(ctx, found, from_max, count)
