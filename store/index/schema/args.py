"""Walking the arguments of ``FT.CREATE``: a cursor and typed takes with RediSearch's errors.

:func:`as_bytes` normalises one argument (RESP sends ``bytes``; embedded callers may pass
``str`` or numbers). :class:`Cursor` walks the list, matching keywords case-insensitively;
``take_int``/``take_string``/``take_list`` consume one typed value and raise
:class:`~store.errors.QuerySyntaxError` ``Bad arguments for <what>: <why>`` with
RediSearch's ``why`` texts (missing, not a number, out of bounds).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import QuerySyntaxError
from ...numbers import parse_int64

__all__ = ["as_bytes"]

AC_PARSE = "Could not convert argument to expected type"
AC_NOARG = "Expected an argument, but none provided"
AC_LIMIT = "Value is outside acceptable bounds"
AC_ENOENT = "Unknown argument"


def as_bytes(value: bytes | str | int | float) -> bytes:
    """An argument as bytes: RESP sends bytes; embedded callers may pass str or numbers."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")


def as_text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


class Cursor:
    """Walks an argument list; keyword matching is case-insensitive."""

    def __init__(self, args: Sequence[bytes]) -> None:
        self.args = args
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.args)

    def peek(self) -> bytes | None:
        return None if self.at_end() else self.args[self.pos]

    def take(self) -> bytes | None:
        value = self.peek()
        if value is not None:
            self.pos += 1
        return value

    def match(self, *keywords: bytes) -> bytes | None:
        value = self.peek()
        if value is not None and value.upper() in keywords:
            self.pos += 1
            return value.upper()
        return None


def bad(what: str, why: str) -> QuerySyntaxError:
    return QuerySyntaxError(f"Bad arguments for {what}: {why}")


def take_int(cur: Cursor, what: str, lo: int, hi: int | None = None) -> int:
    raw = cur.take()
    if raw is None:
        raise bad(what, AC_NOARG)
    # RediSearch reads a long long: beyond 64 bits it cannot convert, inside it checks bounds
    value = parse_int64(raw, strict=False)
    if value is None:
        raise bad(what, AC_PARSE)
    if value < lo or (hi is not None and value > hi):
        raise bad(what, AC_LIMIT)
    return value


def take_string(cur: Cursor, what: str) -> bytes:
    raw = cur.take()
    if raw is None:
        raise bad(what, AC_NOARG)
    return raw


def take_list(cur: Cursor, what: str) -> tuple[bytes, ...]:
    count = take_int(cur, what, 0)
    if len(cur.args) - cur.pos < count:
        raise bad(what, AC_NOARG)
    items = tuple(cur.args[cur.pos : cur.pos + count])
    cur.pos += count
    return items
