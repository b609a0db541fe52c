"""Generic keyspace commands: DEL, EXISTS, TYPE, KEYS, SCAN, EXPIRE family, DBSIZE, FLUSHALL."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import SyntaxErr
from ..keyspace import glob_to_regex
from ..replies import SimpleString
from .scan_args import parse_cursor, parse_scan_options
from .table import command
from .util import ExpiryCondition, expiry_deadline_ms, parse_int

if TYPE_CHECKING:
    from .context import ExecContext


@command("DEL", -2, "write", "keyspace slow", keys=(1, -1, 1))
def del_(ctx: ExecContext, args: list[bytes]) -> int:
    """Delete keys; returns how many existed."""
    removed = 0
    for key in args[1:]:
        if ctx.keyspace.exists(key, ctx.expire_now):
            removed += 1
        if ctx.keyspace.delete(key):
            ctx.dirty = True
    return removed


@command("UNLINK", -2, "write", "keyspace fast", keys=(1, -1, 1))
def unlink(ctx: ExecContext, args: list[bytes]) -> int:
    """Delete keys (same as DEL here: memory is freed at once)."""
    return del_(ctx, args)


@command("EXISTS", -2, "readonly fast", "keyspace", keys=(1, -1, 1))
def exists(ctx: ExecContext, args: list[bytes]) -> int:
    """Count how many of the keys exist (a key named twice counts twice)."""
    return sum(1 for key in args[1:] if ctx.keyspace.exists(key, ctx.read_now))


@command("TYPE", 2, "readonly fast", "keyspace", keys=(1, 1, 1))
def type_(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """The type of the value at key: string, hash or none."""
    return SimpleString(ctx.keyspace.type_name(args[1], ctx.read_now))


@command("KEYS", 2, "readonly", "keyspace slow dangerous")
def keys_(ctx: ExecContext, args: list[bytes]) -> list[bytes]:
    """All keys matching a glob pattern."""
    rx = glob_to_regex(args[1])
    return [k for k in ctx.keyspace.iter_keys(ctx.read_now) if rx.fullmatch(k)]


@command("SCAN", -2, "readonly", "keyspace slow")
def scan(ctx: ExecContext, args: list[bytes]) -> list[object]:
    """Iterate keys with a cursor: SCAN cursor [MATCH pattern] [COUNT n] [TYPE t].

    The cursor is a key creation sequence number (:meth:`store.keyspace.Keyspace.scan`):
    a key present for the whole iteration is returned exactly once, whatever is added or
    deleted meanwhile, and the iteration ends (cursor 0).
    """
    cursor = parse_cursor(args[1])
    opts = parse_scan_options(args, 2, hash_scan=False)
    nxt, batch = ctx.keyspace.scan(cursor, opts.count)
    out = []
    for key in batch:
        if not ctx.keyspace.exists(key, ctx.read_now) or not opts.matches(key):
            continue
        if opts.want_type and ctx.keyspace.type_name(key, ctx.read_now).lower() != opts.want_type:
            continue
        out.append(key)
    return [str(nxt).encode(), out]


def _set_expiry(ctx: ExecContext, key: bytes, deadline_ms: int, flags: list[bytes]) -> int:
    condition = ExpiryCondition.parse(flags)
    if not ctx.keyspace.exists(key, ctx.expire_now):
        return 0
    if not condition.allows(ctx.keyspace.expires.get(key), deadline_ms):
        return 0
    ctx.dirty = True
    ctx.log_args = [b"PEXPIREAT", key, str(deadline_ms).encode(), *flags]
    if not ctx.replaying and deadline_ms <= ctx.now_ms:
        ctx.keyspace.delete(key)
        ctx.log_args = [b"DEL", key]
        return 1
    ctx.keyspace.set_deadline(key, deadline_ms)
    return 1


def _expire_cmd(unit_ms: int, absolute: bool) -> Callable[[ExecContext, list[bytes]], int]:
    def handler(ctx: ExecContext, args: list[bytes]) -> int:
        amount = parse_int(args[2])
        deadline = expiry_deadline_ms(
            args[0], amount, unit_ms, absolute=absolute, now_ms=ctx.now_ms
        )
        return _set_expiry(ctx, args[1], deadline, args[3:])

    return handler


for _name, _unit, _abs in (
    ("EXPIRE", 1000, False),
    ("PEXPIRE", 1, False),
    ("EXPIREAT", 1000, True),
    ("PEXPIREAT", 1, True),
):
    command(_name, -3, "write fast", "keyspace", keys=(1, 1, 1), summary=f"{_name} key n")(
        _expire_cmd(_unit, _abs)
    )


def _ttl(ctx: ExecContext, key: bytes, unit_ms: int) -> int:
    if not ctx.keyspace.exists(key, ctx.read_now):
        return -2
    deadline = ctx.keyspace.expires.get(key)
    if deadline is None:
        return -1
    remaining = max(0, deadline - ctx.now_ms)
    return (remaining + unit_ms // 2) // unit_ms if unit_ms > 1 else remaining


@command("TTL", 2, "readonly fast", "keyspace", keys=(1, 1, 1))
def ttl(ctx: ExecContext, args: list[bytes]) -> int:
    """Seconds to live: -1 without expiry, -2 if missing."""
    return _ttl(ctx, args[1], 1000)


@command("PTTL", 2, "readonly fast", "keyspace", keys=(1, 1, 1))
def pttl(ctx: ExecContext, args: list[bytes]) -> int:
    """Milliseconds to live: -1 without expiry, -2 if missing."""
    return _ttl(ctx, args[1], 1)


@command("EXPIRETIME", 2, "readonly fast", "keyspace", keys=(1, 1, 1))
def expiretime(ctx: ExecContext, args: list[bytes]) -> int:
    """Absolute unix time (s) of expiry: -1 without, -2 if missing."""
    if not ctx.keyspace.exists(args[1], ctx.read_now):
        return -2
    deadline = ctx.keyspace.expires.get(args[1])
    return -1 if deadline is None else deadline // 1000


@command("PERSIST", 2, "write fast", "keyspace", keys=(1, 1, 1))
def persist(ctx: ExecContext, args: list[bytes]) -> int:
    """Remove the expiry of a key."""
    key = args[1]
    if not ctx.keyspace.exists(key, ctx.expire_now) or key not in ctx.keyspace.expires:
        return 0
    ctx.keyspace.set_deadline(key, None)
    ctx.dirty = True
    return 1


@command("DBSIZE", 1, "readonly fast", "keyspace")
def dbsize(ctx: ExecContext, args: list[bytes]) -> int:
    """Number of keys."""
    return len(ctx.keyspace)


@command("FLUSHALL", -1, "write", "keyspace slow dangerous")
def flushall(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Delete every key and drop every index and alias (as RediSearch). ASYNC/SYNC accepted."""
    for opt in args[1:]:
        if opt.upper() not in (b"ASYNC", b"SYNC"):
            raise SyntaxErr()
    ctx.flush()
    ctx.dirty = True
    ctx.log_args = [b"FLUSHALL"]
    return SimpleString("OK")


@command("FLUSHDB", -1, "write", "keyspace slow dangerous")
def flushdb(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Same as FLUSHALL: memvec has one database."""
    return flushall(ctx, args)
