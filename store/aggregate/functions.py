"""The functions APPLY and FILTER expressions may call (RediSearch 2.10's function registry).

Each takes the already evaluated arguments and returns a value or raises
:class:`EvalError` with RediSearch's message. Strings are bytes; case mapping is ASCII
only (C ``tolower``/``toupper``), lengths are in bytes, as in RediSearch. ``exists`` is the
only function that receives a missing property (as ``None``) instead of failing; the
evaluator handles that. ``matched_terms`` returns the query terms found in the row's
document, up to its argument (default and ceiling 100).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from ..index.geo_field import geodistance
from .values import Value, format_number, to_bytes, to_number, type_code

__all__ = ["FUNCTIONS", "EvalError", "RowInfo"]


class EvalError(Exception):
    """Evaluating an expression failed for one row; ``str()`` is RediSearch's message."""


class RowInfo:
    """What functions may know about the row besides its values."""

    __slots__ = ("matched_terms",)

    def __init__(self, matched_terms: Sequence[bytes] = ()) -> None:
        self.matched_terms = matched_terms


Function = Callable[[RowInfo, list[Value]], Value]


def _arity(name: str, args: list[Value], lo: int, hi: int) -> None:
    if not lo <= len(args) <= hi:
        raise EvalError(f"Invalid arguments for function '{name}'")


def _need_string(name: str, args: list[Value], idx: int) -> bytes:
    value = args[idx]
    if not isinstance(value, bytes):
        raise EvalError(
            f"Invalid type ({type_code(value)}) for argument {idx} in function '{name}'. "
            "VALIDATE_ARG__STRING(v, 0) was false."
        )
    return value


def _need_number(name: str, args: list[Value], idx: int) -> float:
    value = args[idx]
    if not isinstance(value, float):
        raise EvalError(
            f"Invalid type ({type_code(value)}) for argument {idx} in function '{name}'. "
            "VALIDATE_ARG__TYPE(v, RSValue_Number) was false."
        )
    return value


def _case(name: str, lower: bool) -> Function:
    def fn(info: RowInfo, args: list[Value]) -> Value:
        _arity(name, args, 1, 1)
        value = args[0]
        if not isinstance(value, bytes):
            return None
        table = bytes.lower if lower else bytes.upper
        return table(value)

    return fn


def _c_int(d: float) -> int:
    return int(d) if math.isfinite(d) else 0


def _substr(info: RowInfo, args: list[Value]) -> Value:
    _arity("substr", args, 3, 3)
    offset = _c_int(_need_number("substr", args, 1))
    length = _c_int(_need_number("substr", args, 2))
    text = args[0]
    if not isinstance(text, bytes):
        raise EvalError("Invalid type for substr. Expected string")
    size = len(text)
    if offset < 0:
        offset = size + offset
    offset = max(0, min(offset, size))
    if length < 0:
        length = max(0, (size - offset) + length)
    if offset + length > size:
        length = size - offset
    return text[offset : offset + length]


def _format(info: RowInfo, args: list[Value]) -> Value:
    if not args:
        raise EvalError("Need at least one argument for format")
    fmt = _need_string("format", args, 0)
    out = bytearray()
    argix = 1
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c != ord("%"):
            out.append(c)
            i += 1
            continue
        if i == len(fmt) - 1:
            raise EvalError("Bad format string!")
        kind = fmt[i + 1]
        i += 2
        if kind == ord("%"):
            out += b"%"
            continue
        if argix == len(args):
            raise EvalError("Not enough arguments for format")
        arg = args[argix]
        argix += 1
        if kind != ord("s"):
            raise EvalError("Unknown format specifier passed")
        text = to_bytes(arg)
        out += b"(null)" if text is None else text
    return bytes(out)


def _split(info: RowInfo, args: list[Value]) -> Value:
    if not 1 <= len(args) <= 3:
        raise EvalError("Invalid number of arguments for split")
    text = _need_string("split", args, 0)
    sep = _need_string("split", args, 1) if len(args) >= 2 else b","
    strip = _need_string("split", args, 2) if len(args) == 3 else b" "
    out: list[Value] = []
    start = 0
    while len(out) < 1024 and start < len(text):
        nxt = min((p for p in (text.find(bytes([s]), start) for s in sep) if p >= 0), default=-1)
        piece = text[start:] if nxt < 0 else text[start:nxt]
        piece = piece.strip(strip) if strip else piece
        if piece:
            out.append(piece)
        if nxt < 0:
            break
        start = nxt + 1
    return out


def _exists(info: RowInfo, args: list[Value]) -> Value:
    _arity("exists", args, 1, 1)
    return 0.0 if args[0] is None else 1.0


def _startswith(info: RowInfo, args: list[Value]) -> Value:
    _arity("startswith", args, 2, 2)
    text, prefix = _need_string("startswith", args, 0), _need_string("startswith", args, 1)
    return 1.0 if text.startswith(prefix) else 0.0


def _contains(info: RowInfo, args: list[Value]) -> Value:
    _arity("contains", args, 2, 2)
    text, part = _need_string("contains", args, 0), _need_string("contains", args, 1)
    if not part:
        return float(len(text) + 1)
    count, pos = 0, text.find(part)
    while pos >= 0:
        count += 1
        pos = text.find(part, pos + 1)
    return float(count)


def _strlen(info: RowInfo, args: list[Value]) -> Value:
    _arity("strlen", args, 1, 1)
    return float(len(_need_string("strlen", args, 0)))


def _to_number(info: RowInfo, args: list[Value]) -> Value:
    _arity("to_number", args, 1, 1)
    number = to_number(args[0])
    if number is None:
        text = to_bytes(args[0]) or b"(null)"
        raise EvalError(f"to_number: cannot convert string '{text.decode('utf-8', 'replace')}'")
    return number


