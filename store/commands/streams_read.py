"""XREAD and XREADGROUP: reading streams, alone or as a consumer of a group.

Both block with ``BLOCK ms`` (:mod:`store.commands.blocking`): when nothing can be served
and ``ctx.may_block``, the handler returns :class:`WouldBlock` on the stream keys and
changes nothing. ``WouldBlock.resume["args"]`` is the call to run again when a key is
written: XREAD's ``$`` is replaced by the id it meant at the first call (the stream's
last id then), so entries added meanwhile are new to the re-run, as in Redis. Elsewhere
(MULTI, scripts, replay) a BLOCK that cannot be served answers the null array at once.

XREADGROUP changes the group (consumers, last delivered id, PEL, read counter) and is
logged as its effects, the commands Redis propagates: ``XGROUP CREATECONSUMER`` for a new
consumer, ``XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID id``
per delivered entry, and ``XGROUP SETID key group id ENTRIESREAD n`` when the group's
last id moved, so replay and replicas rebuild the same PEL with the same delivery times.
Differences from Redis: a blocked XREADGROUP that times out has not created its consumer
(the contract says a blocking handler changes nothing), see docs/compatibility.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..datatypes.stream_groups import Group
from ..datatypes.stream_ids import MAX_ID, MIN_ID, StreamID, decr_id, format_id, incr_id
from ..datatypes.streams import Stream
from ..errors import CommandError, SyntaxErr
from ..replies import NULL_ARRAY
from .blocking import WouldBlock
from .streams_args import (
    entries_reply,
    entry_reply,
    get_stream,
    no_group,
    parse_count,
    strict_id,
    text,
)
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext


@dataclass
class ReadArgs:
    count: int = 0
    timeout_ms: int = -1  # -1: no BLOCK
    noack: bool = False
    group: bytes | None = None
    consumer: bytes = b""
    streams_at: int = 0
    keys: list[bytes] = field(default_factory=list)
    ids: list[bytes] = field(default_factory=list)


def parse_read(args: list[bytes], grouped: bool) -> ReadArgs:
    """XREAD / XREADGROUP options, with Redis's errors in Redis's order."""
    r = ReadArgs()
    name = "xreadgroup" if grouped else "xread"
    i = 1
    n = len(args)
    while i < n:
        more = n - i - 1
        opt = args[i].upper()
        if opt == b"BLOCK" and more:
            i += 1
            r.timeout_ms = parse_int(args[i], "timeout is not an integer or out of range")
            if r.timeout_ms < 0:
                raise CommandError("timeout is negative")
        elif opt == b"COUNT" and more:
            i += 1
            r.count = parse_count(args[i])
        elif opt == b"STREAMS" and more:
            r.streams_at = i + 1
            rest = n - r.streams_at
            if rest % 2:
                symbol = ">" if grouped else "$"
                raise CommandError(
                    f"Unbalanced '{name}' list of streams: for each stream key an ID or "
                    f"'{symbol}' must be specified."
                )
            half = rest // 2
            r.keys = args[r.streams_at : r.streams_at + half]
            r.ids = args[r.streams_at + half :]
            break
        elif opt == b"GROUP" and more >= 2:
            if not grouped:
                raise CommandError(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead."
                )
            r.group, r.consumer = args[i + 1], args[i + 2]
            i += 2
        elif opt == b"NOACK":
            if not grouped:
                raise CommandError(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead."
                )
            r.noack = True
        else:
            raise SyntaxErr()
        i += 1
    if not r.streams_at:
        raise SyntaxErr()
    if grouped and r.group is None:
        raise CommandError("Missing GROUP option for XREADGROUP")
    return r


_MEANINGLESS = (
    "The {} ID is meaningless in the context of XREADGROUP: you want to read the history "
    "of this consumer by specifying a proper ID, or use the > ID to get new messages. "
    "The {} ID would just return an empty result set."
)


def _reply(ctx: ExecContext, served: list[tuple[bytes, list[Any]]]) -> Any:
    if ctx.protocol >= 3:
        return dict(served)
    return [[key, entries] for key, entries in served]


def _block(ctx: ExecContext, r: ReadArgs, resume_args: list[bytes]) -> Any:
    if r.timeout_ms == -1 or not ctx.may_block:
        return NULL_ARRAY
    return WouldBlock(
        keys=tuple(r.keys),
        timeout_ms=r.timeout_ms,
        timeout_reply=NULL_ARRAY,
        resume={"args": resume_args},
    )


def stream_keys(args: list[bytes]) -> list[bytes]:
    """The keys of an XREAD / XREADGROUP call: the first half of what follows STREAMS
    (a ``find_keys`` for the command table; a malformed call finds none, the handler
    answers its error)."""
    for i in range(1, len(args)):
        if args[i].upper() == b"STREAMS":
            rest = args[i + 1 :]
            return rest[: len(rest) // 2] if rest and len(rest) % 2 == 0 else []
    return []


@command(
    "XREAD", -4, "readonly blocking movablekeys", "stream slow blocking", find_keys=stream_keys
)
def xread(ctx: ExecContext, args: list[bytes]) -> Any:
    """Read entries newer than the given ids:
    XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...]."""
    r = parse_read(args, grouped=False)
    after: list[StreamID] = []
    streams: list[Stream | None] = []
    for key, raw in zip(r.keys, r.ids, strict=True):
        s = get_stream(ctx, key)
        streams.append(s)
        if raw == b"$":
            after.append(s.last_id if s is not None else MIN_ID)
        elif raw == b">":
            raise CommandError(
                "The > ID can be specified only when calling XREADGROUP using the GROUP "
                "<group> <consumer> option."
            )
        elif raw == b"+":
            after.append((decr_id(s.last_id) or MIN_ID) if s is not None else MIN_ID)
        else:
            after.append(strict_id(raw))
    served: list[tuple[bytes, list[Any]]] = []
    for key, s, gt in zip(r.keys, streams, after, strict=True):
        if s is None or not len(s) or s.last_live_id() <= gt:
            continue
        start = incr_id(gt)
        assert start is not None  # gt < the last live id
        served.append((key, entries_reply(s.range(start, MAX_ID, r.count))))
    if served:
        return _reply(ctx, served)
    resume = args[: r.streams_at + len(r.keys)] + [format_id(sid) for sid in after]
    return _block(ctx, r, resume)


@command(
    "XREADGROUP", -7, "write blocking movablekeys", "stream slow blocking", find_keys=stream_keys
)
def xreadgroup(ctx: ExecContext, args: list[bytes]) -> Any:
    """Read as a consumer of a group: XREADGROUP GROUP group consumer [COUNT n]
    [BLOCK ms] [NOACK] STREAMS key [key ...] id|> [id|> ...]."""
    r = parse_read(args, grouped=True)
    assert r.group is not None
    resolved: list[tuple[Stream, Group, StreamID | None]] = []  # None: ">"
    for key, raw in zip(r.keys, r.ids, strict=True):
        s = ctx.keyspace.get_typed(key, ctx.read_now, Stream)
        g = s.groups.get(r.group) if s is not None else None
        if s is None or g is None:
            raise no_group(key, r.group, " in XREADGROUP with GROUP option")
        if raw in (b"$", b"+"):
            sym = text(raw)
            raise CommandError(_MEANINGLESS.format(sym, sym))
        resolved.append((s, g, None if raw == b">" else strict_id(raw)))
    now = ctx.now_ms
    log: list[list[bytes]] = []
    served: list[tuple[bytes, list[Any]]] = []
    for key, (s, g, gt) in zip(r.keys, resolved, strict=True):
        if gt is None and (not len(s) or s.last_live_id() <= g.last_id):
            continue
        consumer, created = g.consumer(r.consumer, now)
        if created:
            log.append([b"XGROUP", b"CREATECONSUMER", key, r.group, r.consumer])
        consumer.seen_time = now
        if gt is not None:
            served.append((key, _history(s, g, consumer.name, gt, r.count, now, key, r, log)))
            continue
        entries = s.range(incr_id(g.last_id) or MAX_ID, MAX_ID, r.count)
        for sid, _ in entries:
            if sid > g.last_id:
                s.advance_group(g, sid)
            if not r.noack:
                nack = g.assign(sid, consumer, now, 1)
                consumer.active_time = now
                log.append(_xclaim_log(key, r.group, g, sid, nack.delivery_time, 1))
        if entries:
            log.append(_setid_log(key, r.group, g))
        served.append((key, entries_reply(entries)))
    if not served:
        blocked = _block(ctx, r, args)
        if isinstance(blocked, WouldBlock):
            return blocked
    for key in r.keys:  # Redis creates (and sees) the consumer even when nothing is served
        s, g, _ = resolved[r.keys.index(key)]
        consumer, created = g.consumer(r.consumer, now)
        consumer.seen_time = now
        if created:
            log.append([b"XGROUP", b"CREATECONSUMER", key, r.group, r.consumer])
    if log:
        ctx.dirty = True
        ctx.log_commands = log
    if not served:
        return NULL_ARRAY
    return _reply(ctx, served)


def _history(
    s: Stream,
    g: Group,
    consumer: bytes,
    gt: StreamID,
    count: int,
    now: int,
    key: bytes,
    r: ReadArgs,
    log: list[list[bytes]],
) -> list[Any]:
    """The consumer's own pending entries after ``gt`` (re-delivered: time and count
    updated); a deleted entry shows as ``[id, nil]``."""
    start = incr_id(gt)
    out: list[Any] = []
    if start is None:
        return out
    owner = g.consumers[consumer]
    # COUNT entries from a bisect: the whole pending list was copied first (250,000
    # pending: 23 ms a call, quadratic for a consumer draining its backlog by COUNT)
    for sid in islice(owner.pel.from_id(start), count or None):
        fields = s.entries.get(sid)
        out.append(entry_reply(sid, fields))
        if fields is not None:
            nack = g.pel[sid]
            nack.delivery_time = now
            nack.delivery_count += 1
            assert r.group is not None
            log.append(_xclaim_log(key, r.group, g, sid, now, nack.delivery_count))
    return out


def _xclaim_log(
    key: bytes, group: bytes, g: Group, sid: StreamID, time_ms: int, count: int
) -> list[bytes]:
    nack = g.pel[sid]
    return [
        b"XCLAIM", key, group, nack.consumer, b"0", format_id(sid), b"TIME", b"%d" % time_ms,
        b"RETRYCOUNT", b"%d" % count, b"FORCE", b"JUSTID", b"LASTID", format_id(g.last_id),
    ]  # fmt: skip


def _setid_log(key: bytes, group: bytes, g: Group) -> list[bytes]:
    return [
        b"XGROUP", b"SETID", key, group, format_id(g.last_id),
        b"ENTRIESREAD", b"%d" % g.entries_read,
    ]  # fmt: skip
