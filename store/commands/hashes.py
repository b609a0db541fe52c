"""Hash commands: HSET, HGET, HMGET, HGETALL, HDEL, HLEN, HEXISTS, HKEYS, HVALS, HINCRBY,
HSCAN (field TTLs, HEXPIRE and friends: :mod:`store.commands.hash_ttl`).

Documents are hashes. A write to a hash whose key falls under an index prefix is checked
against every such index *before* anything changes (a vector blob of the wrong length is
rejected and the hash is left as it was), then applied; the keyspace reports the change
and the index manager re-indexes the document before the command returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import CommandError
from ..replies import SimpleString
from .element_scan import ELEMENT_SCANS
from .float_incr import add_long_double, parse_long_double
from .scan_args import parse_cursor, parse_scan_options
from .table import command
from .util import NOT_FLOAT, parse_int

if TYPE_CHECKING:
    from .context import ExecContext


# Field names repeat across documents ("vec", "text", ...): every hash shares one bytes
# object per name (about 36 bytes saved per field per document), for the first
# _FIELD_NAMES_MAX distinct short names seen.
_FIELD_NAMES: dict[bytes, bytes] = {}
_FIELD_NAMES_MAX = 65536
_FIELD_NAME_MAX_LEN = 64


def _field_name(name: bytes) -> bytes:
    shared = _FIELD_NAMES.get(name)
    if shared is not None:
        return shared
    if len(name) <= _FIELD_NAME_MAX_LEN and len(_FIELD_NAMES) < _FIELD_NAMES_MAX:
        _FIELD_NAMES[name] = name
    return name


def _pairs(args: list[bytes], start: int, name: str) -> dict[bytes, bytes]:
    rest = args[start:]
    if not rest or len(rest) % 2:
        raise CommandError(f"wrong number of arguments for '{name}' command")
    return dict(zip(map(_field_name, rest[0::2]), rest[1::2], strict=True))


def _write_fields(
    ctx: ExecContext, key: bytes, fields: dict[bytes, bytes], *, keep_ttl: bool = False
) -> int:
    current = ctx.keyspace.get_hash(key, ctx.expire_now)
    ctx.indexes.check_hash_write(key, fields)
    h = ctx.keyspace.hash_for_write(key)
    added = sum(1 for f in fields if f not in h) if current is not None else len(fields)
    h.update(fields)
    if not keep_ttl:  # HSET forgets a field's TTL (HEXPIRE); HINCRBY keeps it
        ctx.keyspace.clear_field_deadlines(key, list(fields))
    ctx.keyspace.touched(key)
    ctx.dirty = True
    return added


@command("HSET", -4, "write denyoom fast", "hash", keys=(1, 1, 1))
def hset(ctx: ExecContext, args: list[bytes]) -> int:
    """Set fields of a hash; returns how many fields were added."""
    return _write_fields(ctx, args[1], _pairs(args, 2, "hset"))


@command("HMSET", -4, "write denyoom fast", "hash", keys=(1, 1, 1))
def hmset(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Deprecated form of HSET that answers OK."""
    _write_fields(ctx, args[1], _pairs(args, 2, "hmset"))
    return SimpleString("OK")


@command("HSETNX", 4, "write denyoom fast", "hash", keys=(1, 1, 1))
def hsetnx(ctx: ExecContext, args: list[bytes]) -> int:
    """Set a field only if it does not exist."""
    current = ctx.keyspace.get_hash(args[1], ctx.expire_now)
    if current is not None and args[2] in current:
        return 0
    _write_fields(ctx, args[1], {args[2]: args[3]})
    return 1


@command("HGET", 3, "readonly fast", "hash", keys=(1, 1, 1))
def hget(ctx: ExecContext, args: list[bytes]) -> bytes | None:
    """One field of a hash."""
    h = ctx.keyspace.get_hash(args[1], ctx.read_now)
    return None if h is None else h.get(args[2])


@command("HMGET", -3, "readonly fast", "hash", keys=(1, 1, 1))
def hmget(ctx: ExecContext, args: list[bytes]) -> list[bytes | None]:
    """Several fields of a hash."""
    h = ctx.keyspace.get_hash(args[1], ctx.read_now) or {}
    return [h.get(f) for f in args[2:]]


@command("HGETALL", 2, "readonly", "hash slow", keys=(1, 1, 1))
def hgetall(ctx: ExecContext, args: list[bytes]) -> dict[bytes, bytes]:
    """Every field and value of a hash (a map in RESP3)."""
    return dict(ctx.keyspace.get_hash(args[1], ctx.read_now) or {})


@command("HKEYS", 2, "readonly", "hash slow", keys=(1, 1, 1))
def hkeys(ctx: ExecContext, args: list[bytes]) -> list[bytes]:
    """Field names of a hash."""
    return list(ctx.keyspace.get_hash(args[1], ctx.read_now) or {})


