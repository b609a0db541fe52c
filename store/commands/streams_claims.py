"""Taking pending entries over: XCLAIM and XAUTOCLAIM.

Both read the idle time of pending entries from ``ctx.now_ms`` and are logged as one
explicit ``XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID id``
per entry they changed (as Redis propagates them), so replay sets the same delivery
times and counts; a claimed entry that no longer exists leaves the PEL (logged the same
way). The claiming consumer is created even when nothing is claimed, as in Redis 7.2.
Neither reports the key as changed (a WATCH on the stream survives them, as on the peer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..datatypes.stream_groups import Consumer, Group
from ..datatypes.stream_ids import MIN_ID, StreamID, format_id
from ..datatypes.streams import Stream
from ..errors import CommandError, SyntaxErr
from .streams_args import entry_reply, interval_start, no_group, strict_id, text
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext


def _claim_log(key: bytes, group: bytes, g: Group, sid: StreamID, consumer: bytes) -> list[bytes]:
    nack = g.pel.get(sid)
    time_ms, count = (nack.delivery_time, nack.delivery_count) if nack else (0, 0)
    return [
        b"XCLAIM", key, group, consumer, b"0", format_id(sid), b"TIME", b"%d" % time_ms,
        b"RETRYCOUNT", b"%d" % count, b"FORCE", b"JUSTID", b"LASTID", format_id(g.last_id),
    ]  # fmt: skip


def _claimer(
    g: Group, key: bytes, group: bytes, name: bytes, now: int, log: list[list[bytes]]
) -> Consumer:
    """The claiming consumer, created (and logged) if new, as Redis 7.2 does even when
    nothing is claimed; it is seen now."""
    consumer, created = g.consumer(name, now)
    if created:
        log.append([b"XGROUP", b"CREATECONSUMER", key, group, name])
    consumer.seen_time = now
    return consumer


@command("XCLAIM", -6, "write fast", "stream", keys=(1, 1, 1))
def xclaim(ctx: ExecContext, args: list[bytes]) -> list[Any]:
    """Take pending entries over: XCLAIM key group consumer min-idle-time id [id ...]
    [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]."""
    key, group, name = args[1], args[2], args[3]
    s = ctx.keyspace.get_typed(key, ctx.expire_now, Stream)
    g = s.groups.get(group) if s is not None else None
    if s is None or g is None:
        raise no_group(key, group)
    min_idle = max(parse_int(args[4], "Invalid min-idle-time argument for XCLAIM"), 0)
    ids: list[StreamID] = []
    j = 5
    while j < len(args):
        try:
            ids.append(strict_id(args[j]))
        except CommandError:
            break
        j += 1
    now = ctx.now_ms
    retrycount = -1
    delivery = -1
    force = justid = False
    last_id = MIN_ID
    while j < len(args):
        more = len(args) - 1 - j
        opt = args[j].upper()
        if opt == b"FORCE":
            force = True
        elif opt == b"JUSTID":
            justid = True
        elif opt == b"IDLE" and more:
            j += 1
            delivery = now - parse_int(args[j], "Invalid IDLE option argument for XCLAIM")
        elif opt == b"TIME" and more:
            j += 1
            delivery = parse_int(args[j], "Invalid TIME option argument for XCLAIM")
        elif opt == b"RETRYCOUNT" and more:
            j += 1
            retrycount = parse_int(args[j], "Invalid RETRYCOUNT option argument for XCLAIM")
        elif opt == b"LASTID" and more:
            j += 1
            last_id = strict_id(args[j])
        else:
            raise CommandError(f"Unrecognized XCLAIM option '{text(args[j])}'")
        j += 1
    log: list[list[bytes]] = []
    consumer = _claimer(g, key, group, name, now, log)
    moved_last = False
    if last_id > g.last_id:
        g.last_id = last_id
        moved_last = True
    if delivery == -1 or delivery < 0 or delivery > now:
        delivery = now
    out: list[Any] = []
    for sid in ids:
        nack = g.pel.get(sid)
        if sid not in s.entries:
            if nack is not None:
                log.append(_claim_log(key, group, g, sid, nack.consumer))
                g.ack(sid)
            continue
        if nack is None and not force:
            continue
        if nack is not None and min_idle and now - nack.delivery_time < min_idle:
            continue
        if nack is None:
            count = retrycount if retrycount >= 0 else (1 if justid else 2)
        else:
            count = retrycount if retrycount >= 0 else nack.delivery_count + (0 if justid else 1)
        g.assign(sid, consumer, delivery, count)
        out.append(format_id(sid) if justid else entry_reply(sid, s.entries[sid]))
        consumer.active_time = now
        log.append(_claim_log(key, group, g, sid, name))
    if moved_last and not log:
        log.append([b"XGROUP", b"SETID", key, group, format_id(g.last_id),
                    b"ENTRIESREAD", b"%d" % g.entries_read])  # fmt: skip
    if log:
        ctx.dirty = True
        ctx.log_commands = log
    return out


@command("XAUTOCLAIM", -6, "write fast", "stream", keys=(1, 1, 1))
def xautoclaim(ctx: ExecContext, args: list[bytes]) -> list[Any]:
    """Claim entries idle for long enough, scanning the PEL from a cursor:
    XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]."""
    key, group, name = args[1], args[2], args[3]
    min_idle = max(parse_int(args[4], "Invalid min-idle-time argument for XAUTOCLAIM"), 0)
    start = interval_start(args[5])
    count = 100
    justid = False
    j = 6
    while j < len(args):
        more = len(args) - 1 - j
        opt = args[j].upper()
        if opt == b"COUNT" and more:
            count = parse_int(args[j + 1], "COUNT must be > 0")
            if not 1 <= count <= ((1 << 63) - 1) // 16:
                raise CommandError("COUNT must be > 0")
            j += 1
        elif opt == b"JUSTID":
            justid = True
        else:
            raise SyntaxErr()
        j += 1
    s = ctx.keyspace.get_typed(key, ctx.expire_now, Stream)
    g = s.groups.get(group) if s is not None else None
    if s is None or g is None:
        raise no_group(key, group)
    attempts = count * 10
    now = ctx.now_ms
    claimed: list[Any] = []
    deleted: list[bytes] = []
    log: list[list[bytes]] = []
    consumer = _claimer(g, key, group, name, now, log)
    cursor = MIN_ID
    scan = g.pel_ids.from_id(start)
    while True:
        if not attempts:
            cursor = next(scan, MIN_ID)
            break
        attempts -= 1
        if not count:
            cursor = next(scan, MIN_ID)
            break
        sid_or_none = next(scan, None)
        if sid_or_none is None:
            break
        sid = sid_or_none
        nack = g.pel[sid]
        if sid not in s.entries:
            log.append(_claim_log(key, group, g, sid, nack.consumer))
            g.ack(sid)
            deleted.append(format_id(sid))
            count -= 1
            continue
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        g.assign(sid, consumer, now, nack.delivery_count + (0 if justid else 1))
        claimed.append(format_id(sid) if justid else entry_reply(sid, s.entries[sid]))
        count -= 1
        consumer.active_time = now
        log.append(_claim_log(key, group, g, sid, name))
    if log:
        ctx.dirty = True
        ctx.log_commands = log
    return [format_id(cursor), claimed, deleted]
