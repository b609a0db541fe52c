"""The DIALECT 2 query lexer, and the token cursor the query and KNN parsers read from.

``lex(query)`` turns the raw query bytes into :class:`Tok` values; it never raises (a
stray byte is skipped, not rejected). Lexing follows RediSearch: punctuation that is not an
operator is skipped (so ``[1, 2]`` is ``[1 2]``), a backslash escapes punctuation and
spaces inside terms (``@tag:{sci\\-fi}``, see :func:`unescape`), and ``@f > 3``,
``@f == 3`` etc. lex as one ``NUMOP`` token whose operand is a number or a ``$param``.

:class:`TokenCursor` holds the token list, the position and the query ``params``; its
``take`` raises :class:`~store.errors.QuerySyntaxError` ``Syntax error at offset N near X``
(:func:`syntax`) when the next token is not of an expected kind, and ``param`` raises
``No such parameter `p``` for an unknown ``$p``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ...errors import QuerySyntaxError

__all__ = ["unescape"]

T = TypeVar("T")

LATE_EXPANSION = 2
LATE_ITERATORS = 3

_PUNCT = frozenset([*range(33, 48), *range(58, 65), *range(91, 97), *range(123, 127)])
_SPACE = frozenset(b" \t\n\v\f\r")
_NOT_TERM = (_PUNCT | _SPACE | frozenset([*range(32), 127])) - {ord("_")}
_BACKSLASH = ord("\\")
_NUMBER = re.compile(rb"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_INF = re.compile(rb"[+-]?inf", re.IGNORECASE)
_NUMOP = re.compile(
    rb"\s*(!=|==|>=|<=|>|<)\s*"
    rb"([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[+-]?inf|[+-]?\$)",
    re.IGNORECASE,
)
_SINGLE = {
    ord("|"): "OR", ord("("): "LP", ord(")"): "RP", ord("{"): "LB", ord("}"): "RB",
    ord("["): "LSQB", ord("]"): "RSQB", ord(":"): "COLON", ord(";"): "SEMICOLON",
    ord("-"): "MINUS", ord("~"): "TILDE", ord("%"): "PERCENT",
}  # fmt: skip
_SINGLE_KINDS = frozenset(_SINGLE.values())


@dataclass
class Tok:
    kind: str
    pos: int
    text: bytes
    value: float = 0.0
    is_size: bool = False
    op: bytes = b""
    operand: Tok | None = None
    sign: int = 1
    near: bytes | None = None
    """For punctuation: the text of the last value token before it (see :func:`lex`)."""

    def shown(self) -> str:
        return (self.text if self.near is None else self.near).decode("utf-8", "replace")


def unescape(raw: bytes) -> bytes:
    """Drop backslashes that escape punctuation or spaces (RediSearch's ``unescapen``)."""
    if b"\\" not in raw:
        return raw
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == _BACKSLASH and i + 1 < n and (raw[i + 1] in _PUNCT or raw[i + 1] in _SPACE):
            i += 1
            c = raw[i]
        out.append(c)
        i += 1
    return bytes(out)


def _scan_term(s: bytes, i: int) -> int:
    n = len(s)
    while i < n:
        c = s[i]
        if c not in _NOT_TERM:
            i += 1
        elif c == _BACKSLASH and i + 1 < n and (s[i + 1] in _PUNCT or s[i + 1] in _SPACE):
            i += 2
        else:
            break
    return i


def _number_tok(s: bytes, i: int) -> Tok | None:
    best: Tok | None = None
    m = _NUMBER.match(s, i)
    if m:
        text = m.group()
        best = Tok("NUMBER", i, text, float(text), text.isdigit())
    m = _INF.match(s, i)
    if m and (best is None or m.end() - i > len(best.text)):
        text = m.group()
        best = Tok("NUMBER", i, text, -math.inf if text.startswith(b"-") else math.inf)
    return best


def lex(s: bytes) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in _SPACE or c < 32 or c == 127:
            i += 1
        elif s.startswith(b"=>", i):
            # RediSearch's token text for an arrow starts at its ``>`` (shown in errors)
            toks.append(Tok("ARROW", i, s[i + 1 : i + 3]))
            i += 2
        elif c == ord("@") or c == ord("$"):
            j = _scan_term(s, i + 1)
            if j == i + 1:
                i += 1
                continue
            name = s[i + 1 : j]
            if c == ord("$"):
                if j < n and s[j] == ord("*"):  # ``$p*``: a prefix whose text is a parameter
                    toks.append(Tok("PREFIX", i, s[i:j]))
                    i = j + 1
                    continue
                toks.append(Tok("ATTR", i, name))
                i = j
                continue
            m = _NUMOP.match(s, j)
            if m:
                operand, end = _numop_operand(s, m)
                if operand is not None:
                    toks.append(Tok("NUMOP", i, unescape(name), op=m.group(1), operand=operand))
                    i = end
                    continue
            toks.append(Tok("MODIFIER", i, unescape(name)))
            i = j
        elif c == ord('"'):
            j = i + 1
            while j < n and s[j] != ord('"'):
                j += 2 if s[j] == _BACKSLASH and j + 1 < n and s[j + 1] == ord('"') else 1
            if j == i + 1:
                toks.append(Tok("TERM", i, b""))
                i += 2
            elif j < n:
                toks.append(Tok("EXACT", i, s[i + 1 : j]))
                i = j + 1
            else:
                toks.append(Tok("QUOTE", i, b'"'))
                i += 1
        elif c == ord("'") and s.startswith(b"''", i):
            toks.append(Tok("TERM", i, b""))
            i += 2
        elif c == ord("w") and s.startswith(b"w'", i) and s.find(b"'", i + 2) > i + 2:
            j = s.find(b"'", i + 2)
            toks.append(Tok("WILDCARD", i, s[i : j + 1]))
            i = j + 1
        elif c == ord("*"):
            # ``*$p*`` / ``*$p``: a pattern whose text is a parameter
            param = i + 1 < n and s[i + 1] == ord("$")
            j = _scan_term(s, i + 2 if param else i + 1)
            if j > i + 1 + param:
                kind = "CONTAINS" if j < n and s[j] == ord("*") else "SUFFIX"
                end = j + 1 if kind == "CONTAINS" else j
                toks.append(Tok(kind, i, s[i:end]))
                i = end
            else:
                toks.append(Tok("STAR", i, b"*"))
                i += 1
        else:
            num = _number_tok(s, i) if c in b"+-0123456789iI" else None
            j = _scan_term(s, i)
            if j > i and j < n and s[j] == ord("*") and (num is None or j >= i + len(num.text)):
                toks.append(Tok("PREFIX", i, s[i:j]))
                i = j + 1
            elif num is not None and len(num.text) >= j - i:
                toks.append(num)
                i += len(num.text)
            elif j > i:
                toks.append(Tok("TERM", i, s[i:j]))
                i = j
            elif c in _SINGLE:
                toks.append(Tok(_SINGLE[c], i, bytes([c])))
                i += 1
            else:
                i += 1
    # RediSearch's lexer sets a token's text only for value tokens, so a syntax error at
    # punctuation names the last value token before it ("@t:{a} ]" is "near a")
    last: bytes | None = None
    for tok in toks:
        if tok.kind in _SINGLE_KINDS:
            tok.near = last
        else:
            last = tok.text
    return toks


def _numop_operand(s: bytes, m: re.Match[bytes]) -> tuple[Tok | None, int]:
    text = m.group(2)
    start = m.start(2)
    if text.endswith(b"$"):
        j = _scan_term(s, m.end(2))
        if j == m.end(2):
            return None, 0
        sign = -1 if text.startswith(b"-") else 1
        return Tok("ATTR", m.end(2) - 1, s[m.end(2) : j], sign=sign), j
    tok = _number_tok(s, start)
    return tok, m.end(2)


def syntax(tok: Tok, prefix: str = "Syntax error") -> QuerySyntaxError:
    return QuerySyntaxError(f"{prefix} at offset {tok.pos} near {tok.shown()}")


class TokenCursor:
    """A position in a token list, with the ``$param`` values to substitute.

    RediSearch resolves a query's parameters once the whole query has parsed, walking its
    tree: a syntax error anywhere wins over a missing or bad parameter, and the KNN node
    (the tree's root) resolves its parameters before the filter's. :meth:`resolve` keeps
    that order: a parameter's error is recorded with its :attr:`param_rank` (0 inside the
    KNN clause, 1 elsewhere) and :meth:`raise_param_errors` raises the first once parsing is
    done. Query attributes (``=>{$weight: $w}``) read their parameters while parsing, as
    RediSearch does, through :meth:`param` directly.
    """

    def __init__(self, toks: list[Tok], params: Mapping[bytes, bytes]) -> None:
        self.toks = toks
        self.i = 0
        self.params = params
        self.param_rank = 1
        self.param_errors: list[tuple[int, int, QuerySyntaxError]] = []

    def resolve(self, compute: Callable[[], T], fallback: T, *, late: int = 0) -> T:
        """``compute()`` (which reads parameters); on its error, ``fallback`` and the error
        recorded for :meth:`raise_param_errors`. ``late`` (one of the ``LATE_*`` ranks)
        marks a check RediSearch makes after every parameter is resolved, in the order of
        its phases: phonetics on a field without them (query expansion), then, as the
        iterators are built in query order, a GEO filter's unit, centre and radius or a
        negative VECTOR_RANGE radius."""
        try:
            return compute()
        except QuerySyntaxError as exc:
            rank = late or self.param_rank
            self.param_errors.append((rank, len(self.param_errors), exc))
            return fallback

    def raise_param_errors(self) -> None:
        if self.param_errors:
            raise min(self.param_errors, key=lambda e: (e[0], e[1]))[2]

    def param_num(self) -> tuple[Tok, int]:
        """RediSearch's ``param_num``: a number after any count of ``-``, or a ``$param``
        after at most one; the token and the sign the minus signs give it."""
        sign = 1
        minuses = 0
        while self.kind() == "MINUS":
            self.i += 1
            sign = -sign
            minuses += 1
        tok = self.take("NUMBER", "ATTR")
        if tok.kind == "ATTR" and minuses > 1:
            raise syntax(tok)
        return tok, sign

    def peek(self, ahead: int = 0) -> Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def kind(self, ahead: int = 0) -> str:
        tok = self.peek(ahead)
        return tok.kind if tok is not None else "EOF"

    def here(self) -> Tok:
        tok = self.peek()
        return tok if tok is not None else self.toks[-1]

    def take(self, *kinds: str) -> Tok:
        tok = self.peek()
        if tok is None or (kinds and tok.kind not in kinds):
            raise syntax(self.here())
        self.i += 1
        return tok

    def param(self, name: bytes) -> bytes:
        value = self.params.get(name)
        if value is None:
            raise QuerySyntaxError(f"No such parameter `{name.decode('utf-8', 'replace')}`")
        return value

    def attributes(self) -> list[tuple[bytes, bytes]]:
        self.take("LB")
        out: list[tuple[bytes, bytes]] = []
        while self.kind() != "RB":
            if self.kind() == "SEMICOLON":
                self.i += 1
                continue
            name = self.take("ATTR").text
            self.take("COLON")
            value_tok = self.take("TERM", "NUMBER", "ATTR")
            if value_tok.kind == "ATTR":
                value = self.param(value_tok.text)
            else:
                value = unescape(value_tok.text)
            out.append((name, value))
        self.take("RB")
        return out
