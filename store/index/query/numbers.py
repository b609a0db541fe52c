"""``$param`` values and FILTER bounds read as numbers, with RediSearch's error texts.

RediSearch reads them with C ``strtod`` (leading blanks, a sign, decimal or hex digits,
``inf``/``infinity``, ``nan``; :func:`c_strtod`) in two ways:

* ``ParseDouble`` (:func:`parse_numeric_param`: ``@f:[$v]``, ``@f > $v``, GEO and
  VECTOR_RANGE values): the whole value must be read, and an overflow to infinity or an
  underflow to zero is refused. An empty value is 0. Else ``Invalid numeric value (x) for
  parameter `p```.
* ``parseDoubleRange`` (:func:`parse_range_bound`: ``@f:[$lo $hi]`` and FILTER): a leading
  ``(`` makes the bound exclusive (FILTER only: for a parameter RediSearch parses it and
  drops it, the query's own ``(`` decides), ``-inf`` is only a lower bound and ``inf`` /
  ``+inf`` only an upper one (a ``-$p`` swaps them), any other infinity is refused, NaN is
  taken. Else ``Bad lower|upper range: x``.

A value holding a NUL byte is read up to it, as the C string it is in RediSearch.
"""

from __future__ import annotations

import math
import re

from ...errors import QuerySyntaxError
from ...numbers import parse_int64

__all__ = [
    "c_strtod",
    "parse_boolean",
    "parse_c_integer",
    "parse_double",
    "parse_numeric_param",
    "parse_range_bound",
]

_BLANKS = b" \t\n\v\f\r"
_DECIMAL = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?")
_SPECIAL = re.compile(rb"[+-]?(?:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)", re.IGNORECASE)


def c_strtod(raw: bytes) -> tuple[float, int, bool]:
    """C ``strtod`` of ``raw``: ``(value, bytes read, ERANGE)``; nothing read is
    ``(0.0, 0, False)`` (``endptr`` stays at the start)."""
    start = len(raw) - len(raw.lstrip(_BLANKS))
    for pattern in (_HEX, _DECIMAL, _SPECIAL):
        m = pattern.match(raw, start)
        if m is None:
            continue
        text = m.group()
        if pattern is _HEX:
            value = float.fromhex(text.decode())
        elif pattern is _SPECIAL:
            folded = text.lower()
            value = math.nan if b"nan" in folded else float(folded)
            return value, m.end(), False
        else:
            value = float(text)
        mantissa = text.lower().lstrip(b"+-")
        mantissa = mantissa.split(b"p")[0] if pattern is _HEX else mantissa.split(b"e")[0]
        digits = mantissa.removeprefix(b"0x")
        underflow = value == 0.0 and any(c not in b"0." for c in digits)
        return value, m.end(), math.isinf(value) or underflow or _subnormal(value)
    return 0.0, 0, False


def _subnormal(value: float) -> bool:
    return value != 0.0 and abs(value) < 2.2250738585072014e-308


def _c_string(raw: bytes) -> bytes:
    return raw.split(b"\0", 1)[0]


def _invalid(raw: bytes, name: bytes) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"Invalid numeric value ({raw.decode('utf-8', 'replace')}) for parameter "
        f"`{name.decode('utf-8', 'replace')}`"
    )


def parse_double(raw: bytes) -> float | None:
    """RediSearch's ``ParseDouble``: ``strtod`` of the whole value, no overflow to
    infinity or underflow to zero; None when refused."""
    text = _c_string(raw)
    value, end, erange = c_strtod(text)
    if end != len(text) or (erange and (math.isinf(value) or value == 0.0)):
        return None
    return value


_INTEGER = re.compile(rb"[ \t\n\v\f\r]*[+-]?\d+")


def parse_c_integer(raw: bytes) -> int | None:
    """RediSearch's ``ParseInteger``: ``strtoll`` base 10 of the whole value, in int64."""
    text = _c_string(raw)
    if not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def parse_boolean(raw: bytes) -> bool | None:
    """RediSearch's ``ParseBoolean``: ``true``/``1`` or ``false``/``0``, any case."""
    folded = _c_string(raw).lower()
    if folded in (b"true", b"1"):
        return True
    if folded in (b"false", b"0"):
        return False
    return None


def parse_numeric_param(raw: bytes, name: bytes, sign: int = 1) -> float:
    """A ``$param`` used as a number (``@f:[$v]``, ``@f > $v``): RediSearch's
    ``ParseDouble``."""
    value = parse_double(raw)
    if value is None:
        raise _invalid(_c_string(raw), name)
    return sign * value


def parse_range_bound(
    raw: bytes, *, is_min: bool, sign: int = 1, inclusive: bool = True
) -> tuple[float, bool]:
    """A range bound given as text: RediSearch's ``parseDoubleRange``; ``"(3"`` gives
    ``(3.0, False)`` (the caller decides whether that ``(`` counts)."""
    text = _c_string(raw)
    if text.startswith(b"("):
        inclusive = False
        text = text[1:]
    folded = text.lower()
    unsigned = folded[1:] if folded.startswith(b"+") else folded
    if is_min and ((sign == 1 and folded == b"-inf") or (sign == -1 and unsigned == b"inf")):
        return -math.inf, inclusive
    if not is_min and ((sign == 1 and unsigned == b"inf") or (sign == -1 and folded == b"-inf")):
        return math.inf, inclusive
    value, end, _ = c_strtod(text)
    if end != len(text) or math.isinf(value):
        side = "lower" if is_min else "upper"
        raise QuerySyntaxError(f"Bad {side} range: {text.decode('utf-8', 'replace')}")
    return sign * value, inclusive


def parse_size_param(raw: bytes, name: bytes) -> int:
    """A ``$param`` used as a count (KNN ``$k``): a whole number in ``[0, 2**63)``.

    Unlike option values, RediSearch takes ``2**63 - 1`` here (it reads the parameter as a
    number first), so the range test is inclusive.
    """
    digits = raw.strip().removeprefix(b"+")
    value = parse_int64(digits.lstrip(b"0") or b"0") if digits.isdigit() else None
    if value is None:
        raise _invalid(raw, name)
    return value
