"""Consumer groups: XGROUP, XACK, XPENDING (claiming: :mod:`store.commands.streams_claims`).

XGROUP is one command with subcommands (Redis 7's ``XGROUP|CREATE`` ...); the handler
checks each subcommand's arity and answers Redis's errors.

Group bookkeeping does not report the key as changed (a WATCH on the stream survives
XACK, XGROUP SETID ... as on the peer), except XGROUP DESTROY: the one change
hook serves WATCH and the wake-up of blocked clients, and a DESTROY must wake the
XREADGROUP clients blocked on that group (they answer NOGROUP), so it invalidates a WATCH
where Redis does not (docs/compatibility.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..datatypes.stream_groups import Group
from ..datatypes.stream_ids import MIN_ID, StreamID, format_id
from ..datatypes.streams import INVALID_ENTRIES_READ, Stream
from ..errors import ArityError, CommandError, SyntaxErr
from ..replies import SimpleString
from .streams_args import (
    BusyGroupError,
    NoGroupError,
    interval_end,
    interval_start,
    no_group,
    parse_count,
    parse_id,
    strict_id,
    text,
)
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext

_XGROUP_ARITY = {
    b"CREATE": -5,
    b"SETID": -5,
    b"DESTROY": 4,
    b"CREATECONSUMER": 5,
    b"DELCONSUMER": 5,
    b"HELP": 2,
}

XGROUP_HELP = [
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Print this help.",
]


def subcommand(command_name: str, args: list[bytes], arities: dict[bytes, int]) -> bytes:
    """The upper-case subcommand, with Redis 7's unknown-subcommand and arity errors."""
    sub = args[1].upper()
    arity = arities.get(sub)
    if arity is None:
        raise CommandError(f"unknown subcommand '{text(args[1])}'. Try {command_name} HELP.")
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise ArityError(
            f"wrong number of arguments for '{command_name.lower()}|{text(args[1]).lower()}' "
            "command"
        )
    return sub


def _syntax(args: list[bytes]) -> CommandError:
    return CommandError(
        f"unknown subcommand or wrong number of arguments for '{text(args[1])}'. Try XGROUP HELP."
    )


@command("XGROUP", -2, "write", "stream slow", keys=(2, 2, 1))
def xgroup(ctx: ExecContext, args: list[bytes]) -> Any:
    """Manage consumer groups: XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP."""
    sub = subcommand("XGROUP", args, _XGROUP_ARITY)
    if sub == b"HELP":
        return [SimpleString(line) for line in XGROUP_HELP]
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    if sub in (b"CREATE", b"SETID"):
        i = 5
        while i < len(args):
            opt = args[i].upper()
            if sub == b"CREATE" and opt == b"MKSTREAM":
                mkstream = True
                i += 1
            elif opt == b"ENTRIESREAD" and i + 1 < len(args):
                entries_read = parse_int(args[i + 1])
                if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                    raise CommandError("value for ENTRIESREAD must be positive or -1")
                i += 2
            else:
                raise _syntax(args)
    key, name = args[2], args[3]
    s = ctx.keyspace.get_typed(key, ctx.expire_now, Stream)
    if s is None and not mkstream:
        raise CommandError(
            "The XGROUP subcommand requires the key to exist. Note that for CREATE you may "
            "want to use the MKSTREAM option to create an empty stream automatically."
        )
    g = s.groups.get(name) if s is not None else None
    if g is None and sub in (b"SETID", b"CREATECONSUMER", b"DELCONSUMER"):
        raise NoGroupError(f"No such consumer group '{text(name)}' for key name '{text(key)}'")
    if sub == b"CREATE":
        if len(args) > 8:
            raise _syntax(args)
        return _create(ctx, s, key, name, args[4], entries_read)
    assert s is not None
    if sub == b"SETID":
        assert g is not None
        if len(args) not in (5, 7):
            raise _syntax(args)
        sid = s.last_id if args[4] == b"$" else parse_id(args[4], strict=False)[0]
        g.last_id = sid
        g.entries_read = entries_read
        return _done(ctx, key, SimpleString("OK"))
    if sub == b"DESTROY":
        if g is None:
            return 0
        del s.groups[name]
        return _done(ctx, key, 1, signal=True)
    assert g is not None
    if sub == b"CREATECONSUMER":
        _, created = g.consumer(args[4], ctx.now_ms)
        return _done(ctx, key, 1) if created else 0
    return _done(ctx, key, g.delete_consumer(args[4]))  # DELCONSUMER


