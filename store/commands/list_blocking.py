"""Blocking list commands: BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP.

Each serves at once like its twin when it can, and logs the twin (BLPOP as LPOP, BLMOVE
as LMOVE, BLMPOP as LMPOP of the key it popped), so replay and replicas never block.
When nothing can be served it returns :class:`store.commands.blocking.WouldBlock` if the
call may block, else the timeout reply (MULTI, scripts), as Redis does with
``CLIENT_DENY_BLOCKING``. The timeout reply is a null array for the pops (``*-1`` in
RESP2, ``_`` in RESP3), for the moves too (Redis's ``replyToBlockedClientTimedOut``),
though a move that cannot block (MULTI) answers a null bulk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..replies import NULL_ARRAY
from .blocking import WouldBlock, parse_timeout
from .lists import get_list, move, mpop, parse_move_sides, parse_mpop, pop
from .table import command

if TYPE_CHECKING:
    from .context import ExecContext


def _pop_first(ctx: ExecContext, args: list[bytes], *, left: bool) -> object:
    timeout = parse_timeout(args[-1])
    keys = args[1:-1]
    for key in keys:
        lst = get_list(ctx, key, write=True)
        if lst is not None:
            value = pop(ctx, key, lst, 1, left=left)[0]
            ctx.log_args = [b"LPOP" if left else b"RPOP", key]
            return [key, value]
    if ctx.may_block:
        return WouldBlock(tuple(keys), timeout, NULL_ARRAY, key_type="list")
    return NULL_ARRAY


@command("BLPOP", -3, "write blocking", "list slow blocking", keys=(1, -2, 1))
def blpop(ctx: ExecContext, args: list[bytes]) -> object:
    """Pop the first element of the first non-empty list, or block until one can be."""
    return _pop_first(ctx, args, left=True)


@command("BRPOP", -3, "write blocking", "list slow blocking", keys=(1, -2, 1))
def brpop(ctx: ExecContext, args: list[bytes]) -> object:
    """Pop the last element of the first non-empty list, or block until one can be."""
    return _pop_first(ctx, args, left=False)


def _blocking_move(
    ctx: ExecContext, args: list[bytes], timeout: int, *, from_left: bool, to_left: bool
) -> object:
    src, dst = args[1], args[2]
    value = move(ctx, src, dst, from_left=from_left, to_left=to_left)
    if value is not None:
        sides = [b"LEFT" if from_left else b"RIGHT", b"LEFT" if to_left else b"RIGHT"]
        ctx.log_args = [b"LMOVE", src, dst, *sides]
        return value
    if ctx.may_block:
        return WouldBlock((src,), timeout, NULL_ARRAY, key_type="list")
    return None


@command("BLMOVE", 6, "write denyoom blocking", "list slow blocking", keys=(1, 2, 1))
def blmove(ctx: ExecContext, args: list[bytes]) -> object:
    """LMOVE, or block until the source has an element."""
    from_left, to_left = parse_move_sides(args, 3)
    timeout = parse_timeout(args[5])
    return _blocking_move(ctx, args, timeout, from_left=from_left, to_left=to_left)


@command("BRPOPLPUSH", 4, "write denyoom blocking", "list slow blocking", keys=(1, 2, 1))
def brpoplpush(ctx: ExecContext, args: list[bytes]) -> object:
    """RPOPLPUSH, or block until the source has an element."""
    timeout = parse_timeout(args[3])
    return _blocking_move(ctx, args, timeout, from_left=False, to_left=True)


@command("BLMPOP", -5, "write blocking movablekeys", "list slow blocking")
def blmpop(ctx: ExecContext, args: list[bytes]) -> object:
    """LMPOP, or block until one of the lists has elements."""
    timeout = parse_timeout(args[1])
    keys, left, count = parse_mpop(args, 2)
    served = mpop(ctx, keys, left, count)
    if served is not None:
        return served
    if ctx.may_block:
        return WouldBlock(tuple(keys), timeout, NULL_ARRAY, key_type="list")
    return NULL_ARRAY
