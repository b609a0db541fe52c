"""Argument parsing and reply shapes shared by the stream commands, with Redis's texts.

Ids are parsed as ``t_stream.c`` does (``streamGenericParseIDOrReply``): ``ms-seq`` or
``ms`` (the missing sequence is 0 for a start, the maximum for an end), ``-`` and ``+``
where a range allows them, ``ms-*`` only for XADD, each part an unsigned 64-bit integer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..datatypes.stream_ids import MAX_ID, MIN_ID, U64_MAX, StreamID, decr_id, format_id, incr_id
from ..datatypes.streams import Stream
from ..errors import CommandError, StoreError
from ..numbers import parse_int64
from ..replies import NULL_ARRAY
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext

INVALID_ID = "Invalid stream ID specified as stream command argument"


class NoGroupError(StoreError):
    """A consumer group (or its key) is missing: Redis's ``NOGROUP`` errors."""

    prefix = "NOGROUP"


class BusyGroupError(StoreError):
    """XGROUP CREATE of a group that exists."""

    prefix = "BUSYGROUP"


def _u64(raw: bytes) -> int | None:
    value = parse_int64(raw)
    if value is not None:
        return value if value >= 0 else None
    # strtoull's wider range (past INT64_MAX), digits only
    text = raw.strip(b" \t\n\v\f\r").removeprefix(b"+")
    if not text.isdigit():
        return None
    big = int(text)
    return big if big <= U64_MAX else None


def parse_id(
    raw: bytes, *, missing_seq: int = 0, strict: bool = True, seq_star: bool = False
) -> tuple[StreamID, bool]:
    """``(id, seq_given)``. ``strict`` refuses ``-`` and ``+``; ``seq_star`` allows
    ``ms-*`` (XADD), which gives ``seq_given`` False."""
    if len(raw) > 127:
        raise CommandError(INVALID_ID)
    if raw == b"-" or raw == b"+":
        if strict:
            raise CommandError(INVALID_ID)
        return (MIN_ID if raw == b"-" else MAX_ID), True
    ms_raw, dash, seq_raw = raw.partition(b"-")
    ms = _u64(ms_raw)
    if ms is None:
        raise CommandError(INVALID_ID)
    if not dash:
        return (ms, missing_seq), True
    if seq_star and seq_raw == b"*":
        return (ms, 0), False
    seq = _u64(seq_raw)
    if seq is None:
        raise CommandError(INVALID_ID)
    return (ms, seq), True


def strict_id(raw: bytes, missing_seq: int = 0) -> StreamID:
    return parse_id(raw, missing_seq=missing_seq)[0]


def interval_start(raw: bytes) -> StreamID:
    """A range start: ``-``, an id, or ``(id`` (exclusive)."""
    if len(raw) > 1 and raw[:1] == b"(":
        start = incr_id(strict_id(raw[1:], 0))
        if start is None:
            raise CommandError("invalid start ID for the interval")
        return start
    return parse_id(raw, missing_seq=0, strict=False)[0]


def interval_end(raw: bytes) -> StreamID:
    """A range end: ``+``, an id (missing sequence: the largest), or ``(id``."""
    if len(raw) > 1 and raw[:1] == b"(":
        end = decr_id(strict_id(raw[1:], U64_MAX))
        if end is None:
            raise CommandError("invalid end ID for the interval")
        return end
    return parse_id(raw, missing_seq=U64_MAX, strict=False)[0]


def parse_count(raw: bytes) -> int:
    """A COUNT argument (an integer; negative counts as 0)."""
    return max(parse_int(raw), 0)


def entry_reply(sid: StreamID, fields: list[bytes] | None) -> list[Any]:
    """``[id, [field, value, ...]]``; a missing entry shows a null array for its fields."""
    return [format_id(sid), NULL_ARRAY if fields is None else list(fields)]


def entries_reply(entries: list[tuple[StreamID, list[bytes]]]) -> list[Any]:
    return [entry_reply(sid, fields) for sid, fields in entries]


def get_stream(ctx: ExecContext, key: bytes) -> Stream | None:
    return ctx.keyspace.get_typed(key, ctx.read_now, Stream)


def no_group(key: bytes, group: bytes, suffix: str = "") -> NoGroupError:
    k = key.decode("utf-8", "replace")
    g = group.decode("utf-8", "replace")
    return NoGroupError(f"No such key '{k}' or consumer group '{g}'{suffix}")


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")
