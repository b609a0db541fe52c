"""The reply vocabulary: what command handlers return, and how each value maps to RESP.

Command handlers return ordinary Python values plus the few types below, which plain
Python cannot express. They belong to no codec: the engine and the handlers speak this
vocabulary, and :mod:`store.resp.writer` turns it into RESP2 or RESP3 bytes by this table
(RESP2 has fewer types, so some collapse)::

    Python value                 RESP3                       RESP2
    None                         _  null                     $-1  null bulk string
    NULL_ARRAY                   _  null                     *-1  null array
    bytes / bytearray / str      $  blob string              $  bulk string (str as UTF-8)
    SimpleString                 +  simple string            +  simple string
    ErrorReply, StoreError       -  simple error             -  simple error
    bool                         #t / #f                     :1 / :0
    int (signed 64-bit)          :  number                   :  integer
    BigNumber, int beyond 64-bit (  big number               $  bulk string of the digits
    float                        ,  double                   $  bulk string (numbers.format_double)
    Verbatim                     =  verbatim string          $  bulk string of the text
    list / tuple                 *  array                    *  array
    Push                         >  push                     *  array
    dict                         %  map                      *  flat array k1 v1 k2 v2 ...
    set / frozenset, OrderedSet  ~  set                      *  array
    other numbers.Integral/Real  as int / float (numpy scalars, for instance)

Simple strings and error lines cannot carry CR or LF: the writer turns them into spaces,
as Redis does for formatted errors.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "NULL_ARRAY",
    "BigNumber",
    "DoubleText",
    "Encoded",
    "ErrorReply",
    "NullArray",
    "OrderedSet",
    "Push",
    "SimpleString",
    "Verbatim",
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


class DoubleText(bytes):
    """A double spelled exactly as given: RESP3 ``,text``, a bulk string in RESP2. For
    replies whose digits the peer fixes itself (GEOPOS's ``%.17Lf`` coordinates), where a
    ``float`` would be written in its shortest spelling."""

    __slots__ = ()


class Encoded(bytes):
    """A whole reply already in RESP bytes, written as it is (made for the client's
    protocol: ``store.commands.plan_bytes``'s pages). Only as a command's reply,
    never inside another."""

    __slots__ = ()


class Push(list):
    """Out-of-band data (pub/sub messages, invalidations): RESP3 ``>``, a plain array in RESP2."""

    __slots__ = ()


class OrderedSet(list):
    """A RESP3 set (``~``) sent in this order (a plain array in RESP2): for replies whose
    peer answers a set in a fixed order, such as COMMAND INFO's flags. A Python ``set``
    also sends ``~`` but in hash order."""

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
