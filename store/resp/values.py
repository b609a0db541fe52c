"""Reply values that plain Python types cannot express, and how every reply value maps to RESP.

Command handlers return ordinary Python values; :mod:`store.resp.writer` turns them into
RESP2 or RESP3 bytes by this table (RESP2 has fewer types, so some collapse)::

    Python value                 RESP3                       RESP2
    None                         _  null                     $-1  null bulk string
    NULL_ARRAY                   _  null                     *-1  null array
    bytes / bytearray / str      $  blob string              $  bulk string (str as UTF-8)
    SimpleString                 +  simple string            +  simple string
    ErrorReply, StoreError       -  simple error             -  simple error
    bool                         #t / #f                     :1 / :0
    int (signed 64-bit)          :  number                   :  integer
    BigNumber, int beyond 64-bit (  big number               $  bulk string of the digits
    float                        ,  double                   $  bulk string (format_double)
    Verbatim                     =  verbatim string          $  bulk string of the text
    list / tuple                 *  array                    *  array
    Push                         >  push                     *  array
    dict                         %  map                      *  flat array k1 v1 k2 v2 ...
    set / frozenset              ~  set                      *  array
    other numbers.Integral/Real  as int / float (numpy scalars, for instance)

Simple strings and error lines cannot carry CR or LF: the writer turns them into spaces,
as Redis does for formatted errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "NULL_ARRAY",
    "BigNumber",
    "ErrorReply",
    "NullArray",
    "Push",
    "SimpleString",
    "Verbatim",
    "format_double",
]


class SimpleString(str):
    """A status reply such as ``OK`` or ``PONG`` (``+OK``), not a binary-safe bulk string."""

    __slots__ = ()


class ErrorReply(str):
    """An error reply given as its whole line, prefix included: ``ERR unknown command 'x'``.

    Prefer raising a :class:`store.errors.StoreError`; this type is for replies built
    elsewhere (for example an error element inside an EXEC result that was already text).
    """

    __slots__ = ()


class BigNumber(int):
    """An integer sent as a RESP3 big number (``(``) even when it fits in 64 bits."""

    __slots__ = ()


class Push(list):
    """Out-of-band data (pub/sub messages, invalidations): RESP3 ``>``, a plain array in RESP2."""

    __slots__ = ()


class NullArray:
    """RESP2's null multi-bulk (``*-1``); RESP3 sends plain null. Use :data:`NULL_ARRAY`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NullArray)

    def __hash__(self) -> int:
        return hash(NullArray)


NULL_ARRAY = NullArray()


@dataclass(frozen=True, slots=True)
class Verbatim:
    """Text to show a human as is (RESP3 ``=``). ``format`` is three characters, ``txt`` or
    ``mkd``; a shorter one is padded with spaces and a longer one cut, as Redis does."""

    format: str
    text: str | bytes


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
