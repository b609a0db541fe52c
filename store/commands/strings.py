"""String commands: SET family (SETNX, SETEX, PSETEX, GETSET, GETEX), GET, MGET, MSET,
MSETNX, GETDEL, INCR family, APPEND, STRLEN. Ranges and LCS: :mod:`.string_ranges`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CommandError, SyntaxErr, WrongTypeError
from ..numbers import INT64_MAX
from ..replies import SimpleString
from .float_incr import add_long_double, parse_long_double
from .string_ranges import check_string_length
from .table import command
from .util import NOT_FLOAT, parse_int

if TYPE_CHECKING:
    from .context import ExecContext

OK = SimpleString("OK")


@dataclass
class StringOptions:
    """SET's and GETEX's options as Redis's ``parseExtendedStringArgumentsOrReply`` reads
    them: a later EX/PX/EXAT/PXAT of the same kind replaces an earlier one, different kinds
    (or KEEPTTL/PERSIST with one) clash as a syntax error."""

    nx: bool = False
    xx: bool = False
    get: bool = False
    keepttl: bool = False
    persist: bool = False
    unit: bytes | None = None  # EX, PX, EXAT or PXAT
    amount: bytes | None = None

    @classmethod
    def parse(cls, args: list[bytes], start: int, *, for_set: bool) -> StringOptions:
        o = cls()
        i = start
        while i < len(args):
            opt = args[i].upper()
            more = i + 1 < len(args)
            if opt == b"NX" and for_set and not o.xx:
                o.nx = True
            elif opt == b"XX" and for_set and not o.nx:
                o.xx = True
            elif opt == b"GET" and for_set:
                o.get = True
            elif opt == b"KEEPTTL" and for_set and o.unit is None:
                o.keepttl = True
            elif opt == b"PERSIST" and not for_set and o.unit is None:
                o.persist = True
            elif (
                opt in _EXPIRY_UNITS
                and not o.keepttl
                and not o.persist
                and o.unit in (None, opt)
                and more
            ):
                o.unit, o.amount = opt, args[i + 1]
                i += 1
            else:
                raise SyntaxErr()
            i += 1
        return o

    def deadline_ms(self, name: bytes, now_ms: int) -> int | None:
        """The absolute deadline of EX/PX/EXAT/PXAT, Redis's errors for bad times."""
        if self.unit is None or self.amount is None:
            return None
        return expire_option_deadline(name, self.amount, self.unit, now_ms)


_EXPIRY_UNITS = (b"EX", b"PX", b"EXAT", b"PXAT")


