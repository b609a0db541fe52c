"""The DIALECT 2 query grammar: tokens in, a :class:`ParsedQuery` out.

``parse_query(query, params)`` returns a :class:`~store.index.query.nodes.ParsedQuery`:
``filter`` is a tree of :data:`~store.index.query.nodes.FilterNode` values with every
``$param`` substituted, and ``knn`` the ``=>[KNN ...]`` clause
(:mod:`store.index.query.knn`) or ``None``.

Grammar (RediSearch ``src/query_parser/v2``; ``|`` binds looser than juxtaposition, which
binds looser than ``-`` and ``~``)::

    query     := '' | union ['=>' knn ['=>' attrs]] | '*' ['=>' knn ['=>' attrs]]
    union     := intersect ('|' intersect)*
    intersect := unary unary*
    unary     := '-' unary | '~' unary | atom ['=>' attrs]
    atom      := '(' union ')' | '*' | '@f:' rhs | '@f|g:' text | '@f' op num | text
    rhs       := '{' tag ('|' tag)* '}' | '[' bound [bound] ']' | range | text-unary
    tag       := word+ | word'*' | pattern            (words joined by one space)
    bound     := ['('] ['-'] (number | 'inf' | $param)  (a lone bound means "equal to")
    text      := term | term'*' | "exact phrase" | $param | pattern
    pattern   := '*'suffix | '*'infix'*' | "w'"wildcard"'" | '%'term'%' (up to '%%%')
    range     := '[' 'VECTOR_RANGE' radius $blob ']' ['=>' attrs]   (query/vector_range.py)
               | '[' lon lat radius unit ']'                           (query/geo.py)

Text terms are case folded and stop words are dropped (a query of stop words only matches
nothing); a plain term (not in ``"..."``, not under ``-`` or ``~``) carries its expansions
(its phonetic code where a field it searches is PHONETIC, its stems in the query's
language), as RediSearch's default expander adds them. ``=>{$phonetic: true|false}`` on a
term forces the phonetic expansion, refused where no field it searches is PHONETIC.
Query attributes (``=>{$weight: w; $slop: n; $inorder: true; $phonetic: b}``) are checked
while parsing and applied to their node (:meth:`_Parser.with_attribute`); an intersection
or union that carries attributes takes in the nodes that follow it, as RediSearch's grammar
appends them, unless an ``@field:`` scopes it. ``$params`` are resolved as RediSearch does
after parsing (:class:`~store.index.query.lexer.TokenCursor`): a term's value is unescaped,
folded and, when it reads as a number, not expanded.
Rejected with a message that says so: ``ismissing()``. Errors are
:class:`~store.errors.QuerySyntaxError` with RediSearch's texts: ``Syntax error at offset N
near X``, ``No such parameter `p```, ``Bad lower range: x``, ``Invalid numeric value (x) for
parameter `k```, ``Parser stack overflow ...`` past 200 nested levels.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import NoReturn

from ...errors import QuerySyntaxError
from ..phonetics import phonetic_term
from ..schema.args import as_bytes
from ..schema.text import DEFAULT_STOPWORDS, fold_text, tokenize_text
from ..stemming import query_expansions
from .geo import GeoFilter, is_geo_range, parse_geo_range
from .knn import KnnParser
from .lexer import LATE_EXPANSION, Tok, lex, syntax, unescape
from .nodes import (
    And,
    FilterNode,
    MatchAll,
    MatchNone,
    Not,
    NumericFilter,
    OptionalFilter,
    Or,
    ParsedQuery,
    TagFilter,
    TextFilter,
    VectorRange,
    make_and,
    make_not,
    make_or,
)
from .numbers import (
    parse_boolean,
    parse_c_integer,
    parse_double,
    parse_numeric_param,
    parse_range_bound,
)
from .vector_range import RangeParser, distance_names

__all__ = ["parse_query"]

_MAX_DEPTH = 200


def _unsupported(tok: Tok, what: str) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"{what} is not supported by memvec (at offset {tok.pos} near {tok.shown()}): "
        "use exact terms, term prefixes (term*) or TAG/NUMERIC filters"
    )


_ATOM_STARTS = {"LP", "STAR", "MODIFIER", "NUMOP", "TERM", "NUMBER", "ATTR", "EXACT", "PREFIX",
                "SUFFIX", "CONTAINS", "WILDCARD", "PERCENT", "MINUS", "TILDE", "QUOTE"}  # fmt: skip


def _node_kind(node: FilterNode) -> str:
    names: dict[type, str] = {
        GeoFilter: "GEO filter",
        Not: "negation",
        OptionalFilter: "optional node",
        MatchAll: "wildcard",
        VectorRange: "VECTOR_RANGE",
        MatchNone: "empty query",
    }
    return names.get(type(node), type(node).__name__)


def check_attribute(name: bytes, value: bytes) -> None:
    """A query attribute of a filter node (``=>{$weight: 2; $slop: 1}``), checked as
    RediSearch's ``QueryNode_ApplyAttribute`` checks it while parsing: ``$slop`` an integer
    from -1, ``$weight`` a number from 0, ``$inorder`` / ``$phonetic`` a boolean
    (``true``/``false``/``1``/``0``); anything else is ``Invalid attribute``."""
    lowered = name.lower()
    if not value:
        valid = False
    elif lowered == b"slop":
        slop = parse_c_integer(value)
        valid = slop is not None and slop >= -1
    elif lowered == b"weight":
        weight = parse_double(value)
        valid = weight is not None and not weight < 0
    elif lowered in (b"inorder", b"phonetic"):
        valid = parse_boolean(value) is not None
    else:
        raise QuerySyntaxError(f"Invalid attribute {name.decode('utf-8', 'replace')}")
    if not valid:
        raise QuerySyntaxError(
            f"Invalid value ({value.decode('utf-8', 'replace')}) for "
            f"`{name.decode('utf-8', 'replace')}`"
        )


class _Parser(KnnParser, RangeParser):
    def __init__(
        self,
        toks: list[Tok],
        params: Mapping[bytes, bytes],
        stopwords: frozenset[bytes],
        text_fields: tuple[bytes, ...] | None,
        language: bytes | None = None,
        phonetic_fields: frozenset[bytes] = frozenset(),
    ) -> None:
        super().__init__(toks, params)
        self.stopwords = stopwords
        self.text_fields = text_fields
        self.language = language
        self.phonetic_fields = phonetic_fields
        self.depth = 0
        self.scoped: dict[int, FilterNode] = {}
        """The nodes an ``@field:`` modifier scopes, by id (see :meth:`open`); held here so
        that an id is not reused while parsing."""

    # -- grammar
    def query(self) -> ParsedQuery:
        if not self.toks:
            return ParsedQuery(MatchNone())
        node = self.union(None)
        if self.kind() == "ARROW" and self.kind(1) == "LSQB":
            knn = self.knn(node)
            self.raise_param_errors()
            if node is not None and knn.score_alias in distance_names(node):
                alias = knn.score_alias.decode("utf-8", "replace")
                raise QuerySyntaxError(f"Property `{alias}` specified more than once")
            return ParsedQuery(MatchAll() if node is None else node, knn)
        if self.kind() == "ARROW" and self.peek(1) is not None:
            raise syntax(self.toks[self.i + 1])  # RediSearch takes the arrow, not what follows
        if self.kind() != "EOF":
            raise syntax(self.here())
        self.raise_param_errors()
        return ParsedQuery(MatchNone() if node is None else node)

    def union(self, fields: tuple[bytes, ...] | None) -> FilterNode | None:
        children = [self.intersect(fields)]
        while self.kind() == "OR":
            self.i += 1
            children.append(self.intersect(fields))
        kept = [c for c in children if c is not None]
        if len(kept) == 1:
            return kept[0]  # the node itself: its field scope is known by identity
        first = kept[0] if kept else None
        if isinstance(first, Or) and first.weight != 1.0 and self.open(first) and len(kept) > 1:
            # RediSearch adds what follows a union to it, attributes and all
            merged = make_or([Or(first.children), *kept[1:]])
            if isinstance(merged, Or):
                return dataclasses.replace(merged, weight=first.weight)
            return merged
        return make_or(kept) if kept else None

    def open(self, node: FilterNode) -> bool:
        """Whether ``node`` (a union or intersection) takes in the nodes that follow it:
        in RediSearch's grammar, one that no ``@field:`` scopes does."""
        return id(node) not in self.scoped

    def intersect(self, fields: tuple[bytes, ...] | None) -> FilterNode | None:
        if self.kind() not in _ATOM_STARTS:
            raise syntax(self.here())
        children = []
        while self.kind() in _ATOM_STARTS:
            children.append(self.unary(fields))
        kept = [c for c in children if c is not None]
        if len(kept) == 1:
            return kept[0]  # the node itself: its field scope is known by identity
        first = kept[0] if kept else None
        if isinstance(first, And) and first.attributed and self.open(first) and len(kept) > 1:
            # RediSearch adds what follows an intersection to it, so ``(a b)=>{$slop: 0} c``
            # is the intersection of a, b and c with slop 0
            merged = make_and([And(first.children), *kept[1:]])
            if isinstance(merged, And):
                return dataclasses.replace(
                    merged, weight=first.weight, slop=first.slop, inorder=first.inorder
                )
            return merged
        return make_and(kept) if kept else None

    def unary(self, fields: tuple[bytes, ...] | None) -> FilterNode | None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise QuerySyntaxError(
                "Parser stack overflow. Try moving nested parentheses more to the left"
            )
        try:
            kind = self.kind()
            if kind in ("MINUS", "TILDE"):
                # RediSearch expands terms under unions and phrases only, not under a
                # negation or an optional node
                self.i += 1
                language, self.language = self.language, None
                try:
                    child = self.unary(fields)
                finally:
                    self.language = language
                if child is None:
                    return None
                return make_not(child) if kind == "MINUS" else OptionalFilter(child)
            node = self.atom(fields)
            if isinstance(node, MatchAll):  # RediSearch's ``*`` takes no attributes
                return node
            scoped = node is not None and not self.open(node)
            while self.kind() == "ARROW" and self.kind(1) == "LB":
                self.i += 1
                for name, value in self.attributes():
                    check_attribute(name, value)
                    node = self.with_attribute(node, name.lower(), value)
            if scoped and node is not None:  # attributes keep a node's field scope
                self.scoped[id(node)] = node
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
            text = tok.text[1:-1] if kind == "CONTAINS" else tok.text[1:]
            # a parameter's value is unescaped like a term's (RediSearch's PARAM_TERM)
            return self.pattern(fields, kind.lower(), self.param_text(text))
        if kind == "WILDCARD":
            text = tok.text[2:-1]
            if text.startswith(b"$"):
                name = text[1:]
                text = self.resolve(lambda: self.param(name), b"")
            return self.pattern(fields, "wildcard", text, escaped=True)
        if kind == "PERCENT":
            return self.fuzzy(tok, fields)
        raise syntax(tok)

    def pattern(
        self,
        fields: tuple[bytes, ...] | None,
        kind: str,
        text: bytes,
        *,
        escaped: bool = False,
        distance: int = 0,
    ) -> FilterNode:
        folded = fold_text(text if escaped else unescape(text))
        scope = fields if fields is not None else self.text_fields
        return TextFilter(scope, (folded,), pattern=kind, distance=distance)

    def fuzzy(self, first: Tok, fields: tuple[bytes, ...] | None) -> FilterNode:
        """``%term%`` .. ``%%%term%%%``: as many ``%`` after the term as before, 1 to 3."""
        distance = 1
        while self.kind() == "PERCENT" and distance < 3:
            self.i += 1
            distance += 1
        here = self.here()
        if self.kind() == "PERCENT" and here.near is None:
            # RediSearch names no token when nothing valued came before
            raise QuerySyntaxError(f"Syntax error at offset {here.pos} near ")
        word = self.take("TERM", "NUMBER", "ATTR")
        for _ in range(distance):
            self.take("PERCENT")
        text = self.param_text(b"$" + word.text) if word.kind == "ATTR" else word.text
        return self.pattern(fields, "fuzzy", text, distance=distance)

    def param_text(self, text: bytes) -> bytes:
        """``text``, or for ``$name`` the parameter's value (resolved after parsing)."""
        if not text.startswith(b"$"):
            return text
        name = text[1:]
        return self.resolve(lambda: self.param(name), b"")

    def field_expr(self, mod: Tok) -> FilterNode | None:
        names = [mod.text]
        while self.kind() == "OR" and self.kind(1) == "TERM" and self.kind(2) in ("OR", "COLON"):
            self.i += 1
            names.append(unescape(self.take().text))
        self.take("COLON")
        if len(names) == 1 and self.kind() == "LB":
            return self.tag_list(mod.text)
        if len(names) == 1 and self.kind() == "LSQB":
            return self.numeric_range(mod.text)
        node = self.unary(tuple(names))
        if node is not None:
            self.scoped[id(node)] = node
        return node

    def tag_list(self, field: bytes) -> FilterNode:
        self.take("LB")
        values: set[bytes] = set()
        prefixes: set[bytes] = set()
        patterns: list[tuple[str, bytes]] = []
        while True:
            words: list[bytes] = []
            while self.kind() in ("TERM", "NUMBER", "ATTR"):
                tok = self.take()
                # a tag's ``$param`` is unescaped like its literal text, and keeps its case
                # (the field's CASESENSITIVE decides), as on the peer
                if tok.kind == "ATTR":
                    words.append(unescape(self.param_text(b"$" + tok.text)))
                else:
                    words.append(unescape(tok.text) if tok.kind == "TERM" else tok.text)
            if not words and self.kind() == "PREFIX":
                prefixes.add(unescape(self.param_text(self.take().text)))
            elif not words and self.kind() == "SUFFIX":
                patterns.append(("suffix", unescape(self.param_text(self.take().text[1:]))))
            elif not words and self.kind() == "CONTAINS":
                text = self.take().text[1:-1]
                patterns.append(("contains", unescape(self.param_text(text))))
            elif not words and self.kind() == "WILDCARD":
                patterns.append(("wildcard", self.param_text(self.take().text[2:-1])))
            elif not words:
                raise syntax(self.here())
            else:
                values.add(b" ".join(words))
            if self.kind() == "OR":
                self.i += 1
                continue
            self.take("RB")
            return TagFilter(field, frozenset(values), frozenset(prefixes), tuple(patterns))

    def numeric_range(self, field: bytes) -> FilterNode:
        self.take("LSQB")
        head = self.peek()
        if head is not None and head.kind == "TERM" and head.text.upper() == b"VECTOR_RANGE":
            return self.vector_range(field)
        if is_geo_range(self):
            return parse_geo_range(self, field)
        lo_incl, lo_tok, lo_sign = self.bound()
        if self.kind() == "RSQB":
            if not lo_incl:  # a lone bound is a value, never exclusive
                raise syntax(self.here())
            self.i += 1
            value = self.number(lo_tok, lo_sign)
            return NumericFilter(field, value, value)
        hi_incl, hi_tok, hi_sign = self.bound()
        self.take("RSQB")
        lo = self.range_value(lo_tok, lo_sign, is_min=True)
        hi = self.range_value(hi_tok, hi_sign, is_min=False)
        return NumericFilter(field, lo, hi, lo_incl, hi_incl)

    def bound(self) -> tuple[bool, Tok, int]:
        """``['('] param_num``: (inclusive, token, sign)."""
        inclusive = True
        if self.kind() == "LP":
            self.i += 1
            inclusive = False
        tok, sign = self.param_num()
        return inclusive, tok, sign

    def number(self, tok: Tok, sign: int) -> float:
        """A number token's value, or a ``$param``'s read as a number."""
        if tok.kind == "NUMBER":
            return sign * tok.value
        name = tok.text
        return self.resolve(lambda: parse_numeric_param(self.param(name), name, sign), 0.0)

    def range_value(self, tok: Tok, sign: int, *, is_min: bool) -> float:
        """A bound of a two-bound range; a ``$param``'s own ``(`` is read and ignored, as
        RediSearch does (only the query's ``(`` makes a bound exclusive)."""
        if tok.kind == "NUMBER":
            return sign * tok.value
        name = tok.text

        def value() -> float:
            return parse_range_bound(self.param(name), is_min=is_min, sign=sign)[0]

        return self.resolve(value, 0.0)

    def numeric_op(self, tok: Tok) -> FilterNode:
        operand = tok.operand
        assert operand is not None
        value = self.number(operand, operand.sign) if operand.kind == "ATTR" else operand.value
        field, op = tok.text, tok.op
        if op in (b"==", b"!="):
            node: FilterNode = NumericFilter(field, value, value)
            return make_not(node) if op == b"!=" else node
        if op in (b">", b">="):
            return NumericFilter(field, value, math.inf, op == b">=", True)
        return NumericFilter(field, -math.inf, value, True, op == b"<=")

    def text(self, tok: Tok, fields: tuple[bytes, ...] | None) -> FilterNode | None:
        if tok.kind == "EXACT":
            terms = tuple(tokenize_text(unescape(tok.text), self.stopwords))
            if not terms:
                return None
            scope = fields if fields is not None else self.text_fields
            return TextFilter(scope, terms, exact=len(terms) == 1)
        if tok.kind == "ATTR":
            # RediSearch's PARAM_TERM: the value is unescaped and folded like a term, never
            # dropped as a stop word, and not expanded when it reads as a number
            raw = self.param_text(b"$" + tok.text)
            term = fold_text(unescape(raw))
            if parse_double(raw) is not None:  # a number is not expanded
                return self.text_node(fields, (term,), False)
            return self.text_node(fields, (term,), False, self.expansions(term, fields))
        if tok.kind == "PREFIX" and tok.text.startswith(b"$"):
            term = fold_text(unescape(self.param_text(tok.text)))
            return self.text_node(fields, (term,), True)
        term = fold_text(unescape(tok.text))
        if tok.kind == "TERM" and term in self.stopwords:
            return None
        if tok.kind == "PREFIX":
            return self.text_node(fields, (term,), True)
        if tok.kind == "NUMBER":  # a number is not expanded (RediSearch's QT_NUMERIC)
            return self.text_node(fields, (term,), False)
        return self.text_node(fields, (term,), False, self.expansions(term, fields))

    def expansions(
        self, term: bytes, fields: tuple[bytes, ...] | None, phonetic: bool | None = None
    ) -> tuple[bytes, ...]:
        """A plain term's expansions (RediSearch's default expander): its phonetic code
        when ``phonetic`` (None: when a field it searches is PHONETIC), then its stems."""
        if self.language is None:
            return ()
        if phonetic is None:
            phonetic = self.is_phonetic(fields)
        sound = phonetic_term(term) if phonetic else None
        stems = query_expansions(term, self.language)
        return stems if sound is None else (sound, *stems)

    def is_phonetic(self, fields: tuple[bytes, ...] | None) -> bool:
        if fields is None:
            return bool(self.phonetic_fields)
        return any(f in self.phonetic_fields for f in fields)

    def with_attribute(
        self, node: FilterNode | None, name: bytes, value: bytes
    ) -> FilterNode | None:
        """``node`` with a checked query attribute applied (:func:`check_attribute`).

        ``$weight`` weights text terms, tags, intersections and unions; on a NUMERIC range
        it is only shown by FT.EXPLAIN, as in RediSearch (its numeric iterator takes no
        weight); on other nodes memvec refuses it. ``$slop`` / ``$inorder`` restrict an intersection
        and, as in RediSearch, change nothing elsewhere (a term, an exact phrase, a
        union)."""
        if name == b"phonetic":
            return self.with_phonetic(node, value)
        if node is None:
            return None
        if name == b"weight":
            weight = parse_double(value)
            assert weight is not None  # checked
            if weight == 1.0:
                return node
            if isinstance(node, TextFilter | TagFilter | And | Or | NumericFilter):
                return dataclasses.replace(node, weight=weight)
            raise QuerySyntaxError(
                f"$weight on a {_node_kind(node)} is not supported by memvec: weight text "
                "terms, tags, intersections or unions"
            )
        if not isinstance(node, And):
            return node
        if name == b"slop":
            slop = parse_c_integer(value)
            assert slop is not None  # checked
            return dataclasses.replace(node, slop=slop)
        return dataclasses.replace(node, inorder=parse_boolean(value) is True)

    def with_phonetic(self, node: FilterNode | None, value: bytes) -> FilterNode | None:
        """``=>{$phonetic: true|false}`` on a plain term: RediSearch refuses it where no
        field the term searches is PHONETIC, else forces the phonetic expansion on or
        off."""
        if not isinstance(node, TextFilter) or not node.expansions or node.prefix:
            return node
        if not self.is_phonetic(node.fields):

            def refuse() -> NoReturn:
                raise QuerySyntaxError("field does not support phonetics")

            return self.resolve(refuse, node, late=LATE_EXPANSION)
        wanted = parse_boolean(value) is True
        term = node.terms[0]
        return dataclasses.replace(node, expansions=self.expansions(term, node.fields, wanted))

    def text_node(
        self,
        fields: tuple[bytes, ...] | None,
        terms: tuple[bytes, ...],
        prefix: bool,
        expansions: tuple[bytes, ...] = (),
    ) -> FilterNode:
        scope = fields if fields is not None else self.text_fields
        return TextFilter(scope, terms, prefix, expansions)


