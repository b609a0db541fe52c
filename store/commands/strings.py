"""String commands: SET, GET, MGET, MSET, GETDEL, INCR family, APPEND, STRLEN."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CommandError, SyntaxErr
from ..replies import SimpleString
from .table import command
from .util import add_float, expiry_deadline_ms, format_float, parse_float, parse_int

if TYPE_CHECKING:
    from .context import ExecContext

OK = SimpleString("OK")


@command("SET", -3, "write denyoom", "string slow", keys=(1, 1, 1))
def set_(ctx: ExecContext, args: list[bytes]) -> object:
    """SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]."""
    key, value = args[1], args[2]
    nx = xx = get = keepttl = False
    deadline: int | None = None
    i = 3
    while i < len(args):
        opt = args[i].upper()
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            get = True
        elif opt == b"KEEPTTL" and deadline is None:
            keepttl = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and deadline is None and not keepttl:
            if i + 1 >= len(args):
                raise SyntaxErr()
            amount = parse_int(args[i + 1])
            if amount <= 0:
                raise CommandError(f"invalid expire time in '{args[0].decode().lower()}' command")
            unit = 1000 if opt in (b"EX", b"EXAT") else 1
            deadline = expiry_deadline_ms(
                args[0], amount, unit, absolute=opt in (b"EXAT", b"PXAT"), now_ms=ctx.now_ms
            )
            i += 1
        else:
            raise SyntaxErr()
        i += 1
    old = ctx.keyspace.get(key, ctx.expire_now)
    if get and old is not None and not isinstance(old, bytes):
        from ..errors import WrongTypeError

        raise WrongTypeError()
    if (nx and old is not None) or (xx and old is None):
        return old if get else None
    ctx.keyspace.set_string(key, value, keep_ttl=keepttl)
    log = [b"SET", key, value]
    if keepttl:
        log.append(b"KEEPTTL")
    if deadline is not None:
        ctx.keyspace.set_deadline(key, deadline)
        log += [b"PXAT", str(deadline).encode()]
    ctx.dirty = True
    ctx.log_args = log
    return old if get else OK


@command("GET", 2, "readonly fast", "string", keys=(1, 1, 1))
def get(ctx: ExecContext, args: list[bytes]) -> bytes | None:
    """The string at key."""
    return ctx.keyspace.get_string(args[1], ctx.read_now)


@command("MGET", -2, "readonly fast", "string", keys=(1, -1, 1))
def mget(ctx: ExecContext, args: list[bytes]) -> list[bytes | None]:
    """Strings at several keys (nil for missing keys and non-strings)."""
    out: list[bytes | None] = []
    for key in args[1:]:
        value = ctx.keyspace.get(key, ctx.read_now)
        out.append(value if isinstance(value, bytes) else None)
    return out


@command("MSET", -3, "write denyoom", "string slow", keys=(1, -1, 2))
def mset(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Set several keys at once."""
    if len(args) % 2 != 1:
        raise CommandError("wrong number of arguments for 'mset' command")
    for i in range(1, len(args), 2):
        ctx.keyspace.set_string(args[i], args[i + 1])
    ctx.dirty = True
    return OK


@command("GETDEL", 2, "write fast", "string", keys=(1, 1, 1))
def getdel(ctx: ExecContext, args: list[bytes]) -> bytes | None:
    """Get the string at key and delete it."""
    value = ctx.keyspace.get_string(args[1], ctx.expire_now)
    if value is not None:
        ctx.keyspace.delete(args[1])
        ctx.dirty = True
    return value


def _incr(ctx: ExecContext, key: bytes, delta: int) -> int:
    raw = ctx.keyspace.get_string(key, ctx.expire_now)
    current = 0 if raw is None else parse_int(raw)
    result = current + delta
    if not -(2**63) <= result < 2**63:
        raise CommandError("increment or decrement would overflow")
    ctx.keyspace.set_string(key, str(result).encode(), keep_ttl=True)
    ctx.dirty = True
    return result


@command("INCR", 2, "write denyoom fast", "string", keys=(1, 1, 1))
def incr(ctx: ExecContext, args: list[bytes]) -> int:
    """Add 1 to the integer at key."""
    return _incr(ctx, args[1], 1)


@command("DECR", 2, "write denyoom fast", "string", keys=(1, 1, 1))
def decr(ctx: ExecContext, args: list[bytes]) -> int:
    """Subtract 1 from the integer at key."""
    return _incr(ctx, args[1], -1)


@command("INCRBY", 3, "write denyoom fast", "string", keys=(1, 1, 1))
def incrby(ctx: ExecContext, args: list[bytes]) -> int:
    """Add n to the integer at key."""
    return _incr(ctx, args[1], parse_int(args[2]))


@command("DECRBY", 3, "write denyoom fast", "string", keys=(1, 1, 1))
def decrby(ctx: ExecContext, args: list[bytes]) -> int:
    """Subtract n from the integer at key."""
    return _incr(ctx, args[1], -parse_int(args[2]))


@command("INCRBYFLOAT", 3, "write denyoom fast", "string", keys=(1, 1, 1))
def incrbyfloat(ctx: ExecContext, args: list[bytes]) -> bytes:
    """Add a float to the number at key; logged as the resulting SET (deterministic)."""
    raw = ctx.keyspace.get_string(args[1], ctx.expire_now)
    current = 0.0 if raw is None else parse_float(raw)
    result = format_float(add_float(current, parse_float(args[2])))
    ctx.keyspace.set_string(args[1], result, keep_ttl=True)
    ctx.dirty = True
    ctx.log_args = [b"SET", args[1], result, b"KEEPTTL"]
    return result


@command("APPEND", 3, "write denyoom fast", "string", keys=(1, 1, 1))
def append(ctx: ExecContext, args: list[bytes]) -> int:
    """Append to the string at key; returns the new length."""
    raw = ctx.keyspace.get_string(args[1], ctx.expire_now) or b""
    value = raw + args[2]
    ctx.keyspace.set_string(args[1], value, keep_ttl=True)
    ctx.dirty = True
    return len(value)


@command("STRLEN", 2, "readonly fast", "string", keys=(1, 1, 1))
def strlen(ctx: ExecContext, args: list[bytes]) -> int:
    """Length of the string at key."""
    return len(ctx.keyspace.get_string(args[1], ctx.read_now) or b"")
