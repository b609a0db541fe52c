"""List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM
LTRIM LPOS LMOVE RPOPLPUSH LMPOP (the blocking ones: :mod:`store.commands.list_blocking`).

Replies, errors and their order of checks follow Redis 7.2's ``t_list.c``: arguments are
parsed before the key is looked up, so a syntax error wins over WRONGTYPE, except where
Redis looks the key up first (LPOP's count of 0, LMOVE's missing source).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING

from ..datatypes.lists import ListValue
from ..errors import CommandError, SyntaxErr
from ..replies import NULL_ARRAY, SimpleString
from .table import command
from .util import numkeys_finder, parse_int

if TYPE_CHECKING:
    from .context import ExecContext

OK = SimpleString("OK")
LONG_MAX = 2**63 - 1


def get_list(ctx: ExecContext, key: bytes, *, write: bool = False) -> ListValue | None:
    """The list at ``key`` (None if missing; WRONGTYPE). ``write``: for a write command,
    which sees what replay will see (``ctx.expire_now``)."""
    return ctx.keyspace.get_typed(key, ctx.expire_now if write else ctx.read_now, ListValue)


def parse_side(raw: bytes) -> bool:
    """LEFT (True) or RIGHT (False), any case; Redis's syntax error otherwise."""
    side = raw.upper()
    if side == b"LEFT":
        return True
    if side == b"RIGHT":
        return False
    raise SyntaxErr()


def parse_positive(raw: bytes, message: str = "value is out of range, must be positive") -> int:
    """``getPositiveLongFromObjectOrReply``: an integer >= 0; ``message`` for anything
    else, a non-integer included."""
    value = parse_int(raw, message)
    if value < 0:
        raise CommandError(message)
    return value


def push(ctx: ExecContext, key: bytes, values: list[bytes], *, left: bool) -> int:
    """Push onto ``key`` (created if missing); the new length. Caller checked the type."""
    lst = ctx.keyspace.typed_for_write(key, ListValue)
    lst.push(values, left=left)
    ctx.keyspace.touched(key)
    ctx.dirty = True
    return len(lst)


def pop(ctx: ExecContext, key: bytes, lst: ListValue, count: int, *, left: bool) -> list[bytes]:
    out = lst.pop(count, left=left)
    ctx.keyspace.touched(key)
    ctx.dirty = True
    return out


def _push_cmd(left: bool, exists_only: bool) -> Callable[[ExecContext, list[bytes]], int]:
    """LPUSH / RPUSH (``exists_only``: LPUSHX / RPUSHX)."""

    def handler(ctx: ExecContext, args: list[bytes]) -> int:
        key = args[1]
        current = get_list(ctx, key, write=True)
        if exists_only and current is None:
            return 0
        return push(ctx, key, args[2:], left=left)

    return handler


command("LPUSH", -3, "write denyoom fast", "list", keys=(1, 1, 1),
        summary="Prepend elements to a list; the new length.")(_push_cmd(True, False))  # fmt: skip
command("RPUSH", -3, "write denyoom fast", "list", keys=(1, 1, 1),
        summary="Append elements to a list; the new length.")(_push_cmd(False, False))  # fmt: skip
command("LPUSHX", -3, "write denyoom fast", "list", keys=(1, 1, 1),
        summary="Prepend elements to an existing list.")(_push_cmd(True, True))  # fmt: skip
command("RPUSHX", -3, "write denyoom fast", "list", keys=(1, 1, 1),
        summary="Append elements to an existing list.")(_push_cmd(False, True))  # fmt: skip


def _pop_cmd(ctx: ExecContext, args: list[bytes], *, left: bool) -> object:
    if len(args) > 3:
        name = args[0].decode("utf-8", "replace").lower()
        raise CommandError(f"wrong number of arguments for '{name}' command")
    has_count = len(args) == 3
    count = parse_positive(args[2]) if has_count else 1
    lst = get_list(ctx, args[1], write=True)
    if lst is None:
        return NULL_ARRAY if has_count else None
    if has_count and count == 0:
        return []
    out = pop(ctx, args[1], lst, count, left=left)
    return out if has_count else out[0]


@command("LPOP", -2, "write fast", "list", keys=(1, 1, 1))
def lpop(ctx: ExecContext, args: list[bytes]) -> object:
    """Remove and return the first element(s) of a list."""
    return _pop_cmd(ctx, args, left=True)


@command("RPOP", -2, "write fast", "list", keys=(1, 1, 1))
def rpop(ctx: ExecContext, args: list[bytes]) -> object:
    """Remove and return the last element(s) of a list."""
    return _pop_cmd(ctx, args, left=False)


