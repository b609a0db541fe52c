"""The APPLY / FILTER expression language: lexer and parser (RediSearch's ``src/aggregate/expr``).

``parse_expression(text)`` returns an AST of frozen dataclasses or raises
:class:`ExpressionSyntaxError` with RediSearch's message. The grammar is RediSearch 2.10's
lemon grammar, whose precedence levels are (lowest first, all left associative):
``&& ||`` (and prefix ``!``), ``== != < <= > >=``, ``+ -``, ``/ * % ^`` — so ``2*3^2`` is
``(2*3)^2`` and ``!a == b`` is ``!(a == b)``, as in RediSearch. The lexer is longest-match
like RediSearch's ragel scanner, so ``@x-1`` lexes as ``@x`` followed by the number ``-1``
and is a syntax error there too (write ``@x - 1``).

Syntax errors quote a token the way RediSearch's does: operators and parentheses carry
their own offset but the text of the last number/property/name/string read before them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .values import Value

__all__ = [
    "Call",
    "Expr",
    "ExpressionSyntaxError",
    "Literal",
    "Negation",
    "Operation",
    "Predicate",
    "Property",
    "parse_expression",
    "properties",
]


class ExpressionSyntaxError(Exception):
    """An expression RediSearch's parser refuses; ``str()`` is its message."""


@dataclass(frozen=True)
class Literal:
    value: Value


@dataclass(frozen=True)
class Property:
    name: bytes


@dataclass(frozen=True)
class Operation:
    """Arithmetic: ``op`` is one of ``+ - * / % ^``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Predicate:
    """Comparison or logic: ``op`` is one of ``== != < <= > >= && ||``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Negation:
    child: Expr


@dataclass(frozen=True)
class Call:
    name: str  # lower case
    args: tuple[Expr, ...]


Expr = Literal | Property | Operation | Predicate | Negation | Call

_LEVELS = {
    "&&": 1, "||": 1,
    "==": 2, "!=": 2, "<": 2, "<=": 2, ">": 2, ">=": 2,
    "+": 3, "-": 3,
    "/": 4, "*": 4, "%": 4, "^": 4,
}  # fmt: skip

_NUMBER = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[Ee]-?[0-9]+)?")
_INF = re.compile(rb"[+-]?inf")
_SYMBOL = re.compile(rb"[A-Za-z][A-Za-z0-9_]*")
_PUNCT = frozenset(b"!\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~")
_OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "(", ")", "+", "-", "/", "*", "%", "^",
              ",", "!", "<", ">")  # fmt: skip


@dataclass
class _Token:
    kind: str  # NUMBER PROPERTY SYMBOL STRING OP END
    pos: int
    text: bytes  # what syntax errors quote (stale for operators, as in RediSearch)
    value: object = None