def expire_option_deadline(name: bytes, raw: bytes, unit: bytes, now_ms: int) -> int:
    """``getExpireMillisecondsOrReply``: a positive amount, in range once in ms."""
    amount = parse_int(raw)
    seconds = unit in (b"EX", b"EXAT")
    if amount <= 0 or (seconds and amount > INT64_MAX // 1000):
        raise _invalid_expire(name)
    ms = amount * 1000 if seconds else amount
    if unit in (b"EX", b"PX"):
        ms += now_ms
    if ms <= 0 or ms > INT64_MAX:
        raise _invalid_expire(name)
    return ms


def _invalid_expire(name: bytes) -> CommandError:
    text = name.decode("utf-8", "replace").lower()
    return CommandError(f"invalid expire time in '{text}' command")


def set_generic(
    ctx: ExecContext, key: bytes, value: bytes, opts: StringOptions, deadline: int | None
) -> tuple[bool, bytes | None]:
    """Redis's ``setGenericCommand``: (whether the value was written, the old value for GET).

    A deadline already in the past deletes the key instead (logged as DEL), as Redis's
    ``checkAlreadyExpired`` does on a primary; a replayed SET with PXAT is applied as
    logged, and the key is then logically expired anyway.
    """
    old = ctx.keyspace.get(key, ctx.expire_now)
    if opts.get and old is not None and not isinstance(old, bytes):
        raise WrongTypeError()
    old_str = old if isinstance(old, bytes) else None
    if (opts.nx and old is not None) or (opts.xx and old is None):
        return False, old_str
    if deadline is not None and not ctx.replaying and deadline <= ctx.now_ms:
        if old is not None:
            ctx.keyspace.delete(key)
            ctx.dirty = True
            ctx.log_args = [b"DEL", key]
        return True, old_str
    ctx.keyspace.set_string(key, value, keep_ttl=opts.keepttl)
    log = [b"SET", key, value]
    if opts.keepttl:
        log.append(b"KEEPTTL")
    if deadline is not None:
        ctx.keyspace.set_deadline(key, deadline)
        log += [b"PXAT", str(deadline).encode()]
    ctx.dirty = True
    ctx.log_args = log
    return True, old_str


@command("SET", -3, "write denyoom", "string slow", keys=(1, 1, 1))
def set_(ctx: ExecContext, args: list[bytes]) -> object:
    """SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]."""
    opts = StringOptions.parse(args, 3, for_set=True)
    deadline = opts.deadline_ms(args[0], ctx.now_ms)
    done, old = set_generic(ctx, args[1], args[2], opts, deadline)
    if opts.get:
        return old
    return OK if done else None


@command("SETNX", 3, "write denyoom fast", "string", keys=(1, 1, 1))
def setnx(ctx: ExecContext, args: list[bytes]) -> int:
    """Set key only if it does not exist: 1 if set, 0 otherwise."""
    done, _ = set_generic(ctx, args[1], args[2], StringOptions(nx=True), None)
    return int(done)


def _setex(ctx: ExecContext, args: list[bytes], unit: bytes) -> SimpleString:
    deadline = expire_option_deadline(args[0], args[2], unit, ctx.now_ms)
    set_generic(ctx, args[1], args[3], StringOptions(), deadline)
    return OK


@command("SETEX", 4, "write denyoom", "string slow", keys=(1, 1, 1))
def setex(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """SETEX key seconds value: logged as SET key value PXAT deadline."""
    return _setex(ctx, args, b"EX")


@command("PSETEX", 4, "write denyoom", "string slow", keys=(1, 1, 1))
def psetex(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """PSETEX key milliseconds value: logged as SET key value PXAT deadline."""
    return _setex(ctx, args, b"PX")


@command("GETEX", -2, "write fast", "string", keys=(1, 1, 1))
def getex(ctx: ExecContext, args: list[bytes]) -> bytes | None:
    """GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]: get and change the TTL.

    Logged as PEXPIREAT key ms, PERSIST key or DEL key (a past EXAT/PXAT), never as
    itself, as Redis propagates it.
    """
    opts = StringOptions.parse(args, 2, for_set=False)
    key = args[1]
    deadline = opts.deadline_ms(args[0], ctx.now_ms)
    value = ctx.keyspace.get_string(key, ctx.expire_now)
    if value is None:
        return None
    if deadline is not None:
        ctx.dirty = True
        absolute = opts.unit in (b"EXAT", b"PXAT")
        if absolute and not ctx.replaying and deadline <= ctx.now_ms:
            ctx.keyspace.delete(key)
            ctx.log_args = [b"DEL", key]
        else:
            ctx.keyspace.set_deadline(key, deadline)
            ctx.log_args = [b"PEXPIREAT", key, str(deadline).encode()]
    elif opts.persist and key in ctx.keyspace.expires:
        ctx.keyspace.set_deadline(key, None)
        ctx.dirty = True
        ctx.log_args = [b"PERSIST", key]
    return value


@command("GETSET", 3, "write denyoom fast", "string", keys=(1, 1, 1))
def getset(ctx: ExecContext, args: list[bytes]) -> bytes | None:
    """Set a new value (clearing the TTL) and return the old one; logged as SET."""
    _, old = set_generic(ctx, args[1], args[2], StringOptions(get=True), None)
    return old


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


@command("MSETNX", -3, "write denyoom", "string slow", keys=(1, -1, 2))
def msetnx(ctx: ExecContext, args: list[bytes]) -> int:
    """Set several keys only if none of them exists: 1 if set, 0 otherwise."""
    if len(args) % 2 != 1:
        raise CommandError("wrong number of arguments for 'msetnx' command")
    if any(ctx.keyspace.exists(args[i], ctx.expire_now) for i in range(1, len(args), 2)):
        return 0
    for i in range(1, len(args), 2):
        ctx.keyspace.set_string(args[i], args[i + 1])
    ctx.dirty = True
    return 1


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
    current = np.longdouble(0) if raw is None else parse_long_double(raw)
    increment = parse_long_double(args[2])
    if current is None or increment is None:
        raise CommandError(NOT_FLOAT)
    result = add_long_double(current, increment)
    ctx.keyspace.set_string(args[1], result, keep_ttl=True)
    ctx.dirty = True
    ctx.log_args = [b"SET", args[1], result, b"KEEPTTL"]
    return result


@command("APPEND", 3, "write denyoom fast", "string", keys=(1, 1, 1))
def append(ctx: ExecContext, args: list[bytes]) -> int:
    """Append to the string at key; returns the new length. The string grows in place
    (:meth:`~store.keyspace.Keyspace.string_buffer`): a call costs what it appends."""
    buffer = ctx.keyspace.string_buffer(args[1], ctx.expire_now)
    if buffer is None:
        ctx.keyspace.set_string(args[1], args[2], keep_ttl=True)
        ctx.dirty = True
        return len(args[2])
    check_string_length(len(buffer), len(args[2]))
    buffer += args[2]
    ctx.keyspace.string_written(args[1], buffer)
    ctx.dirty = True
    return len(buffer)


@command("STRLEN", 2, "readonly fast", "string", keys=(1, 1, 1))
def strlen(ctx: ExecContext, args: list[bytes]) -> int:
    """Length of the string at key."""
    return len(ctx.keyspace.peek_string(args[1], ctx.read_now) or b"")
