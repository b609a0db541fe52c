"""Commands that move, copy or pick whole keys: RENAME, RENAMENX, COPY, MOVE, SWAPDB, TOUCH,
RANDOMKEY, PEXPIRETIME.

memvec has one database (docs/compatibility.md, as Redis Cluster and MemoryDB): ``COPY
... DB n``, ``MOVE`` and ``SWAPDB`` answer what Redis answers when ``databases`` is 1
(``DB index is out of range`` for any n but 0; ``source and destination objects are the
same`` for ``MOVE key 0``).

A key keeps its TTL (and a hash its field TTLs) when renamed or copied. RENAME and COPY
are deterministic and are logged as themselves. RANDOMKEY is random but reads only.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ..errors import CommandError, SyntaxErr
from ..keyspace import Stored, Value
from ..numbers import INT32_MAX, INT32_MIN
from ..replies import SimpleString
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from ..keyspace import Keyspace
    from .context import ExecContext

OK = SimpleString("OK")
SAME_OBJECT = "source and destination objects are the same"
DB_RANGE = "DB index is out of range"


def parse_db(raw: bytes, message: str | None = None) -> int:
    """A database number as Redis's ``getIntFromObjectOrReply`` reads it (32-bit): its
    errors, or ``message`` for both if given."""
    db = parse_int(raw) if message is None else parse_int(raw, message)
    if not INT32_MIN <= db <= INT32_MAX:
        raise CommandError(
            message or f"value is out of range, value must between {INT32_MIN} and {INT32_MAX}"
        )
    return db


def copy_value(value: Stored) -> Value:
    """An independent copy of any value (``bytes`` strings are immutable and shared; one
    being written in place is copied into ``bytes``)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, dict):
        return dict(value)
    return value.copy()


def place(ks: Keyspace, src: bytes, dst: bytes, value: Stored) -> None:
    """Store ``value`` at ``dst`` with ``src``'s key and field deadlines."""
    ks.set_value(dst, value)
    deadline = ks.expires.get(src)
    if deadline is not None:
        ks.set_deadline(dst, deadline)
    for field, field_deadline in list(ks.field_expires.get(src, {}).items()):
        ks.set_field_deadline(dst, field, field_deadline)


def _rename(ctx: ExecContext, args: list[bytes], nx: bool) -> object:
    src, dst = args[1], args[2]
    value = ctx.keyspace.get(src, ctx.expire_now)
    if value is None:
        raise CommandError("no such key")
    if src == dst:
        return 0 if nx else OK
    if ctx.keyspace.exists(dst, ctx.expire_now):
        if nx:
            return 0
        ctx.keyspace.delete(dst)
    place(ctx.keyspace, src, dst, ctx.keyspace.data[src])
    ctx.keyspace.delete(src)
    ctx.dirty = True
    return 1 if nx else OK


@command("RENAME", 3, "write", "keyspace slow", keys=(1, 2, 1))
def rename(ctx: ExecContext, args: list[bytes]) -> object:
    """Rename a key (replacing the destination); its TTL moves with it."""
    return _rename(ctx, args, nx=False)


@command("RENAMENX", 3, "write fast", "keyspace", keys=(1, 2, 1))
def renamenx(ctx: ExecContext, args: list[bytes]) -> object:
    """Rename a key only if the destination does not exist: 1 if renamed, else 0."""
    return _rename(ctx, args, nx=True)


@command("COPY", -3, "write denyoom", "keyspace slow", keys=(1, 2, 1))
def copy(ctx: ExecContext, args: list[bytes]) -> int:
    """COPY source destination [DB 0] [REPLACE]: 1 if copied, 0 otherwise."""
    replace = False
    j = 3
    while j < len(args):
        opt = args[j].upper()
        if opt == b"REPLACE":
            replace = True
        elif opt == b"DB" and j + 1 < len(args):
            if parse_db(args[j + 1]) != 0:
                raise CommandError(DB_RANGE)
            j += 1
        else:
            raise SyntaxErr()
        j += 1
    src, dst = args[1], args[2]
    if src == dst:
        raise CommandError(SAME_OBJECT)
    value = ctx.keyspace.get(src, ctx.expire_now)
    if value is None:
        return 0
    if ctx.keyspace.exists(dst, ctx.expire_now):
        if not replace:
            return 0
        ctx.keyspace.delete(dst)
    place(ctx.keyspace, src, dst, copy_value(ctx.keyspace.data[src]))
    ctx.dirty = True
    return 1


@command("MOVE", 3, "write fast", "keyspace", keys=(1, 1, 1))
def move(ctx: ExecContext, args: list[bytes]) -> int:
    """MOVE key db: with one database, only Redis's errors."""
    if parse_db(args[2]) != 0:
        raise CommandError(DB_RANGE)
    raise CommandError(SAME_OBJECT)


@command("SWAPDB", 3, "write fast", "keyspace dangerous")
def swapdb(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """SWAPDB a b: with one database, ``SWAPDB 0 0`` is a no-op, anything else an error."""
    first = parse_db(args[1], "invalid first DB index")
    second = parse_db(args[2], "invalid second DB index")
    if first != 0 or second != 0:
        raise CommandError(DB_RANGE)
    return OK


@command("TOUCH", -2, "readonly fast", "keyspace", keys=(1, -1, 1))
def touch(ctx: ExecContext, args: list[bytes]) -> int:
    """Count the keys that exist (the server stamps their access time)."""
    return sum(1 for key in args[1:] if ctx.keyspace.exists(key, ctx.read_now))


@command("RANDOMKEY", 1, "readonly", "keyspace slow")
def randomkey(ctx: ExecContext, args: list[bytes]) -> bytes | None:
    """A random live key, or nil when there is none.

    Up to 16 picks of the SCAN order's slots (:meth:`store.key_order.KeyOrder.random_key`,
    O(1) each); only if all of them hit logically expired keys does it filter the live
    ones (O(keys), as listing the keys for every call used to be).
    """
    if not ctx.keyspace.data:
        return None
    for _ in range(16):
        key = ctx.keyspace.order.random_key()
        if key is not None and ctx.keyspace.exists(key, ctx.read_now):
            return key
    live = list(ctx.keyspace.iter_keys(ctx.read_now))
    return random.choice(live) if live else None


@command("PEXPIRETIME", 2, "readonly fast", "keyspace", keys=(1, 1, 1))
def pexpiretime(ctx: ExecContext, args: list[bytes]) -> int:
    """Absolute unix time (ms) of expiry: -1 without, -2 if missing."""
    if not ctx.keyspace.exists(args[1], ctx.read_now):
        return -2
    deadline = ctx.keyspace.expires.get(args[1])
    return -1 if deadline is None else deadline