@command("LLEN", 2, "readonly fast", "list", keys=(1, 1, 1))
def llen(ctx: ExecContext, args: list[bytes]) -> int:
    """The length of a list."""
    lst = get_list(ctx, args[1])
    return 0 if lst is None else len(lst)


def clamp_range(start: int, stop: int, length: int) -> tuple[int, int] | None:
    """Redis's LRANGE/LTRIM index rules: the inclusive range, or None if it is empty."""
    if start < 0:
        start = max(length + start, 0)
    if stop < 0:
        stop += length
    if start > stop or start >= length:
        return None
    return start, min(stop, length - 1)


@command("LRANGE", 4, "readonly", "list slow", keys=(1, 1, 1))
def lrange(ctx: ExecContext, args: list[bytes]) -> list[bytes]:
    """Elements from start to stop (inclusive, negative from the end)."""
    start, stop = parse_int(args[2]), parse_int(args[3])
    lst = get_list(ctx, args[1])
    if lst is None:
        return []
    span = clamp_range(start, stop, len(lst))
    if span is None:
        return []
    items = lst.items
    if span[0] > len(items) // 2:  # walk from the nearer end, as a quicklist does
        tail = list(islice(reversed(items), len(items) - 1 - span[1], len(items) - span[0]))
        return tail[::-1]
    return list(islice(items, span[0], span[1] + 1))


@command("LINDEX", 3, "readonly", "list slow", keys=(1, 1, 1))
def lindex(ctx: ExecContext, args: list[bytes]) -> bytes | None:
    """The element at an index (negative from the end); nil out of range."""
    lst = get_list(ctx, args[1])  # Redis looks the key up before parsing the index
    if lst is None:
        return None
    index = parse_int(args[2])
    n = len(lst)
    if index < 0:
        index += n
    return lst.items[index] if 0 <= index < n else None


