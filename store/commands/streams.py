"""Stream commands on entries: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID.

Reading with XREAD/XREADGROUP is in :mod:`store.commands.streams_read`, consumer groups in
:mod:`store.commands.streams_groups`, XINFO in :mod:`store.commands.streams_info`; the
value is :class:`store.datatypes.streams.Stream`.

Determinism: XADD ``*`` and ``ms-*`` take the time from ``ctx.now_ms`` and are logged
with the id they generated; approximate trimming (``~``) is logged as the exact trim it
amounted to (``MAXLEN = <length>`` or ``MINID = <first id>``, without LIMIT), as Redis
propagates it, so replay never depends on the node layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..datatypes.stream_ids import MAX_ID, MIN_ID, StreamID, format_id
from ..datatypes.streams import Stream
from ..errors import ArityError, CommandError, SyntaxErr
from ..replies import NULL_ARRAY, NullArray, SimpleString
from .streams_args import (
    entries_reply,
    get_stream,
    interval_end,
    interval_start,
    parse_count,
    parse_id,
    strict_id,
)
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext

TRIM_LIMIT_DEFAULT = 100 * 100  # 100 * stream-node-max-entries


@dataclass
class TrimArgs:
    """What ``streamParseAddOrTrimArgsOrReply`` reads: the trim strategy and, for XADD,
    NOMKSTREAM and the id (``id_pos`` is the id's index; ``len(args)`` if none)."""

    maxlen: int | None = None
    minid: StreamID | None = None
    approx: bool = False
    limit: int = 0
    strategy_pos: int = 0  # index of the threshold argument
    nomkstream: bool = False
    id: StreamID | None = None
    seq_given: bool = True
    id_pos: int = 0


def parse_trim(args: list[bytes], xadd: bool) -> TrimArgs:
    t = TrimArgs()
    limit_given = False
    i = 2
    n = len(args)
    while i < n:
        more = n - 1 - i
        opt = args[i].upper()
        if xadd and args[i] == b"*":
            break
        if opt in (b"MAXLEN", b"MINID") and more:
            if t.maxlen is not None or t.minid is not None:
                raise CommandError(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible"
                )
            t.approx = False
            nxt = args[i + 1]
            if more >= 2 and nxt in (b"~", b"="):
                t.approx = nxt == b"~"
                i += 1
            if opt == b"MAXLEN":
                t.maxlen = parse_int(args[i + 1])
                if t.maxlen < 0:
                    raise CommandError("The MAXLEN argument must be >= 0.")
            else:
                t.minid = strict_id(args[i + 1])
            i += 1
            t.strategy_pos = i
        elif opt == b"LIMIT" and more:
            t.limit = parse_int(args[i + 1])
            if t.limit < 0:
                raise CommandError("The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and opt == b"NOMKSTREAM":
            t.nomkstream = True
        elif xadd:
            t.id, t.seq_given = parse_id(args[i], seq_star=True)
            break
        else:
            raise SyntaxErr()
        i += 1
    t.id_pos = i
    no_strategy = t.maxlen is None and t.minid is None
    if t.limit and no_strategy:
        raise CommandError(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy"
        )
    if not xadd and no_strategy:
        raise CommandError("syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not t.approx:
            raise CommandError("syntax error, LIMIT cannot be used without the special ~ option")
    elif t.approx:
        t.limit = TRIM_LIMIT_DEFAULT
    else:
        t.limit = 0
    return t


def apply_trim(s: Stream, t: TrimArgs) -> int:
    if t.maxlen is None and t.minid is None:
        return 0
    return s.trim(maxlen=t.maxlen, minid=t.minid, approx=t.approx, limit=t.limit)


def _log_trim(s: Stream, t: TrimArgs, args: list[bytes], rest: list[bytes]) -> list[bytes]:
    """The logged form: ``<cmd> key [NOMKSTREAM] [MAXLEN|MINID = <threshold>] rest``."""
    out = [args[0], args[1]]
    if t.nomkstream:
        out.append(b"NOMKSTREAM")
    if t.maxlen is not None:
        out += [b"MAXLEN", b"=", b"%d" % (len(s) if t.approx else t.maxlen)]
    elif t.minid is not None:
        out += [b"MINID", b"=", format_id(s.first_id if t.approx else t.minid)]
    return out + rest


@command("XADD", -5, "write denyoom fast", "stream", keys=(1, 1, 1))
def xadd(ctx: ExecContext, args: list[bytes]) -> bytes | None:
    """Append an entry: XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]]
    *|id field value [field value ...]."""
    t = parse_trim(args, xadd=True)
    fields = args[t.id_pos + 1 :]
    if len(fields) < 2 or len(fields) % 2:
        raise ArityError.for_command("xadd")
    if t.id is not None and t.seq_given and t.id == MIN_ID:
        raise CommandError("The ID specified in XADD must be greater than 0-0")
    key = args[1]
    s = ctx.keyspace.get_typed(key, ctx.expire_now, Stream)
    if s is None and t.nomkstream:
        return None
    last = s.last_id if s is not None else MIN_ID
    if last == MAX_ID:
        raise CommandError(
            "The stream has exhausted the last possible ID, unable to add more items"
        )
    sid = _next_id(last, t, ctx.now_ms)
    if sid is None or sid <= last:
        raise CommandError(
            "The ID specified in XADD is equal or smaller than the target stream top item"
        )
    s = ctx.keyspace.typed_for_write(key, Stream)
    s.append(sid, list(fields))
    apply_trim(s, t)
    ctx.keyspace.touched(key)
    ctx.dirty = True
    ctx.log_args = _log_trim(s, t, args, [format_id(sid), *fields])
    return format_id(sid)


def _next_id(last: StreamID, t: TrimArgs, now_ms: int) -> StreamID | None:
    if t.id is None:  # "*": streamNextID
        if now_ms > last[0]:
            return now_ms, 0
        return (last[0], last[1] + 1) if last[1] < (1 << 64) - 1 else (last[0] + 1, 0)
    if t.seq_given:
        return t.id
    if last[0] == t.id[0]:  # "ms-*"
        if last[1] == (1 << 64) - 1:
            return None
        return last[0], last[1] + 1
    return t.id


@command("XTRIM", -4, "write", "stream slow", keys=(1, 1, 1))
def xtrim(ctx: ExecContext, args: list[bytes]) -> int:
    """Trim a stream: XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]."""
    t = parse_trim(args, xadd=False)
    s = ctx.keyspace.get_typed(args[1], ctx.expire_now, Stream)
    if s is None:
        return 0
    deleted = apply_trim(s, t)
    if deleted:
        ctx.keyspace.touched(args[1])
        ctx.dirty = True
        ctx.log_args = _log_trim(s, t, args, [])
    return deleted


@command("XLEN", 2, "readonly fast", "stream", keys=(1, 1, 1))
def xlen(ctx: ExecContext, args: list[bytes]) -> int:
    """The number of entries in a stream."""
    s = get_stream(ctx, args[1])
    return 0 if s is None else len(s)


def _range(ctx: ExecContext, args: list[bytes], rev: bool) -> list[object] | NullArray:
    start_raw, end_raw = (args[3], args[2]) if rev else (args[2], args[3])
    start = interval_start(start_raw)
    end = interval_end(end_raw)
    count = -1
    j = 4
    while j < len(args):
        if args[j].upper() == b"COUNT" and j + 1 < len(args):
            count = parse_count(args[j + 1])
            j += 2
        else:
            raise SyntaxErr()
    s = get_stream(ctx, args[1])
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return entries_reply(s.range(start, end, max(count, 0), rev))


@command("XRANGE", -4, "readonly", "stream slow", keys=(1, 1, 1))
def xrange(ctx: ExecContext, args: list[bytes]) -> list[object] | NullArray:
    """Entries between two ids: XRANGE key start end [COUNT n]."""
    return _range(ctx, args, rev=False)


@command("XREVRANGE", -4, "readonly", "stream slow", keys=(1, 1, 1))
def xrevrange(ctx: ExecContext, args: list[bytes]) -> list[object] | NullArray:
    """Entries between two ids, newest first: XREVRANGE key end start [COUNT n]."""
    return _range(ctx, args, rev=True)


@command("XDEL", -3, "write fast", "stream", keys=(1, 1, 1))
def xdel(ctx: ExecContext, args: list[bytes]) -> int:
    """Delete entries by id; returns how many existed."""
    s = ctx.keyspace.get_typed(args[1], ctx.expire_now, Stream)
    if s is None:
        return 0
    ids = [strict_id(raw) for raw in args[2:]]
    deleted = sum(1 for sid in ids if s.delete(sid))
    if deleted:
        ctx.keyspace.touched(args[1])
        ctx.dirty = True
    return deleted


@command("XSETID", -3, "write denyoom fast", "stream", keys=(1, 1, 1))
def xsetid(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Set a stream's last id: XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]."""
    sid = strict_id(args[2])
    entries_added = -1
    max_deleted = MIN_ID
    i = 3
    while i < len(args):
        more = len(args) - 1 - i
        opt = args[i].upper()
        if opt == b"ENTRIESADDED" and more:
            entries_added = parse_int(args[i + 1])
            if entries_added < 0:
                raise CommandError("entries_added must be positive")
        elif opt == b"MAXDELETEDID" and more:
            max_deleted = strict_id(args[i + 1])
            if sid < max_deleted:
                raise CommandError(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
                )
        else:
            raise SyntaxErr()
        i += 2
    s = ctx.keyspace.get_typed(args[1], ctx.expire_now, Stream)
    if s is None:
        raise CommandError("no such key")
    if sid < s.max_deleted:
        raise CommandError(
            "The ID specified in XSETID is smaller than current max_deleted_entry_id"
        )
    if len(s):
        if sid < s.last_live_id():
            raise CommandError(
                "The ID specified in XSETID is smaller than the target stream top item"
            )
        if entries_added != -1 and len(s) > entries_added:
            raise CommandError(
                "The entries_added specified in XSETID is smaller than the target stream length"
            )
    s.last_id = sid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_deleted != MIN_ID:
        s.max_deleted = max_deleted
    ctx.dirty = True  # not reported as a key change: a WATCH survives XSETID, as in Redis
    return SimpleString("OK")
