"""Values as FT.AGGREGATE rows hold them, and RediSearch's rules for them.

A value is ``None`` (null), a ``float`` (number), ``bytes`` (string) or a ``list`` of values
(``split``, ``TOLIST``). Numbers are sent as strings the way RediSearch's
``RSValue_NumToString`` prints them: whole numbers as integers, others with ``%.12g``.
Comparison and truthiness follow ``RSValue_Cmp``/``RSValue_Equal``/``RSValue_BoolTest``.
"""

from __future__ import annotations

import math
from typing import Union

__all__ = [
    "ConversionError",
    "Value",
    "bool_test",
    "compare",
    "equal",
    "format_number",
    "to_bytes",
    "to_number",
    "type_code",
]

Value = Union[None, float, bytes, list]  # noqa: UP007 - a runtime alias

_INT64 = 2.0**63


class ConversionError(Exception):
    """A string that had to be a number was not (RediSearch's conversion error text)."""


def format_number(d: float) -> bytes:
    """``RSValue_NumToString``: ``%lld`` when the double is a whole 64-bit number, else %.12g."""
    if math.isfinite(d) and d == int(d) and -_INT64 <= d < _INT64:
        return b"%d" % int(d)
    if math.isnan(d):
        return b"nan" if math.copysign(1.0, d) > 0 else b"-nan"
    return b"%.12g" % d


def to_bytes(value: Value) -> bytes | None:
    """The string form of a scalar (``to_str``, ``format``'s ``%s``); None for null/arrays."""
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, bytes):
        return value
    return None


def to_number(value: Value) -> float | None:
    """``RSValue_ToNumber``: numbers as is, strings parsed whole (strtod), else None."""
    if isinstance(value, float):
        return value
    if isinstance(value, bytes):
        text = value.strip(b" \t\n\r\f\v") if value[:1].isspace() else value
        if not text or text[-1:].isspace():
            return None
        try:
            return float(text)
        except ValueError:
            return None
    return None


def bool_test(value: Value) -> bool:
    if value is None:
        return False
    if isinstance(value, float):
        return value != 0
    return len(value) > 0


def type_code(value: Value) -> int:
    """RediSearch's ``RSValueType`` number, quoted in function argument errors."""
    if value is None:
        return 4
    if isinstance(value, float):
        return 1
    if isinstance(value, bytes):
        return 3
    return 6


def _cmp(a: float | bytes, b: float | bytes) -> int:
    return (a > b) - (a < b)  # type: ignore[operator]


def _as_number_or_raise(value: bytes) -> float:
    number = to_number(value)
    if number is None:
        raise ConversionError(
            f"Error converting string '{value.decode('utf-8', 'replace')}' to number"
        )
    return number


def compare(a: Value, b: Value, strict: bool = True) -> int:
    """``RSValue_Cmp``: same types natively; a number against a string converts the string
    (``strict``: an unconvertible string raises :class:`ConversionError`, else the two are
    compared as strings); null sorts first."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return 0 if math.isnan(a) and math.isnan(b) else (-1 if math.isnan(a) else 1)
        return _cmp(a, b)
    if isinstance(a, bytes) and isinstance(b, bytes):
        return _cmp(a, b)
    if a is None or b is None:
        return 0 if a is b else (-1 if a is None else 1)
    if isinstance(a, list) or isinstance(b, list):
        return _cmp(to_bytes(a) or b"", to_bytes(b) or b"")
    if isinstance(a, float):
        assert isinstance(b, bytes)
        if strict:
            return _cmp(a, _as_number_or_raise(b))
        nb = to_number(b)
        return _cmp(a, nb) if nb is not None else _cmp(format_number(a), b)
    assert isinstance(a, bytes) and isinstance(b, float)
    return -compare(b, a, strict)


def equal(a: Value, b: Value) -> bool:
    """``RSValue_Equal``: like :func:`compare` but an unconvertible string is just unequal."""
    if type(a) is type(b):
        return compare(a, b, strict=False) == 0
    if a is None or b is None:
        return False
    if isinstance(a, float) or isinstance(b, float):
        na, nb = to_number(a), to_number(b)
        return na is not None and nb is not None and na == nb
    return to_bytes(a) == to_bytes(b)