@command("LSET", 4, "write denyoom", "list slow", keys=(1, 1, 1))
def lset(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Set the element at an index."""
    lst = get_list(ctx, args[1], write=True)  # looked up before the index is parsed
    if lst is None:
        raise CommandError("no such key")
    index = parse_int(args[2])
    lst.grow([args[3]])  # Redis converts before it knows the index is in range
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise CommandError("index out of range")
    lst.set_at(index, args[3])
    ctx.keyspace.touched(args[1])
    ctx.dirty = True
    return OK


@command("LINSERT", 5, "write denyoom", "list slow", keys=(1, 1, 1))
def linsert(ctx: ExecContext, args: list[bytes]) -> int:
    """Insert before or after the first occurrence of a pivot; -1 if there is none."""
    where = args[2].upper()
    if where not in (b"BEFORE", b"AFTER"):
        raise SyntaxErr()
    lst = get_list(ctx, args[1], write=True)
    if lst is None:
        return 0
    pivot, value = args[3], args[4]
    lst.grow([value])  # Redis converts before it looks for the pivot
    try:
        index = lst.items.index(pivot)
    except ValueError:
        return -1
    lst.insert_at(index if where == b"BEFORE" else index + 1, value)
    ctx.keyspace.touched(args[1])
    ctx.dirty = True
    return len(lst)


@command("LREM", 4, "write", "list slow", keys=(1, 1, 1))
def lrem(ctx: ExecContext, args: list[bytes]) -> int:
    """Remove up to count occurrences (count < 0: from the tail; 0: all)."""
    count = parse_int(args[2])
    lst = get_list(ctx, args[1], write=True)
    if lst is None:
        return 0
    removed = lst.remove_value(args[3], abs(count), from_tail=count < 0)
    if removed:
        ctx.keyspace.touched(args[1])
        ctx.dirty = True
    return removed


@command("LTRIM", 4, "write", "list slow", keys=(1, 1, 1))
def ltrim(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Keep only the elements from start to stop."""
    start, stop = parse_int(args[2]), parse_int(args[3])
    lst = get_list(ctx, args[1], write=True)
    if lst is None:
        return OK
    span = clamp_range(start, stop, len(lst))
    if span is None:
        lst.replace_all([])
    elif span[1] - span[0] + 1 != len(lst):
        lst.trim(span[0], span[1])
    else:
        return OK
    ctx.keyspace.touched(args[1])
    ctx.dirty = True
    return OK


@command("LPOS", -3, "readonly", "list slow", keys=(1, 1, 1))
def lpos(ctx: ExecContext, args: list[bytes]) -> object:
    """LPOS key element [RANK rank] [COUNT num] [MAXLEN len]: indexes of matches."""
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(args):
        opt = args[i].upper()
        more = len(args) - 1 - i
        if opt == b"RANK" and more:
            rank = parse_int(args[i + 1])
            if rank == 0:
                raise CommandError(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list"
                )
            if rank == -(2**63):
                raise CommandError(
                    f"value is out of range, value must between {-LONG_MAX} and {LONG_MAX}"
                )
        elif opt == b"COUNT" and more:
            count = parse_positive(args[i + 1], "COUNT can't be negative")
        elif opt == b"MAXLEN" and more:
            maxlen = parse_positive(args[i + 1], "MAXLEN can't be negative")
        else:
            raise SyntaxErr()
        i += 2
    lst = get_list(ctx, args[1])
    if lst is None:
        return None if count is None else []
    target = args[2]
    items = lst.items
    n = len(items)
    found: list[int] = []
    want = 1 if count is None else (count or n)
    skip = abs(rank) - 1
    # one pass in order (indexing a deque in a loop walked it from an end each time)
    for compared, item in enumerate(iter(items) if rank > 0 else reversed(items)):
        if maxlen and compared >= maxlen:
            break
        if item == target:
            if skip:
                skip -= 1
                continue
            found.append(compared if rank > 0 else n - 1 - compared)
            if len(found) >= want:
                break
    if count is None:
        return found[0] if found else None
    return found


def parse_move_sides(args: list[bytes], at: int) -> tuple[bool, bool]:
    return parse_side(args[at]), parse_side(args[at + 1])


def move(ctx: ExecContext, src: bytes, dst: bytes, *, from_left: bool, to_left: bool) -> object:
    """LMOVE's work: None if ``src`` is empty; WRONGTYPE if ``dst`` holds another type."""
    source = get_list(ctx, src, write=True)
    if source is None:
        return None
    get_list(ctx, dst, write=True)  # WRONGTYPE before anything moves
    value = source.pop(1, left=from_left)[0]
    if src == dst:  # a rotation: the key never stops existing (its TTL stays)
        source.push([value], left=to_left)
        ctx.keyspace.touched(src)
        ctx.dirty = True
        return value
    ctx.keyspace.touched(src)
    dest = ctx.keyspace.typed_for_write(dst, ListValue)
    dest.push([value], left=to_left)
    ctx.keyspace.touched(dst)
    ctx.dirty = True
    return value


@command("LMOVE", 5, "write denyoom", "list slow", keys=(1, 2, 1))
def lmove(ctx: ExecContext, args: list[bytes]) -> object:
    """Pop from one end of a list and push onto an end of another (or the same)."""
    from_left, to_left = parse_move_sides(args, 3)
    return move(ctx, args[1], args[2], from_left=from_left, to_left=to_left)


@command("RPOPLPUSH", 3, "write denyoom", "list slow", keys=(1, 2, 1))
def rpoplpush(ctx: ExecContext, args: list[bytes]) -> object:
    """LMOVE source destination RIGHT LEFT."""
    return move(ctx, args[1], args[2], from_left=False, to_left=True)


def parse_mpop(args: list[bytes], numkeys_at: int) -> tuple[list[bytes], bool, int]:
    """LMPOP/BLMPOP's ``numkeys key... LEFT|RIGHT [COUNT n]``: keys, side, count."""
    message = "numkeys should be greater than 0"
    numkeys = parse_int(args[numkeys_at], message)
    if numkeys < 1:
        raise CommandError(message)
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(args):
        raise SyntaxErr()
    left = parse_side(args[where_at])
    count = -1
    i = where_at + 1
    while i < len(args):
        if count == -1 and args[i].upper() == b"COUNT" and i + 1 < len(args):
            message = "count should be greater than 0"
            count = parse_int(args[i + 1], message)
            if count < 1:
                raise CommandError(message)
            i += 2
        else:
            raise SyntaxErr()
    return args[numkeys_at + 1 : where_at], left, 1 if count == -1 else count


def mpop(ctx: ExecContext, keys: list[bytes], left: bool, count: int) -> object:
    """Pop from the first non-empty list: ``[key, [elements]]``, or None; logs LMPOP of
    that one key (replay and replicas pop from the same key whatever else changed)."""
    for key in keys:
        lst = get_list(ctx, key, write=True)
        if lst is not None:
            out = pop(ctx, key, lst, count, left=left)
            side = b"LEFT" if left else b"RIGHT"
            ctx.log_args = [b"LMPOP", b"1", key, side, b"COUNT", b"%d" % count]
            return [key, out]
    return None


@command("LMPOP", -4, "write movablekeys", "list slow", find_keys=numkeys_finder(1))
def lmpop(ctx: ExecContext, args: list[bytes]) -> object:
    """Pop elements from the first non-empty list of several."""
    keys, left, count = parse_mpop(args, 1)
    served = mpop(ctx, keys, left, count)
    return NULL_ARRAY if served is None else served