@command("HVALS", 2, "readonly", "hash slow", keys=(1, 1, 1))
def hvals(ctx: ExecContext, args: list[bytes]) -> list[bytes]:
    """Values of a hash."""
    return list((ctx.keyspace.get_hash(args[1], ctx.read_now) or {}).values())


@command("HLEN", 2, "readonly fast", "hash", keys=(1, 1, 1))
def hlen(ctx: ExecContext, args: list[bytes]) -> int:
    """Number of fields in a hash."""
    return len(ctx.keyspace.get_hash(args[1], ctx.read_now) or {})


@command("HEXISTS", 3, "readonly fast", "hash", keys=(1, 1, 1))
def hexists(ctx: ExecContext, args: list[bytes]) -> int:
    """1 if the hash has the field."""
    return int(args[2] in (ctx.keyspace.get_hash(args[1], ctx.read_now) or {}))


@command("HSTRLEN", 3, "readonly fast", "hash", keys=(1, 1, 1))
def hstrlen(ctx: ExecContext, args: list[bytes]) -> int:
    """Length of a field's value."""
    return len((ctx.keyspace.get_hash(args[1], ctx.read_now) or {}).get(args[2], b""))


@command("HDEL", -3, "write fast", "hash", keys=(1, 1, 1))
def hdel(ctx: ExecContext, args: list[bytes]) -> int:
    """Delete fields; a hash left empty is deleted."""
    h = ctx.keyspace.get_hash(args[1], ctx.expire_now)
    if h is None:
        return 0
    removed = ctx.keyspace.remove_fields(args[1], args[2:])
    if removed:
        ctx.dirty = True
        if args[1] not in ctx.keyspace.data:  # emptied: RediSearch re-reads a missing key
            ctx.indexes.hash_emptied(args[1])
    return removed


@command("HINCRBY", 4, "write denyoom fast", "hash", keys=(1, 1, 1))
def hincrby(ctx: ExecContext, args: list[bytes]) -> int:
    """Add an integer to a hash field."""
    h = ctx.keyspace.get_hash(args[1], ctx.expire_now) or {}
    raw = h.get(args[2])
    try:
        current = 0 if raw is None else parse_int(raw)
    except CommandError:
        raise CommandError("hash value is not an integer") from None
    result = current + parse_int(args[3])
    if not -(2**63) <= result < 2**63:
        raise CommandError("increment or decrement would overflow")
    _write_fields(ctx, args[1], {args[2]: str(result).encode()}, keep_ttl=True)
    return result


@command("HINCRBYFLOAT", 4, "write denyoom fast", "hash", keys=(1, 1, 1))
def hincrbyfloat(ctx: ExecContext, args: list[bytes]) -> bytes:
    """Add a float to a hash field; logged as the resulting HSET."""
    h = ctx.keyspace.get_hash(args[1], ctx.expire_now) or {}
    increment = parse_long_double(args[3])
    if increment is None:
        raise CommandError(NOT_FLOAT)
    if not np.isfinite(increment):
        raise CommandError("value is NaN or Infinity")
    raw = h.get(args[2])
    current = np.longdouble(0) if raw is None else parse_long_double(raw)
    if current is None:
        raise CommandError("hash value is not a float")
    result = add_long_double(current, increment)
    _write_fields(ctx, args[1], {args[2]: result}, keep_ttl=True)
    if ctx.keyspace.field_deadline(args[1], args[2]) is None:
        # HSET replays the same bytes; a field with a TTL keeps the command itself, since
        # HSET would clear the TTL on replay
        ctx.log_args = [b"HSET", args[1], args[2], result]
    return result


@command("HSCAN", -3, "readonly", "hash slow", keys=(1, 1, 1))
def hscan(ctx: ExecContext, args: list[bytes]) -> list[object]:
    """HSCAN key cursor [MATCH pattern] [COUNT n] [NOVALUES].

    A hash of up to ``ONE_REPLY_MAX`` (512) fields comes in one reply with cursor 0, as
    Redis answers a listpack hash; a larger one in pages of COUNT fields
    (:mod:`store.commands.element_scan`), keeping SCAN's guarantee.
    """
    cursor = parse_cursor(args[2])
    h = ctx.keyspace.get_hash(args[1], ctx.read_now)
    if h is None:
        return [b"0", []]
    opts = parse_scan_options(args, 3, hash_scan=True)
    following, names = ELEMENT_SCANS.page(args[1], cursor, opts.count, lambda: list(h))
    out: list[bytes] = []
    for name in names:
        value = h.get(name)
        if value is not None and opts.matches(name):
            out.append(name)
            if not opts.novalues:
                out.append(value)
    return [str(following).encode(), out]