def _to_str(info: RowInfo, args: list[Value]) -> Value:
    _arity("to_str", args, 1, 1)
    value = args[0]
    if isinstance(value, float):
        return format_number(value)
    return value if isinstance(value, bytes) else b""


def _matched_terms(info: RowInfo, args: list[Value]) -> Value:
    limit = 0
    if len(args) == 1:
        n = to_number(args[0])
        if n is not None and n > 0:
            limit = int(n)
    limit = min(100, limit or 100)
    terms = list(info.matched_terms[:limit])
    return terms if terms else None


def _math(name: str, fn: Callable[[float], float]) -> Function:
    def call(info: RowInfo, args: list[Value]) -> Value:
        if len(args) != 1:
            raise EvalError(f"Invalid number of arguments for {name}")
        d = to_number(args[0])
        if d is None:
            return math.nan
        try:
            return fn(d)
        except (ValueError, OverflowError):
            return _c_math(name, d)

    return call


def _c_math(name: str, d: float) -> float:
    """What C's libm answers where Python raises (log(0) = -inf, sqrt(-1) = nan...)."""
    if name in ("log", "log2"):
        return -math.inf if d == 0 else -math.nan  # glibc: log(-x) is -nan
    if name == "exp":
        return math.inf
    return -math.nan  # sqrt(-x) is -nan


def _floor_ceil(fn: Callable[[float], int]) -> Callable[[float], float]:
    return lambda d: float(fn(d)) if math.isfinite(d) else d


def _time_fn(name: str, fmt: str | None) -> Function:
    def call(info: RowInfo, args: list[Value]) -> Value:
        if fmt is None:  # timefmt(ts, [fmt])
            _arity(name, args, 1, 2)
            pattern = args[1] if len(args) == 2 else b"%FT%TZ"
            if not isinstance(pattern, bytes):
                raise EvalError(f"Invalid arguments for function '{name}'")
        else:
            _arity(name, args, 1, 1)
            pattern = None
        ts = to_number(args[0])
        if ts is None:
            return None
        tm = time.gmtime(int(ts))
        if pattern is not None:
            return time.strftime(pattern.decode("utf-8", "replace"), tm).encode()
        return float(_truncate(name, tm, int(ts)))

    return call


def _truncate(name: str, tm: time.struct_time, ts: int) -> int:
    import calendar

    if name == "minute":
        return ts - ts % 60
    if name == "hour":
        return ts - ts % 3600
    if name == "day":
        return ts - ts % 86400
    if name == "month":
        return calendar.timegm((tm.tm_year, tm.tm_mon, 1, 0, 0, 0))
    if name == "year":
        return tm.tm_year
    if name == "dayofweek":
        return (tm.tm_wday + 1) % 7
    if name == "dayofmonth":
        return tm.tm_mday
    if name == "dayofyear":
        return tm.tm_yday - 1
    if name == "monthofyear":
        return tm.tm_mon - 1
    raise AssertionError(name)


_DAY_DIRECTIVES = ("%d", "%e", "%j", "%F", "%D", "%c", "%x", "%s")


def _parsetime(info: RowInfo, args: list[Value]) -> Value:
    """C ``strptime`` into a zeroed ``struct tm``, then ``timegm``: a format without a day
    leaves ``tm_mday`` 0, the last day of the previous month, as in RediSearch."""
    _arity("parsetime", args, 2, 2)
    text, fmt = _need_string("parsetime", args, 0), _need_string("parsetime", args, 1)
    import calendar

    try:
        parsed = time.strptime(text.decode("utf-8", "replace"), fmt.decode("utf-8", "replace"))
    except ValueError:
        return None
    mday = parsed.tm_mday if any(d.encode() in fmt for d in _DAY_DIRECTIVES) else 0
    year = parsed.tm_year if b"%" in fmt else 1900
    stamp = calendar.timegm((year, parsed.tm_mon, 1, parsed.tm_hour, parsed.tm_min, parsed.tm_sec))
    return float(stamp + (mday - 1) * 86400)


def _geodistance(info: RowInfo, args: list[Value]) -> Value:
    """See :func:`store.index.geo_field.geodistance`."""
    _arity("geodistance", args, 2, 4)
    try:
        return geodistance(args)
    except ValueError as exc:
        raise EvalError(str(exc)) from None


FUNCTIONS: dict[str, Function] = {
    "lower": _case("lower", True),
    "upper": _case("upper", False),
    "substr": _substr,
    "format": _format,
    "split": _split,
    "matched_terms": _matched_terms,
    "to_number": _to_number,
    "to_str": _to_str,
    "exists": _exists,
    "startswith": _startswith,
    "contains": _contains,
    "strlen": _strlen,
    "log": _math("log", math.log),
    "floor": _math("floor", _floor_ceil(math.floor)),
    "abs": _math("abs", math.fabs),
    "ceil": _math("ceil", _floor_ceil(math.ceil)),
    "sqrt": _math("sqrt", math.sqrt),
    "log2": _math("log2", math.log2),
    "exp": _math("exp", math.exp),
    "timefmt": _time_fn("timefmt", None),
    "parsetime": _parsetime,
    "geodistance": _geodistance,
    "minute": _time_fn("minute", ""),
    "hour": _time_fn("hour", ""),
    "day": _time_fn("day", ""),
    "month": _time_fn("month", ""),
    "year": _time_fn("year", ""),
    "dayofweek": _time_fn("dayofweek", ""),
    "dayofmonth": _time_fn("dayofmonth", ""),
    "dayofyear": _time_fn("dayofyear", ""),
    "monthofyear": _time_fn("monthofyear", ""),
}