def parse_query(
    query: bytes | str,
    params: Mapping[bytes, bytes] | None = None,
    *,
    stopwords: frozenset[bytes] = DEFAULT_STOPWORDS,
    text_fields: tuple[bytes, ...] | None = None,
    language: bytes | None = None,
    phonetic_fields: frozenset[bytes] = frozenset(),
) -> ParsedQuery:
    """Parse a DIALECT 2 query string, substituting ``params`` (names without ``$``).

    ``stopwords`` are dropped from text terms (pass the index's list, or an empty set for
    NOSTOPWORDS); ``text_fields`` restricts terms without ``@field:`` to those fields
    (FT.SEARCH ``INFIELDS``); ``language`` stems plain terms into their expansions
    (:func:`store.index.stemming.query_expansions`; None: no expansion); a term searching
    one of ``phonetic_fields`` (aliases) also expands to its phonetic code.
    """
    raw = as_bytes(query)
    params = params or {}
    blobs = [name for name, value in params.items() if len(value) > _BLOB_MIN]
    if len(blobs) > 1 or len(raw) > _CACHED_QUERY_MAX:
        return _Parser(lex(raw), params, stopwords, text_fields, language, phonetic_fields).query()
    if not blobs:
        # Applications send the same few query strings again and again: the parse is a
        # function of the arguments below, and parsed trees are immutable, so one is shared
        plain: tuple[object, ...] = (raw, None, tuple(sorted(params.items())), stopwords,
                                     text_fields, language, phonetic_fields)  # fmt: skip
        cached = _PARSED.get(plain)
        if cached is None:
            cached = _Parser(
                lex(raw), params, stopwords, text_fields, language, phonetic_fields
            ).query()
            _remember(plain, cached)
        return cached
    # A vector query is usually the same text with a new vector each time: parse it once
    # with a placeholder for the blob, cache that, and put each call's vector in the copy.
    (blob,) = blobs
    rest = tuple(sorted((name, value) for name, value in params.items() if name != blob))
    key = (raw, blob, rest, stopwords, text_fields, language, phonetic_fields)
    placeholder = _PLACEHOLDER + blob
    cached = _PARSED.get(key)
    if cached is None:
        try:
            parsed = _Parser(
                lex(raw),
                {**params, blob: placeholder},
                stopwords,
                text_fields,
                language,
                phonetic_fields,
            )
            cached = parsed.query()
        except QuerySyntaxError:
            cached = None
        if cached is None or not _only_vector_uses(cached, placeholder):
            return _Parser(
                lex(raw), params, stopwords, text_fields, language, phonetic_fields
            ).query()
        _remember(key, cached)
    return _with_vector(cached, placeholder, params[blob])


