"""Reading integer arguments: the one parser every command's numeric arguments go through.

Redis and RediSearch both store numeric arguments in a C ``long long``; a value outside
``[-2**63, 2**63)`` is refused, never passed on. :func:`parse_int64` is that parse and
returns ``None`` when the text is not an integer or does not fit, so each caller raises
the error text its peer uses (Redis: ``value is not an integer or out of range``;
RediSearch: ``Bad arguments for <what>: Could not convert argument to expected type``).

Two grammars:

* ``strict`` (Redis ``string2ll``): an optional ``-``, digits, no leading zeros, no
  whitespace, no ``+``: exactly the text ``str(n)`` would print.
* lenient (RediSearch ``strtoll``): surrounding whitespace and a leading ``+`` or ``-``
  are accepted; hex, underscores, fractions and exponents are not. ``strtoll`` answers
  ``LLONG_MAX``/``LLONG_MIN`` on overflow, so RediSearch refuses those two values as
  unconvertible: so does this parse.

:func:`parse_float64` reads a Redis float argument (``string2ld``: C ``strtold`` over the
whole text, so hex floats and ``inf`` are accepted, whitespace, underscores and NaN are
not). memvec computes in doubles where Redis uses long doubles: a value such as ``1e400``
is infinite here.

:func:`format_double` is the other direction: how Redis 7.2+ spells a double (RESP3 ``,``
frames, RESP2 bulk strings, ZSCAN scores, DUMP payloads).

This module imports nothing from the store, so every layer may use it.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "fits_int32",
    "format_double",
    "parse_float64",
    "parse_int64",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

_LENIENT = re.compile(rb"\s*[+-]?\d+\s*")
_DECIMAL = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)", re.I)
_HEX = re.compile(rb"[+-]?0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?\d+)?", re.I)
# Redis refuses float arguments this long (MAX_LONG_DOUBLE_CHARS)
_MAX_FLOAT_CHARS = 5 * 1024
# 2**63 has 19 digits: anything longer cannot fit, and int() of it is never attempted, so a
# million-digit argument costs no quadratic conversion.
_MAX_DIGITS = 20


def parse_int64(raw: bytes, *, strict: bool = True) -> int | None:
    """``raw`` as a signed 64-bit integer, or None if it is not one or does not fit."""
    text = raw.strip() if not strict else raw
    if len(text.lstrip(b"+-").lstrip(b"0")) > _MAX_DIGITS:
        return None
    if strict:
        if not text or not (text[1:] if text[:1] == b"-" else text).isdigit():
            return None
        value = int(text)
        if text != b"%d" % value:
            return None
    else:
        if not _LENIENT.fullmatch(raw):
            return None
        value = int(text)
    if strict:
        return value if INT64_MIN <= value <= INT64_MAX else None
    return value if INT64_MIN < value < INT64_MAX else None


def fits_int32(value: int) -> bool:
    return INT32_MIN <= value <= INT32_MAX


def parse_float64(raw: bytes) -> float | None:
    """``raw`` as a Redis float argument, or None (not a number, NaN, or too long)."""
    if len(raw) >= _MAX_FLOAT_CHARS:
        return None
    if _DECIMAL.fullmatch(raw):
        return float(raw)
    if _HEX.fullmatch(raw):
        try:
            return float.fromhex(raw.decode("ascii"))
        except OverflowError:
            return None
    return None


_LLONG_HALF = float(((1 << 63) - 1) // 2)


def format_double(value: float) -> bytes:
    """``value`` spelled as Redis 7.2+ spells doubles on the wire (``d2string``).

    ``nan``, ``inf``, ``-inf``, ``0``, ``-0``; integral values up to 2**62 in magnitude as
    plain integers (``3``, not ``3.0``); everything else as the shortest digits that read
    back to the same double, in plain form when the exponent is small (``0.1``,
    ``123.5``, ``0.000001``) and otherwise as ``<d>[.<digits>]e<sign><exp>`` with no
    exponent padding (``1e-7``, ``1.5e+22``). Redis's Grisu2 picks other final digits
    for about 0.15% of random doubles (88 of 60,019 against Valkey 9.1); both forms
    parse back to the identical double.
    """
    if value != value:
        return b"nan"
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if value == 0:
        return b"-0" if math.copysign(1.0, value) < 0 else b"0"
    if -_LLONG_HALF <= value <= _LLONG_HALF and value.is_integer():
        return b"%d" % int(value)
    neg = value < 0
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = (int_part + frac).lstrip("0")
    k = (int(exp_text) if exp_text else 0) - len(frac)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    nd = len(digits)
    exp = abs(k + nd - 1)
    if k >= 0 and exp < nd + 7:
        text = digits + "0" * k
    elif k < 0 and (k > -7 or exp < 4):
        offset = nd + k
        if offset <= 0:
            text = "0." + "0" * -offset + digits
        else:
            text = digits[:offset] + "." + digits[offset:]
    else:
        head = digits[0] + ("." + digits[1:] if nd > 1 else "")
        text = f"{head}e{'-' if k + nd - 1 < 0 else '+'}{exp}"
    return (("-" if neg else "") + text).encode("ascii")