def _tokens(src: bytes) -> list[_Token]:
    out: list[_Token] = []
    stale = b""
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if chr(c).isspace():
            i += 1
            continue
        # longest match among number / inf / symbol / operators, as ragel's scanner does
        candidates: list[tuple[int, str]] = []
        m = _NUMBER.match(src, i)
        if m:
            candidates.append((m.end(), "NUMBER"))
        m3 = _SYMBOL.match(src, i)
        if m3:
            candidates.append((m3.end(), "SYMBOL"))
        m2 = _INF.match(src, i)
        if m2:
            candidates.append((m2.end(), "INF"))
        for op in _OPERATORS:
            if src.startswith(op.encode(), i):
                candidates.append((i + len(op), "OP:" + op))
                break
        if c == ord("@"):
            j = i + 1
            while j < n:
                ch = src[j]
                if (
                    ch == ord("\\")
                    and j + 1 < n
                    and (src[j + 1] in _PUNCT or chr(src[j + 1]).isspace())
                ):
                    j += 2
                elif ch == ord("_") or not (ch in _PUNCT or ch < 33 or ch == 127):
                    j += 1
                else:
                    break
            if j > i + 1:
                stale = src[i + 1 : j].replace(b"\\", b"")
                out.append(_Token("PROPERTY", i, src[i + 1 : j], stale))
                i = j
                continue
        if c in (ord('"'), ord("'")):
            j = i + 1
            buf = bytearray()
            while j < n and src[j] != c and src[j] != ord("\n"):
                if src[j] == ord("\\") and j + 1 < n:
                    buf.append(src[j + 1])
                    j += 2
                    continue
                buf.append(src[j])
                j += 1
            if j < n and src[j] == c:
                stale = src[i + 1 : j]
                out.append(_Token("STRING", i, stale, bytes(buf)))
                i = j + 1
                continue
        if not candidates:
            raise ExpressionSyntaxError(
                f"Syntax error at offset {i} near '{stale.decode('utf-8', 'replace')}'"
            )
        end = max(e for e, _ in candidates)
        kind = next(k for e, k in candidates if e == end)  # ragel: earliest rule wins ties
        text = src[i:end]
        if kind == "NUMBER":
            stale = text
            out.append(_Token("NUMBER", i, text, float(text)))
        elif kind == "INF":
            stale = text
            out.append(
                _Token("NUMBER", i, text, float("-inf") if text[:1] == b"-" else float("inf"))
            )
        elif kind == "SYMBOL":
            stale = text
            out.append(_Token("SYMBOL", i, text, text))
        else:
            out.append(_Token(kind[3:], i, stale))
        i = end
    last = out[-1].pos if out else 0
    out.append(_Token("END", last, stale))
    return out


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Token | None = None) -> ExpressionSyntaxError:
        tok = tok or self.peek()
        return ExpressionSyntaxError(
            f"Syntax error at offset {tok.pos} near '{tok.text.decode('utf-8', 'replace')}'"
        )

    def expr(self, min_level: int = 1) -> Expr:
        left = self.primary()
        while True:
            tok = self.peek()
            level = _LEVELS.get(tok.kind)
            if level is None or level < min_level:
                return left
            self.take()
            right = self.expr(level + 1)
            if level <= 2:
                left = Predicate(tok.kind, left, right)
            else:
                left = Operation(tok.kind, left, right)

    def primary(self) -> Expr:
        tok = self.take()
        if tok.kind == "(":
            inner = self.expr()
            if self.peek().kind != ")":
                raise self.fail()
            self.take()
            return inner
        if tok.kind == "!":
            return Negation(self.expr(2))
        if tok.kind == "NUMBER":
            assert isinstance(tok.value, float)
            return Literal(tok.value)
        if tok.kind == "-" and self.peek().kind == "NUMBER":
            value = self.take().value
            assert isinstance(value, float)
            return Literal(-value)
        if tok.kind == "STRING":
            assert isinstance(tok.value, bytes)
            return Literal(tok.value)
        if tok.kind == "PROPERTY":
            assert isinstance(tok.value, bytes)
            return Property(tok.value)
        if tok.kind == "SYMBOL":
            name = tok.text
            if self.peek().kind == "(":
                from .functions import FUNCTIONS

                self.take()
                args: list[Expr] = []
                if self.peek().kind != ")":
                    args.append(self.expr())
                    while self.peek().kind == ",":
                        self.take()
                        args.append(self.expr())
                if self.peek().kind != ")":
                    raise self.fail()
                self.take()
                lowered = name.decode("utf-8", "replace").lower()
                if lowered not in FUNCTIONS:
                    raise ExpressionSyntaxError(
                        f"Unknown function name '{name.decode('utf-8', 'replace')}'"
                    )
                return Call(lowered, tuple(args))
            if name == b"NULL":
                return Literal(None)
            raise ExpressionSyntaxError(f"Unknown symbol '{name.decode('utf-8', 'replace')}'")
        raise self.fail(tok)


def parse_expression(text: bytes) -> Expr:
    """Parse one APPLY/FILTER expression; raises :class:`ExpressionSyntaxError`."""
    parser = _Parser(_tokens(text))
    if parser.peek().kind == "END":
        raise parser.fail()
    tree = parser.expr()
    if parser.peek().kind != "END":
        raise parser.fail()
    return tree


def properties(tree: Expr) -> list[bytes]:
    """Every ``@name`` the expression reads, in order of appearance."""
    if isinstance(tree, Property):
        return [tree.name]
    if isinstance(tree, Operation | Predicate):
        return properties(tree.left) + properties(tree.right)
    if isinstance(tree, Negation):
        return properties(tree.child)
    if isinstance(tree, Call):
        return [name for arg in tree.args for name in properties(arg)]
    return []