_BLOB_MIN = 64  # a parameter this long is a vector blob, not a filter value
_PLACEHOLDER = b"\x00memvec-blob:"
_PARSED: dict[tuple[object, ...], ParsedQuery] = {}
_PARSED_MAX = 1024
_CACHED_QUERY_MAX = 4096  # longer query strings are parsed every time: the cache stays small


def _remember(key: tuple[object, ...], parsed: ParsedQuery) -> None:
    """Cache ``parsed`` under ``key``: at most ``_PARSED_MAX`` entries, emptied when full."""
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[key] = parsed


def _only_vector_uses(parsed: ParsedQuery, placeholder: bytes) -> bool:
    """Whether ``placeholder`` went into vector blobs (KNN, VECTOR_RANGE) and nowhere else."""
    stripped = _with_vector(parsed, placeholder, b"")
    if stripped == parsed:
        return False
    return repr(placeholder)[2:-1] not in repr(stripped)


def _with_vector(parsed: ParsedQuery, placeholder: bytes, blob: bytes) -> ParsedQuery:
    """``parsed`` with every vector blob equal to ``placeholder`` replaced by ``blob``."""
    knn = parsed.knn
    if knn is not None and knn.vector == placeholder:
        knn = knn.with_vector(blob)
    return ParsedQuery(_swap_vector(parsed.filter, placeholder, blob), knn)


def _swap_vector(node: FilterNode, placeholder: bytes, blob: bytes) -> FilterNode:
    if isinstance(node, VectorRange):
        return dataclasses.replace(node, vector=blob) if node.vector == placeholder else node
    if isinstance(node, And | Or):
        children = tuple(_swap_vector(c, placeholder, blob) for c in node.children)
        return dataclasses.replace(node, children=children)
    if isinstance(node, Not):
        return Not(_swap_vector(node.child, placeholder, blob))
    if isinstance(node, OptionalFilter):
        return OptionalFilter(_swap_vector(node.child, placeholder, blob))
    return node
