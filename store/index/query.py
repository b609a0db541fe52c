"""FT.SEARCH query strings (RediSearch DIALECT 2) parsed into a filter tree and a KNN clause.

``parse_query(query, params)`` returns a :class:`ParsedQuery`: ``filter`` is a tree of
:data:`FilterNode` values with every ``$param`` substituted, and ``knn`` the
``=>[KNN ...]`` clause or ``None``. The tree is schema-agnostic: a filter naming a field the
index lacks, or a field of another type, simply matches nothing when evaluated (RediSearch
2.10 does the same). :class:`store.index.fields.FieldIndexes` evaluates it.

Grammar (RediSearch ``src/query_parser/v2``; ``|`` binds looser than juxtaposition, which
binds looser than ``-`` and ``~``)::

    query     := '' | union ['=>' knn ['=>' attrs]] | '*' ['=>' knn ['=>' attrs]]
    union     := intersect ('|' intersect)*
    intersect := unary unary*
    unary     := '-' unary | '~' unary | atom ['=>' attrs]
    atom      := '(' union ')' | '*' | '@f:' rhs | '@f|g:' text | '@f' op num | text
    rhs       := '{' tag ('|' tag)* '}' | '[' bound [bound] ']' | text-unary
    tag       := word+ | word'*'                      (words joined by one space)
    bound     := ['('] ['-'] (number | 'inf' | $param)  (a lone bound means "equal to")
    text      := term | term'*' | "exact phrase" | $param
    knn       := '[' 'KNN' (k | $k) '@field' $blob (ATTR value)* ['AS' alias] ']'
    attrs     := '{' $name ':' value (';' $name ':' value)* '}'

Lexing follows RediSearch: punctuation that is not an operator is skipped (so
``[1, 2]`` is ``[1 2]``), a backslash escapes punctuation and spaces inside terms
(``@tag:{sci\\-fi}``), ``@f > 3``, ``@f == 3`` etc. are numeric comparisons, text terms are
case folded and stop words are dropped (a query of stop words only matches nothing).
Rejected with a message that says so: ``VECTOR_RANGE``, suffix/contains/fuzzy/wildcard
matching, ``ismissing()``.

Errors are :class:`~store.errors.QuerySyntaxError` with RediSearch's texts: ``Syntax error
at offset N near X``, ``No such parameter `p```, ``Bad lower range: x``, ``Invalid
numeric value (x) for parameter `k```, ``Error parsing vector similarity parameters: ...``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import QuerySyntaxError
from .schema import DEFAULT_STOPWORDS, as_bytes, fold_text, tokenize_text

__all__ = [
    "And",
    "FilterNode",
    "KnnClause",
    "MatchAll",
    "MatchNone",
    "Not",
    "NumericFilter",
    "Or",
    "ParsedQuery",
    "TagFilter",
    "TextFilter",
    "make_and",
    "make_not",
    "make_or",
    "parse_numeric_param",
    "parse_query",
    "parse_range_bound",
    "unescape",
]


@dataclass(frozen=True)
class MatchAll:
    """Every document of the index (``*``)."""


@dataclass(frozen=True)
class MatchNone:
    """No document (an empty query, or one made of stop words only)."""


@dataclass(frozen=True)
class TagFilter:
    """``@field:{a|b|pre*}``: any value equal to one of ``values`` or starting with a prefix.

    Values are unescaped but not case folded: folding depends on the field's CASESENSITIVE.
    """

    field: bytes
    values: frozenset[bytes]
    prefixes: frozenset[bytes] = frozenset()


@dataclass(frozen=True)
class NumericFilter:
    """``@field:[lo hi]``; bounds may be infinite; ``lo > hi`` matches nothing."""

    field: bytes
    lo: float
    hi: float
    lo_inclusive: bool = True
    hi_inclusive: bool = True

    def contains(self, value: float) -> bool:
        above = value >= self.lo if self.lo_inclusive else value > self.lo
        below = value <= self.hi if self.hi_inclusive else value < self.hi
        return above and below


@dataclass(frozen=True)
class TextFilter:
    """A TEXT match: one term, a term prefix (``prefix``), or an exact phrase (2+ terms).

    ``fields`` are the TEXT fields searched (``@a|b:``); ``None`` means every TEXT field (a
    term without ``@field:``). Terms are case folded with
    :func:`store.index.schema.fold_text`. As in RediSearch, token positions run on across a
    document's TEXT fields in schema order, so a phrase over several fields can span the
    end of one field and the start of the next.
    """

    fields: tuple[bytes, ...] | None
    terms: tuple[bytes, ...]
    prefix: bool = False


@dataclass(frozen=True)
class And:
    children: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Not:
    """Every document of the index that ``child`` does not match."""

    child: FilterNode


FilterNode = MatchAll | MatchNone | TagFilter | NumericFilter | TextFilter | And | Or | Not


@dataclass(frozen=True)
class KnnClause:
    """``=>[KNN k @field $blob ...]`` with parameters substituted.

    ``vector`` is the raw query blob (the caller checks its size against the field's DIM);
    ``score_alias`` names the distance in results (``__<field>_score`` unless ``AS``).
    ``hybrid_policy`` is ``b"ADHOC_BF"``, ``b"BATCHES"`` or ``None``.
    """

    k: int
    field: bytes
    vector: bytes
    ef_runtime: int | None = None
    score_alias: bytes = b""
    hybrid_policy: bytes | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class ParsedQuery:
    filter: FilterNode
    knn: KnnClause | None = None


def make_and(children: Iterable[FilterNode]) -> FilterNode:
    """An intersection, flattened: MatchAll children vanish, one MatchNone empties it."""
    flat: list[FilterNode] = []
    for child in children:
        if isinstance(child, MatchNone):
            return child
        if isinstance(child, And):
            flat.extend(child.children)
        elif not isinstance(child, MatchAll):
            flat.append(child)
    if not flat:
        return MatchAll()
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def make_or(children: Iterable[FilterNode]) -> FilterNode:
    """A union, flattened: MatchNone children vanish, one MatchAll fills it."""
    flat: list[FilterNode] = []
    for child in children:
        if isinstance(child, MatchAll):
            return child
        if isinstance(child, Or):
            flat.extend(child.children)
        elif not isinstance(child, MatchNone):
            flat.append(child)
    if not flat:
        return MatchNone()
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def make_not(child: FilterNode) -> FilterNode:
    if isinstance(child, MatchAll):
        return MatchNone()
    if isinstance(child, MatchNone):
        return MatchAll()
    if isinstance(child, Not):
        return child.child
    return Not(child)


# -- lexer ---------------------------------------------------------------------------------

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
_MAX_DEPTH = 200


@dataclass
class _Tok:
    kind: str
    pos: int
    text: bytes
    value: float = 0.0
    is_size: bool = False
    op: bytes = b""
    operand: _Tok | None = None
    sign: int = 1

    def shown(self) -> str:
        return self.text.decode("utf-8", "replace")


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


def _number_tok(s: bytes, i: int) -> _Tok | None:
    best: _Tok | None = None
    m = _NUMBER.match(s, i)
    if m:
        text = m.group()
        best = _Tok("NUMBER", i, text, float(text), text.isdigit())
    m = _INF.match(s, i)
    if m and (best is None or m.end() - i > len(best.text)):
        text = m.group()
        best = _Tok("NUMBER", i, text, -math.inf if text.startswith(b"-") else math.inf)
    return best


def _lex(s: bytes) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in _SPACE or c < 32 or c == 127:
            i += 1
        elif s.startswith(b"=>", i):
            toks.append(_Tok("ARROW", i, b"=>"))
            i += 2
        elif c == ord("@") or c == ord("$"):
            j = _scan_term(s, i + 1)
            if j == i + 1:
                i += 1
                continue
            name = s[i + 1 : j]
            if c == ord("$"):
                toks.append(_Tok("ATTR", i, name))
                i = j
                continue
            m = _NUMOP.match(s, j)
            if m:
                operand, end = _numop_operand(s, m)
                if operand is not None:
                    toks.append(_Tok("NUMOP", i, unescape(name), op=m.group(1), operand=operand))
                    i = end
                    continue
            toks.append(_Tok("MODIFIER", i, unescape(name)))
            i = j
        elif c == ord('"'):
            j = i + 1
            while j < n and s[j] != ord('"'):
                j += 2 if s[j] == _BACKSLASH and j + 1 < n and s[j + 1] == ord('"') else 1
            if j == i + 1:
                toks.append(_Tok("TERM", i, b""))
                i += 2
            elif j < n:
                toks.append(_Tok("EXACT", i, s[i + 1 : j]))
                i = j + 1
            else:
                toks.append(_Tok("QUOTE", i, b'"'))
                i += 1
        elif c == ord("'") and s.startswith(b"''", i):
            toks.append(_Tok("TERM", i, b""))
            i += 2
        elif c == ord("w") and s.startswith(b"w'", i) and s.find(b"'", i + 2) > i + 2:
            j = s.find(b"'", i + 2)
            toks.append(_Tok("WILDCARD", i, s[i : j + 1]))
            i = j + 1
        elif c == ord("*"):
            j = _scan_term(s, i + 1)
            if j > i + 1:
                kind = "CONTAINS" if j < n and s[j] == ord("*") else "SUFFIX"
                end = j + 1 if kind == "CONTAINS" else j
                toks.append(_Tok(kind, i, s[i:end]))
                i = end
            else:
                toks.append(_Tok("STAR", i, b"*"))
                i += 1
        else:
            num = _number_tok(s, i) if c in b"+-0123456789iI" else None
            j = _scan_term(s, i)
            if j > i and j < n and s[j] == ord("*") and (num is None or j >= i + len(num.text)):
                toks.append(_Tok("PREFIX", i, s[i:j]))
                i = j + 1
            elif num is not None and len(num.text) >= j - i:
                toks.append(num)
                i += len(num.text)
            elif j > i:
                toks.append(_Tok("TERM", i, s[i:j]))
                i = j
            elif c in _SINGLE:
                toks.append(_Tok(_SINGLE[c], i, bytes([c])))
                i += 1
            else:
                i += 1
    return toks


def _numop_operand(s: bytes, m: re.Match[bytes]) -> tuple[_Tok | None, int]:
    text = m.group(2)
    start = m.start(2)
    if text.endswith(b"$"):
        j = _scan_term(s, m.end(2))
        if j == m.end(2):
            return None, 0
        sign = -1 if text.startswith(b"-") else 1
        return _Tok("ATTR", m.end(2) - 1, s[m.end(2) : j], sign=sign), j
    tok = _number_tok(s, start)
    return tok, m.end(2)


# -- parser --------------------------------------------------------------------------------


def _syntax(tok: _Tok, prefix: str = "Syntax error") -> QuerySyntaxError:
    return QuerySyntaxError(f"{prefix} at offset {tok.pos} near {tok.shown()}")


def _vector_error(message: str) -> QuerySyntaxError:
    return QuerySyntaxError(f"Error parsing vector similarity parameters: {message}")


def _unsupported(tok: _Tok, what: str) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"{what} is not supported by memvec (at offset {tok.pos} near {tok.shown()}): "
        "use exact terms, term prefixes (term*) or TAG/NUMERIC filters"
    )


_EXPR_ATTRIBUTES = {b"weight", b"slop", b"inorder", b"phonetic"}
_KNN_ATTRIBUTES = {b"yield_distance_as", b"ef_runtime", b"epsilon", b"hybrid_policy",
                   b"batch_size"}  # fmt: skip
_ATOM_STARTS = {"LP", "STAR", "MODIFIER", "NUMOP", "TERM", "NUMBER", "ATTR", "EXACT", "PREFIX",
                "SUFFIX", "CONTAINS", "WILDCARD", "PERCENT", "MINUS", "TILDE", "QUOTE"}  # fmt: skip


class _Parser:
    def __init__(
        self,
        toks: list[_Tok],
        params: Mapping[bytes, bytes],
        stopwords: frozenset[bytes],
        text_fields: tuple[bytes, ...] | None,
    ) -> None:
        self.toks = toks
        self.i = 0
        self.params = params
        self.stopwords = stopwords
        self.text_fields = text_fields
        self.depth = 0

    # -- token helpers
    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def kind(self, ahead: int = 0) -> str:
        tok = self.peek(ahead)
        return tok.kind if tok is not None else "EOF"

    def here(self) -> _Tok:
        tok = self.peek()
        return tok if tok is not None else self.toks[-1]

    def take(self, *kinds: str) -> _Tok:
        tok = self.peek()
        if tok is None or (kinds and tok.kind not in kinds):
            raise _syntax(self.here())
        self.i += 1
        return tok

    def param(self, name: bytes) -> bytes:
        value = self.params.get(name)
        if value is None:
            raise QuerySyntaxError(f"No such parameter `{name.decode('utf-8', 'replace')}`")
        return value

    # -- grammar
    def query(self) -> ParsedQuery:
        if not self.toks:
            return ParsedQuery(MatchNone())
        node = self.union(None)
        if self.kind() == "ARROW" and self.kind(1) == "LSQB":
            knn = self.knn(node)
            return ParsedQuery(MatchAll() if node is None else node, knn)
        if self.kind() != "EOF":
            raise _syntax(self.here())
        return ParsedQuery(MatchNone() if node is None else node)

    def union(self, fields: tuple[bytes, ...] | None) -> FilterNode | None:
        children = [self.intersect(fields)]
        while self.kind() == "OR":
            self.i += 1
            children.append(self.intersect(fields))
        kept = [c for c in children if c is not None]
        return make_or(kept) if kept else None

    def intersect(self, fields: tuple[bytes, ...] | None) -> FilterNode | None:
        if self.kind() not in _ATOM_STARTS:
            raise _syntax(self.here())
        children = []
        while self.kind() in _ATOM_STARTS:
            children.append(self.unary(fields))
        kept = [c for c in children if c is not None]
        return make_and(kept) if kept else None

    def unary(self, fields: tuple[bytes, ...] | None) -> FilterNode | None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise QuerySyntaxError(
                "Parser stack overflow. Try moving nested parentheses more to the left"
            )
        try:
            kind = self.kind()
            if kind == "MINUS":
                self.i += 1
                child = self.unary(fields)
                return None if child is None else make_not(child)
            if kind == "TILDE":
                self.i += 1
                self.unary(fields)
                return MatchAll()
            node = self.atom(fields)
            while self.kind() == "ARROW" and self.kind(1) == "LB":
                self.i += 1
                for name, _ in self.attributes():
                    if name.lower() not in _EXPR_ATTRIBUTES:
                        raise QuerySyntaxError(
                            f"Invalid attribute {name.decode('utf-8', 'replace')}"
                        )
            return node
        finally:
            self.depth -= 1

    def atom(self, fields: tuple[bytes, ...] | None) -> FilterNode | None:
        tok = self.take()
        kind = tok.kind
        if kind == "LP":
            if self.kind() == "STAR" and self.kind(1) == "RP":
                self.i += 2
                return MatchAll()
            node = self.union(fields)
            self.take("RP")
            return node
        if kind == "STAR":
            return MatchAll()
        if kind == "MODIFIER":
            return self.field_expr(tok)
        if kind == "NUMOP":
            return self.numeric_op(tok)
        if kind == "TERM" and tok.text.lower() == b"ismissing" and self.kind() == "LP":
            raise _unsupported(tok, "ismissing()")
        if kind in ("TERM", "NUMBER", "ATTR", "EXACT", "PREFIX"):
            return self.text(tok, fields)
        if kind in ("SUFFIX", "CONTAINS"):
            raise _unsupported(tok, "Suffix and contains matching")
        if kind == "WILDCARD":
            raise _unsupported(tok, "Wildcard matching")
        if kind == "PERCENT":
            raise _unsupported(tok, "Fuzzy matching")
        raise _syntax(tok)

    def field_expr(self, mod: _Tok) -> FilterNode | None:
        names = [mod.text]
        while self.kind() == "OR" and self.kind(1) == "TERM" and self.kind(2) in ("OR", "COLON"):
            self.i += 1
            names.append(unescape(self.take().text))
        self.take("COLON")
        if len(names) > 1:
            return self.unary(tuple(names))
        if self.kind() == "LB":
            return self.tag_list(mod.text)
        if self.kind() == "LSQB":
            return self.numeric_range(mod.text)
        return self.unary((mod.text,))

    def tag_list(self, field: bytes) -> FilterNode:
        self.take("LB")
        values: set[bytes] = set()
        prefixes: set[bytes] = set()
        while True:
            words: list[bytes] = []
            while self.kind() in ("TERM", "NUMBER", "ATTR"):
                tok = self.take()
                if tok.kind == "ATTR":
                    words.append(self.param(tok.text))
                else:
                    words.append(unescape(tok.text) if tok.kind == "TERM" else tok.text)
            if not words and self.kind() == "PREFIX":
                prefixes.add(unescape(self.take().text))
            elif not words:
                tok = self.here()
                if tok.kind in ("SUFFIX", "CONTAINS"):
                    raise _unsupported(tok, "Suffix and contains matching")
                if tok.kind == "WILDCARD":
                    raise _unsupported(tok, "Wildcard matching")
                raise _syntax(tok)
            else:
                values.add(b" ".join(words))
            if self.kind() == "OR":
                self.i += 1
                continue
            self.take("RB")
            return TagFilter(field, frozenset(values), frozenset(prefixes))

    def numeric_range(self, field: bytes) -> FilterNode:
        self.take("LSQB")
        head = self.peek()
        if head is not None and head.kind == "TERM" and head.text.upper() == b"VECTOR_RANGE":
            raise QuerySyntaxError(
                f"VECTOR_RANGE queries are not supported by memvec (at offset {head.pos}): "
                "use a KNN query such as *=>[KNN 10 @field $vec]"
            )
        lo, lo_incl = self.bound(is_min=True, single_ok=True)
        if self.kind() == "RSQB":
            self.i += 1
            return NumericFilter(field, lo, lo, lo_incl, lo_incl)
        hi, hi_incl = self.bound(is_min=False, single_ok=False)
        self.take("RSQB")
        return NumericFilter(field, lo, hi, lo_incl, hi_incl)

    def bound(self, *, is_min: bool, single_ok: bool) -> tuple[float, bool]:
        inclusive = True
        if self.kind() == "LP":
            self.i += 1
            inclusive = False
        sign = 1
        while self.kind() == "MINUS":
            self.i += 1
            sign = -sign
        tok = self.take("NUMBER", "ATTR")
        if tok.kind == "NUMBER":
            return sign * tok.value, inclusive
        raw = self.param(tok.text)
        if single_ok and self.kind() == "RSQB" and inclusive:
            return parse_numeric_param(raw, tok.text, sign), True
        return parse_range_bound(raw, is_min=is_min, sign=sign, inclusive=inclusive)

    def numeric_op(self, tok: _Tok) -> FilterNode:
        operand = tok.operand
        assert operand is not None
        if operand.kind == "ATTR":
            value = parse_numeric_param(self.param(operand.text), operand.text, operand.sign)
        else:
            value = operand.value
        field, op = tok.text, tok.op
        if op in (b"==", b"!="):
            node: FilterNode = NumericFilter(field, value, value)
            return make_not(node) if op == b"!=" else node
        if op in (b">", b">="):
            return NumericFilter(field, value, math.inf, op == b">=", True)
        return NumericFilter(field, -math.inf, value, True, op == b"<=")

    def text(self, tok: _Tok, fields: tuple[bytes, ...] | None) -> FilterNode | None:
        if tok.kind == "EXACT":
            terms = tuple(tokenize_text(unescape(tok.text), self.stopwords))
            if not terms:
                return None
            return self.text_node(fields, terms, False)
        if tok.kind == "ATTR":
            return self.text_node(fields, (fold_text(self.param(tok.text)),), False)
        term = fold_text(unescape(tok.text))
        if tok.kind == "TERM" and term in self.stopwords:
            return None
        return self.text_node(fields, (term,), tok.kind == "PREFIX")

    def text_node(
        self, fields: tuple[bytes, ...] | None, terms: tuple[bytes, ...], prefix: bool
    ) -> FilterNode:
        return TextFilter(fields if fields is not None else self.text_fields, terms, prefix)

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

    def knn(self, node: FilterNode | None) -> KnnClause:
        self.take("ARROW")
        self.take("LSQB")
        command = self.take()
        if command.kind != "TERM" or command.text.upper() != b"KNN":
            raise _syntax(command, "Syntax error: Expecting Vector Similarity command")
        k_tok = self.take("NUMBER", "ATTR")
        if k_tok.kind == "NUMBER" and not k_tok.is_size:
            raise _syntax(k_tok)
        field = self.take("MODIFIER").text
        blob_name = self.take("ATTR").text
        options: dict[bytes, bytes] = {}
        alias: bytes | None = None
        while self.kind() != "RSQB":
            tok = self.take("TERM")
            if tok.text.upper() == b"AS":
                alias_tok = self.take("TERM", "NUMBER", "ATTR")
                alias = self.param(alias_tok.text) if alias_tok.kind == "ATTR" else alias_tok.text
                break
            value_tok = self.take("TERM", "NUMBER", "ATTR")
            value = self.param(value_tok.text) if value_tok.kind == "ATTR" else value_tok.text
            _set_option(options, tok.text.upper(), value)
        self.take("RSQB")
        if self.kind() == "ARROW" and self.kind(1) == "LB":
            self.i += 1
            for name, value in self.attributes():
                lowered = name.lower()
                if lowered not in _KNN_ATTRIBUTES:
                    raise QuerySyntaxError(f"Invalid attribute {name.decode('utf-8', 'replace')}")
                if lowered == b"yield_distance_as":
                    if alias is not None:
                        raise QuerySyntaxError(
                            "Distance field was specified twice for vector query: "
                            f"{alias.decode('utf-8', 'replace')} and "
                            f"{value.decode('utf-8', 'replace')}"
                        )
                    alias = value
                else:
                    _set_option(options, lowered.upper(), value)
        if self.kind() != "EOF":
            raise _syntax(self.here())
        if k_tok.kind == "ATTR":
            k = _parse_size_param(self.param(k_tok.text), k_tok.text)
        else:
            k = int(k_tok.text)
        vector = self.param(blob_name)
        hybrid = node is not None and not isinstance(node, MatchAll)
        return _knn_clause(k, field, vector, alias, options, hybrid)


def _set_option(options: dict[bytes, bytes], name: bytes, value: bytes) -> None:
    if name not in (b"EF_RUNTIME", b"EPSILON", b"HYBRID_POLICY", b"BATCH_SIZE"):
        raise _vector_error("Invalid option")
    if name in options:
        raise _vector_error("Parameter was specified twice")
    options[name] = value


def _positive_int(value: bytes) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _vector_error("Invalid value was given") from None
    if number < 1:
        raise _vector_error("Invalid value was given")
    return number


def _knn_clause(
    k: int,
    field: bytes,
    vector: bytes,
    alias: bytes | None,
    options: dict[bytes, bytes],
    hybrid: bool,
) -> KnnClause:
    if b"EPSILON" in options:
        raise _vector_error("range query attributes were sent for a non-range query")
    ef = _positive_int(options[b"EF_RUNTIME"]) if b"EF_RUNTIME" in options else None
    policy = options.get(b"HYBRID_POLICY")
    batch = options.get(b"BATCH_SIZE")
    if (policy is not None or batch is not None) and not hybrid:
        raise _vector_error("hybrid query attributes were sent for a non-hybrid query")
    if policy is not None:
        policy = policy.upper()
        if policy not in (b"ADHOC_BF", b"BATCHES"):
            raise _vector_error("invalid hybrid policy was given")
    batch_size = _positive_int(batch) if batch is not None else None
    if batch_size is not None and policy == b"ADHOC_BF":
        raise _vector_error("'batch size' is irrelevant for the selected policy")
    return KnnClause(
        k=k,
        field=field,
        vector=vector,
        ef_runtime=ef,
        score_alias=alias if alias is not None else b"__" + field + b"_score",
        hybrid_policy=policy,
        batch_size=batch_size,
    )


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


def _parse_size_param(raw: bytes, name: bytes) -> int:
    if not raw.strip().lstrip(b"+").isdigit():
        raise QuerySyntaxError(
            f"Invalid numeric value ({raw.decode('utf-8', 'replace')}) for parameter "
            f"`{name.decode('utf-8', 'replace')}`"
        )
    return int(raw)


def parse_query(
    query: bytes | str,
    params: Mapping[bytes, bytes] | None = None,
    *,
    stopwords: frozenset[bytes] = DEFAULT_STOPWORDS,
    text_fields: tuple[bytes, ...] | None = None,
) -> ParsedQuery:
    """Parse a DIALECT 2 query string, substituting ``params`` (names without ``$``).

    ``stopwords`` are dropped from text terms (pass the index's list, or an empty set for
    NOSTOPWORDS); ``text_fields`` restricts terms without ``@field:`` to those fields
    (FT.SEARCH ``INFIELDS``).
    """
    raw = as_bytes(query)
    parser = _Parser(_lex(raw), params or {}, stopwords, text_fields)
    return parser.query()