def _create(
    ctx: ExecContext, s: Stream | None, key: bytes, name: bytes, raw: bytes, entries_read: int
) -> Any:
    if raw == b"$":
        sid = s.last_id if s is not None else MIN_ID
    else:
        sid = strict_id(raw)
    if s is not None and name in s.groups:
        raise BusyGroupError("Consumer Group name already exists")
    created = s is None
    if s is None:
        s = ctx.keyspace.typed_for_write(key, Stream)
    s.groups[name] = Group(sid, entries_read)
    ctx.log_args = [b"XGROUP", b"CREATE", key, name, format_id(sid), b"MKSTREAM",
                    b"ENTRIESREAD", b"%d" % entries_read]  # fmt: skip
    return _done(ctx, key, SimpleString("OK"), signal=created)


def _done(ctx: ExecContext, key: bytes, reply: Any, *, signal: bool = False) -> Any:
    """Mark the call dirty. Only ``signal`` reports the key as changed (WATCH, blocked
    clients): as in Redis, consumer-group bookkeeping (XACK, XCLAIM, XGROUP SETID ...)
    does not invalidate a WATCH on the stream; creating the key and XGROUP DESTROY do
    (DESTROY must wake XREADGROUP clients blocked on the group: see the module docstring)."""
    if signal:
        ctx.keyspace.touched(key)
    ctx.dirty = True
    return reply


@command("XACK", -4, "write fast", "stream", keys=(1, 1, 1))
def xack(ctx: ExecContext, args: list[bytes]) -> int:
    """Acknowledge pending entries: XACK key group id [id ...]."""
    s = ctx.keyspace.get_typed(args[1], ctx.expire_now, Stream)
    g = s.groups.get(args[2]) if s is not None else None
    if g is None:
        return 0
    ids = [strict_id(raw) for raw in args[3:]]
    acked = sum(1 for sid in ids if g.ack(sid))
    if acked:
        _done(ctx, args[1], None)
    return acked


def _lookup_group(ctx: ExecContext, key: bytes, name: bytes) -> tuple[Stream, Group]:
    s = ctx.keyspace.get_typed(key, ctx.read_now, Stream)
    g = s.groups.get(name) if s is not None else None
    if s is None or g is None:
        raise no_group(key, name)
    return s, g


@command("XPENDING", -3, "readonly", "stream slow", keys=(1, 1, 1))
def xpending(ctx: ExecContext, args: list[bytes]) -> Any:
    """Pending entries of a group: XPENDING key group [[IDLE ms] start end count [consumer]]."""
    n = len(args)
    if n != 3 and not 6 <= n <= 9:
        raise SyntaxErr()
    min_idle = 0
    consumer_name: bytes | None = None
    start = end = MIN_ID
    count = 0
    if n >= 6:
        at = 3
        if args[3].upper() == b"IDLE":
            min_idle = parse_int(args[4])
            if n < 8:
                raise SyntaxErr()
            at = 5
        count = parse_count(args[at + 2])
        start = interval_start(args[at])
        end = interval_end(args[at + 1])
        if at + 3 < n:
            consumer_name = args[at + 3]
    _, g = _lookup_group(ctx, args[1], args[2])
    if n == 3:
        if not g.pel:
            return [0, None, None, None]
        owners = [
            [c.name, b"%d" % len(c.pel)] for name, c in sorted(g.consumers.items()) if len(c.pel)
        ]
        first, last = g.pel_ids.first(), g.pel_ids.last()
        assert first is not None and last is not None
        return [len(g.pel), format_id(first), format_id(last), owners]
    if consumer_name is not None:
        c = g.consumers.get(consumer_name)
        if c is None:
            return []
        ids: Iterator[StreamID] = (sid for sid in c.pel.from_id(start) if sid <= end)
    else:
        ids = g.pending_ids(start, end)
    now = ctx.now_ms
    out: list[Any] = []
    for sid in ids:
        if not count:
            break
        if sid > end:
            break
        nack = g.pel[sid]
        idle = now - nack.delivery_time
        if min_idle and idle < min_idle:
            continue
        out.append([format_id(sid), nack.consumer, max(idle, 0), nack.delivery_count])
        count -= 1
    return out
