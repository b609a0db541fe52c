"""XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS / HELP, shaped as Redis 7.2 answers.

Replies are maps (RESP3) or flat arrays (RESP2). ``radix-tree-nodes`` counts Redis's
radix-tree internal nodes, which memvec does not have: it reports the number of listpack
nodes plus one (the root) as an estimate; ``radix-tree-keys`` is exact for the modelled
node layout (:mod:`store.datatypes.streams`). Groups and consumers are listed by name,
byte order, as Redis's radix trees list them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..datatypes.stream_groups import Group
from ..datatypes.stream_ids import MAX_ID, MIN_ID, format_id
from ..datatypes.streams import INVALID_ENTRIES_READ, Stream
from ..errors import CommandError
from ..replies import SimpleString
from .streams_args import NoGroupError, entries_reply, entry_reply, text
from .streams_groups import subcommand
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext

_XINFO_ARITY = {b"STREAM": -3, b"GROUPS": 3, b"CONSUMERS": 4, b"HELP": 2}

XINFO_HELP = [
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Print this help.",
]


@command("XINFO", -2, "readonly", "stream slow", keys=(2, 2, 1))
def xinfo(ctx: ExecContext, args: list[bytes]) -> Any:
    """Information about a stream, its groups or a group's consumers."""
    sub = subcommand("XINFO", args, _XINFO_ARITY)
    if sub == b"HELP":
        return [SimpleString(line) for line in XINFO_HELP]
    s = ctx.keyspace.get_typed(args[2], ctx.read_now, Stream)
    if s is None:
        raise CommandError("no such key")
    if sub == b"CONSUMERS":
        g = s.groups.get(args[3])
        if g is None:
            raise NoGroupError(
                f"No such consumer group '{text(args[3])}' for key name '{text(args[2])}'"
            )
        return [_consumer_info(ctx.now_ms, c) for _, c in sorted(g.consumers.items())]
    if sub == b"GROUPS":
        return [_group_info(s, name, g) for name, g in sorted(s.groups.items())]
    return _stream_info(s, args[3:])


def _consumer_info(now: int, c: Any) -> dict[bytes, Any]:
    return {
        b"name": c.name,
        b"pending": len(c.pel),
        b"idle": max(now - c.seen_time, 0),
        b"inactive": now - c.active_time if c.active_time != -1 else -1,
    }


def _entries_read(g: Group) -> int | None:
    return None if g.entries_read == INVALID_ENTRIES_READ else g.entries_read


def _group_info(s: Stream, name: bytes, g: Group) -> dict[bytes, Any]:
    return {
        b"name": name,
        b"consumers": len(g.consumers),
        b"pending": len(g.pel),
        b"last-delivered-id": format_id(g.last_id),
        b"entries-read": _entries_read(g),
        b"lag": s.lag(g),
    }


def _stream_info(s: Stream, opts: list[bytes]) -> dict[bytes, Any]:
    full = bool(opts)
    count = 10
    syntax = CommandError(
        "unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."
    )
    if len(opts) in (1, 3):
        if opts[0].upper() != b"FULL":
            raise syntax
        if len(opts) == 3:
            if opts[1].upper() != b"COUNT":
                raise syntax
            count = parse_int(opts[2])
            if count < 0:
                count = 10
    elif opts:
        raise syntax
    info: dict[bytes, Any] = {
        b"length": len(s),
        b"radix-tree-keys": len(s.nodes),
        b"radix-tree-nodes": len(s.nodes) + 1,
        b"last-generated-id": format_id(s.last_id),
        b"max-deleted-entry-id": format_id(s.max_deleted),
        b"entries-added": s.entries_added,
        b"recorded-first-entry-id": format_id(s.first_id),
    }
    if not full:
        first = s.range(MIN_ID, MAX_ID, 1)
        last = s.range(MIN_ID, MAX_ID, 1, rev=True)
        info[b"groups"] = len(s.groups)
        info[b"first-entry"] = entry_reply(*first[0]) if first else None
        info[b"last-entry"] = entry_reply(*last[0]) if last else None
        return info
    info[b"entries"] = entries_reply(s.range(MIN_ID, MAX_ID, count))
    info[b"groups"] = [_group_full(s, name, g, count) for name, g in sorted(s.groups.items())]
    return info


def _group_full(s: Stream, name: bytes, g: Group, count: int) -> dict[bytes, Any]:
    pending: list[Any] = []
    for sid in g.pel_ids:
        if count and len(pending) >= count:
            break
        nack = g.pel[sid]
        pending.append([format_id(sid), nack.consumer, nack.delivery_time, nack.delivery_count])
    consumers = []
    for cname, c in sorted(g.consumers.items()):
        cpending: list[Any] = []
        for sid in c.pel:
            if count and len(cpending) >= count:
                break
            nack = g.pel[sid]
            cpending.append([format_id(sid), nack.delivery_time, nack.delivery_count])
        consumers.append(
            {
                b"name": cname,
                b"seen-time": c.seen_time,
                b"active-time": c.active_time,
                b"pel-count": len(c.pel),
                b"pending": cpending,
            }
        )
    return {
        b"name": name,
        b"last-delivered-id": format_id(g.last_id),
        b"entries-read": _entries_read(g),
        b"lag": s.lag(g),
        b"pel-count": len(g.pel),
        b"pending": pending,
        b"consumers": consumers,
    }
