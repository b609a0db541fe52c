"""What the sorted-set commands share: reading the value at a key, parsing score and lex
ranges, timeouts and counts, and shaping ``WITHSCORES`` replies (Redis 7.4's texts from
``t_zset.c``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..datatypes.zsets import LexBound, ZSet
from ..errors import CommandError
from ..numbers import INT64_MAX, parse_float64, parse_int64

if TYPE_CHECKING:
    from .context import ExecContext

__all__ = [
    "LONG_MAX",
    "ScoreRange",
    "parse_lex_range",
    "parse_positive",
    "parse_score",
    "parse_score_range",
    "read_zset",
    "with_scores",
    "write_zset",
]

LONG_MAX = INT64_MAX
# (low, low exclusive, high, high exclusive): Redis's zrangespec
ScoreRange = tuple[float, bool, float, bool]


def read_zset(ctx: ExecContext, key: bytes) -> ZSet | None:
    """The live sorted set at ``key`` for a read; None if missing; WRONGTYPE otherwise."""
    return ctx.keyspace.get_typed(key, ctx.read_now, ZSet)


def write_zset(ctx: ExecContext, key: bytes) -> ZSet | None:
    """The live sorted set at ``key`` for a write that must not create it."""
    return ctx.keyspace.get_typed(key, ctx.expire_now, ZSet)


def parse_score(raw: bytes, message: str = "value is not a valid float") -> float:
    """A score argument (Redis's ``string2d``: ``inf`` yes, NaN no, and no value that
    overflows to infinity or underflows to zero, where ``strtod`` sets ERANGE)."""
    value = parse_float64(raw)
    if value is None or out_of_range(raw, value):
        raise CommandError(message)
    return value


def out_of_range(raw: bytes, value: float) -> bool:
    """Whether ``strtod`` would report ERANGE for ``raw`` (parsed as ``value``): a finite
    spelling that overflowed, or a non-zero one that underflowed to zero."""
    text = raw.lower()
    if math.isinf(value):
        return b"inf" not in text
    if value == 0.0 and not text.startswith((b"0x", b"-0x", b"+0x")):
        mantissa = text.split(b"e")[0]
        return any(c in b"123456789" for c in mantissa)
    return False


def _score_bound(raw: bytes) -> tuple[float, bool]:
    exclusive = raw[:1] == b"("
    value = parse_float64(raw[1:] if exclusive else raw)
    if value is None:  # zslParseRange: plain strtod, an overflow is a bound
        raise CommandError("min or max is not a float")
    return value, exclusive


def parse_score_range(low: bytes, high: bytes) -> ScoreRange:
    """``min``/``max`` of ZRANGEBYSCORE and friends (``(`` marks an exclusive bound)."""
    lo, lo_ex = _score_bound(low)
    hi, hi_ex = _score_bound(high)
    return lo, lo_ex, hi, hi_ex


def _lex_bound(raw: bytes, is_min: bool) -> LexBound:
    if raw == b"-":
        return (None, not is_min)  # matches everything as a minimum, nothing as a maximum
    if raw == b"+":
        return (None, is_min)
    if raw[:1] == b"(":
        return (raw[1:], True)
    if raw[:1] == b"[":
        return (raw[1:], False)
    raise CommandError("min or max not valid string range item")


def parse_lex_range(low: bytes, high: bytes) -> tuple[LexBound, LexBound]:
    """``min``/``max`` of ZRANGEBYLEX and friends: ``-``, ``+``, ``[member``, ``(member``."""
    return _lex_bound(low, True), _lex_bound(high, False)


def parse_positive(raw: bytes, message: str | None = None) -> int:
    """``getPositiveLongFromObjectOrReply``: an integer ``>= 0``; ``message`` (or Redis's
    default) is the error for a non-integer and for a negative value alike."""
    text = message or "value is out of range, must be positive"
    value = parse_int64(raw)
    if value is None or value < 0:
        raise CommandError(text)
    return value


_LLONG_HALF = float(((1 << 63) - 1) // 2)


def with_scores(ctx: ExecContext, pairs: list[tuple[float, bytes]], scores: bool) -> list[Any]:
    """Members, or members and scores: flat in RESP2, ``[member, score]`` pairs in RESP3."""
    if not scores:
        return [m for _, m in pairs]
    if ctx.protocol >= 3:
        return [[m, s] for s, m in pairs]
    out: list[Any] = []
    for s, m in pairs:
        out.append(m)
        out.append(s)
    return out
