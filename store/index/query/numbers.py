"""``$param`` values and FILTER bounds read as numbers, with RediSearch's error texts.

A parameter is parsed like C ``strtod`` over the whole value (hex, NaN and overflow
refused, ``inf``/``infinity`` accepted); a KNN ``$k`` must be a whole number. Anything else
raises :class:`~store.errors.QuerySyntaxError` ``Invalid numeric value (x) for parameter
`p``` or ``Bad lower|upper range: x``. A range bound written ``(3`` is exclusive.
"""

from __future__ import annotations

import math
import re

from ...errors import QuerySyntaxError
from ...numbers import parse_int64

__all__ = ["parse_numeric_param", "parse_range_bound"]

_STRICT_FLOAT = re.compile(rb"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)", re.I)


def _strtod(raw: bytes) -> float | None:
    """C ``strtod`` of the whole string (hex and NaN refused), or None."""
    if not _STRICT_FLOAT.fullmatch(raw):
        return None
    value = float(raw)
    if math.isinf(value) and b"inf" not in raw.lower():
        return None
    return value


def parse_numeric_param(raw: bytes, name: bytes, sign: int = 1) -> float:
    """A ``$param`` used as a number (``@f:[$v]``, ``@f > $v``)."""
    value = _strtod(raw)
    if value is None:
        raise QuerySyntaxError(
            f"Invalid numeric value ({raw.decode('utf-8', 'replace')}) for parameter "
            f"`{name.decode('utf-8', 'replace')}`"
        )
    return sign * value


def parse_range_bound(
    raw: bytes, *, is_min: bool, sign: int = 1, inclusive: bool = True
) -> tuple[float, bool]:
    """A range bound given as text (``$param`` or FILTER): ``"(3"`` is exclusive 3."""
    text = raw
    if text.startswith(b"("):
        inclusive = False
        text = text[1:]
    value = _strtod(text)
    if value is None:
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
        raise QuerySyntaxError(
            f"Invalid numeric value ({raw.decode('utf-8', 'replace')}) for parameter "
            f"`{name.decode('utf-8', 'replace')}`"
        )
    return value
