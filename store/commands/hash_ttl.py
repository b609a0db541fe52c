"""Hash-field expiry (Redis 7.4): HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL, HPTTL,
HEXPIRETIME, HPEXPIRETIME, HPERSIST.

Contract (replies and error texts as the peer's): each command answers one integer per
field named after ``FIELDS numfields``: -2 no such field (or no such key), and for the
setters 0 (NX/XX/GT/LT not met), 1 (deadline set) or 2 (the deadline is already past:
the field is deleted at once); HTTL and friends -1 for a field without a TTL; HPERSIST 1
when a TTL was removed. The deadlines live in :attr:`store.keyspace.Keyspace.field_expires`.

Logging: a setter is logged as ``HPEXPIREAT key <absolute ms> FIELDS n <fields set>`` so
replay and replicas apply the same absolute time whatever their clock; fields deleted
because their time is past are logged as ``HDEL``, and so is every field the primary
expires later (:meth:`store.engine.Engine.expire_now`), as Redis propagates it. Replay
never deletes by its own clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import CommandError, SyntaxErr
from .table import command
from .util import ExpiryCondition, expiry_deadline_ms, parse_int

if TYPE_CHECKING:
    from .context import ExecContext

NUMFIELDS_ERROR = "numfields should be greater than 0 and match the provided number of fields"


def fields_after(args: list[bytes], at: int, *, strict: bool) -> list[bytes]:
    """The fields of ``FIELDS numfields f...`` starting at ``args[at]``.

    ``strict`` (the read commands) answers a malformed list with a syntax error; the
    setters and HPERSIST answer the peer's numfields text.
    """
    fail: CommandError = SyntaxErr() if strict else CommandError(NUMFIELDS_ERROR)
    if at + 1 >= len(args) or args[at].upper() != b"FIELDS":
        raise fail
    count = parse_int(args[at + 1])
    fields = args[at + 2 :]
    if count <= 0 or count != len(fields):
        raise fail
    return fields


def hash_or_none(ctx: ExecContext, key: bytes) -> dict[bytes, bytes] | None:
    """The live hash at ``key`` for a write (WRONGTYPE for another type)."""
    return ctx.keyspace.get_hash(key, ctx.expire_now)


def set_field_expiry(
    ctx: ExecContext, args: list[bytes], unit_ms: int, absolute: bool
) -> list[int]:
    amount = parse_int(args[2])
    # the flags sit between the time and FIELDS
    at = next((i for i in range(3, len(args)) if args[i].upper() == b"FIELDS"), len(args))
    fields = fields_after(args, at, strict=False)
    condition = ExpiryCondition.parse(args[3:at])
    name = args[0].decode("utf-8", "replace").lower()
    if amount < 0:
        raise CommandError(f"invalid expire time in '{name}' command")
    deadline = expiry_deadline_ms(args[0], amount, unit_ms, absolute=absolute, now_ms=ctx.now_ms)
    key = args[1]
    h = hash_or_none(ctx, key)
    if h is None:
        return [-2] * len(fields)
    past = not ctx.replaying and deadline <= ctx.now_ms
    replies: list[int] = []
    changed: list[bytes] = []
    for f in fields:  # applied field by field: a field named twice sees its first change
        if f not in h:
            replies.append(-2)
            continue
        if not condition.allows(ctx.keyspace.field_deadline(key, f), deadline):
            replies.append(0)
            continue
        if past:
            ctx.keyspace.remove_fields(key, [f])
        else:
            ctx.keyspace.set_field_deadline(key, f, deadline)
        if f not in changed:
            changed.append(f)
        replies.append(2 if past else 1)
    if changed:
        ctx.dirty = True
        if past:
            ctx.log_args = [b"HDEL", key, *changed]
        else:
            ctx.log_args = [
                b"HPEXPIREAT", key, str(deadline).encode(), b"FIELDS",
                str(len(changed)).encode(), *changed,
            ]  # fmt: skip
    return replies


def register_setter(name: str, unit_ms: int, absolute: bool) -> None:
    def handler(ctx: ExecContext, args: list[bytes]) -> list[int]:
        return set_field_expiry(ctx, args, unit_ms, absolute)

    summary = f"{name} key time [NX|XX|GT|LT] FIELDS numfields field..."
    command(name, -6, "write fast", "hash", keys=(1, 1, 1), summary=summary)(handler)


for _name, _unit, _abs in (
    ("HEXPIRE", 1000, False),
    ("HPEXPIRE", 1, False),
    ("HEXPIREAT", 1000, True),
    ("HPEXPIREAT", 1, True),
):
    register_setter(_name, _unit, _abs)


def read_field_ttls(
    ctx: ExecContext, args: list[bytes], reply_of: Callable[[int, int], int]
) -> list[int]:
    fields = fields_after(args, 2, strict=True)
    h = ctx.keyspace.get_hash(args[1], ctx.read_now)
    if h is None:
        return [-2] * len(fields)
    out = []
    for f in fields:
        if f not in h:
            out.append(-2)
            continue
        deadline = ctx.keyspace.field_deadline(args[1], f)
        out.append(-1 if deadline is None else reply_of(deadline, ctx.now_ms))
    return out


def register_reader(name: str, reply_of: Callable[[int, int], int], doc: str) -> None:
    def handler(ctx: ExecContext, args: list[bytes]) -> list[int]:
        return read_field_ttls(ctx, args, reply_of)

    handler.__doc__ = doc
    summary = f"{name} key FIELDS numfields field..."
    command(name, -5, "readonly fast", "hash", keys=(1, 1, 1), summary=summary)(handler)


register_reader("HTTL", lambda d, now: (max(0, d - now) + 999) // 1000, "Seconds left per field.")
register_reader("HPTTL", lambda d, now: max(0, d - now), "Milliseconds left per field.")
register_reader("HEXPIRETIME", lambda d, now: d // 1000, "Unix time (s) of expiry per field.")
register_reader("HPEXPIRETIME", lambda d, now: d, "Unix time (ms) of expiry per field.")


@command("HPERSIST", -5, "write fast", "hash", keys=(1, 1, 1))
def hpersist(ctx: ExecContext, args: list[bytes]) -> list[int]:
    """Remove fields' TTLs: 1 removed, -1 had none, -2 no such field."""
    fields = fields_after(args, 2, strict=False)
    key = args[1]
    h = hash_or_none(ctx, key)
    if h is None:
        return [-2] * len(fields)
    out = []
    for f in fields:
        if f not in h:
            out.append(-2)
        elif ctx.keyspace.field_deadline(key, f) is None:
            out.append(-1)
        else:
            ctx.keyspace.set_field_deadline(key, f, None)
            ctx.dirty = True
            out.append(1)
    return out
