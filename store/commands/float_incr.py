"""INCRBYFLOAT's and HINCRBYFLOAT's arithmetic: Redis's long doubles, Redis's text.

Redis parses both operands with ``strtold``, adds them as C ``long double`` (x87 80-bit
extended precision on x86-64) and stores the sum as ``%.17Lf`` with the trailing zeros
(and a trailing ``.``) removed (``ld2string(..., LD_STR_HUMAN)``). The stored text is the
state: the next increment parses it again. Doubles and ``repr`` give other bytes for
ordinary inputs (``0.1 + 0.2`` is ``0.30000000000000004`` in doubles, ``0.3`` in Redis;
``5e-07`` where Redis writes ``0.0000005``), so this module computes in
``numpy.longdouble``, which is the same 80-bit type on x86-64 and prints exact digits
(Dragon4) at a fixed precision, as glibc's ``printf`` does.

On a platform whose ``long double`` is a plain double (aarch64 macOS) the digits are the
double's: the same as Redis built there.

Hex-float operands (``0x1p3``, accepted by ``strtold``) are read through a double: one
with more than 53 significant bits loses its low bits (Redis keeps 64).
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from ..errors import CommandError
from ..numbers import parse_float64

__all__ = ["add_long_double", "format_long_double", "parse_long_double"]

_NOT_FINITE = "increment would produce NaN or Infinity"
_MANTISSA = re.compile(rb"[0-9.]*")


def parse_long_double(raw: bytes) -> np.longdouble | None:
    """``raw`` read as ``strtold`` reads it, or None where Redis's ``string2ld`` refuses it."""
    as_double = parse_float64(raw)
    if as_double is None:
        return None
    if raw[:1] in b"+-":
        body = raw[1:]
    else:
        body = raw
    if body[:2].lower() == b"0x":
        return np.longdouble(as_double)
    with np.errstate(over="ignore", under="ignore"), warnings.catch_warnings():
        # a decimal past the double range (1e400) is finite in a long double; past the long
        # double's, numpy warns (RuntimeWarning) and answers inf: refused just below
        warnings.simplefilter("ignore", RuntimeWarning)
        value = np.longdouble(raw.decode("ascii"))
    if np.isinf(value) and b"inf" not in body.lower():
        return None  # strtold's ERANGE overflow: string2ld refuses it
    mantissa = _MANTISSA.match(body)
    if value == 0 and mantissa is not None and mantissa.group().strip(b"0."):
        return None  # an underflow to zero (1e-5000): refused too
    return value


def format_long_double(value: np.longdouble) -> bytes:
    """``%.17Lf`` without trailing zeros, and ``-0`` written ``0`` (Redis's LD_STR_HUMAN)."""
    text = np.format_float_positional(value, precision=17, unique=False, fractional=True, trim="-")
    if text == "-0":
        text = "0"
    return text.encode("ascii")


def add_long_double(current: np.longdouble, increment: np.longdouble) -> bytes:
    """The stored text of ``current + increment``; refused when the sum is NaN or infinite."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = current + increment
    if not np.isfinite(total):
        raise CommandError(_NOT_FINITE)
    return format_long_double(total)
