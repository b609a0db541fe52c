"""Text scoring: RediSearch 2.10's scorers (``src/ext/default.c``) over memvec's filter trees.

:func:`text_scores` gives each matched document its score under one scorer; ``FT.SEARCH``
ranks by it (:func:`rank`), ``WITHSCORES`` returns it, ``EXPLAINSCORE`` returns the
explanation :func:`explain_scores` builds (RediSearch's texts and nesting).

How a score is made, as RediSearch makes it. The query tree becomes, per document, a tree of
*results* mirroring RediSearch's index iterators:

* a term (``hello``, ``@f:hello``) is a TERM result: frequency = the document's weighted
  occurrences of the term over all its TEXT fields (a field of WEIGHT ``w`` counts
  ``max(1, int(w))`` per occurrence), IDF from the term's document count, its positions;
* a phrase is an INTERSECTION of its terms, in order; ``a b`` an INTERSECTION of its parts
  sorted by their estimated result counts (RediSearch sorts them so, stably); ``a|b`` a
  UNION of the parts the document matches; ``pre*`` a UNION holding the first expansion the
  document matches (RediSearch stops at the first: "quick exit"), expansions in the order of
  the terms trie, approximated as most documents first, then byte order;
* a single TAG value is a TERM result with frequency 1 and the tag value's IDF; several
  values a UNION of those the document has; a NUMERIC range a NUMERIC result of
  frequency 1; a negation a VIRTUAL result of frequency 0; ``*`` a VIRTUAL result of
  frequency 1; ``INKEYS`` adds a VIRTUAL result of frequency 0 as RediSearch's id-list
  filter does (beside the children of a top-level intersection, else in a new one);
* a KNN query's document is a HYBRID result [METRIC (frequency 0), filter result], or the
  METRIC result alone when the filter is ``*``.

Scorers (``SCORER``; the names are case sensitive, as RediSearch's are):

* ``TFIDF`` (default): sum over terms of ``weight * tf * idf`` with
  ``idf = logb(1 + (N + 1) / df)`` (the binary exponent: an integer), divided by the
  document's maximal term frequency, then by the *slop* (RediSearch's
  ``IndexResult_MinOffsetDelta``: the integer square root of the sum of squared minimal
  distances between consecutive children's positions). Non-term results count
  ``weight * frequency``. ``TFIDF.DOCNORM`` divides by the document length instead.
* ``BM25`` (RediSearch's legacy, non-standard formula: the average document length stands
  where the document's own length over it should), divided by the slop.
* ``BM25STD``: ``idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len / avglen))`` with
  ``k1 = 1.2``, ``b = 0.5`` (RediSearch's values, in single precision where it computes in
  single precision) and ``idf = log(1 + (N - df + 0.5) / (df + 0.5))``.
* ``DISMAX``: frequencies, summed over intersections, maximum over unions.
* ``DOCSCORE``: the document score, always 1 (memvec has no per-document scores).
* ``HAMMING``: 0 (memvec documents carry no payload to compare with).

Index statistics follow RediSearch: ``N`` for TFIDF is the document count plus one
(RediSearch's document table size), for BM25STD the document count; the average document
length is :attr:`FieldIndexes.total_length` over the document count. A document with no
text and no vector has a maximal frequency of 0, so its TFIDF is ``inf`` (or ``nan``), as
on RediSearch. One difference: RediSearch counts a term's documents until its garbage
collector runs, so right after deletions its IDFs can lag; memvec's are always current.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any

import numpy as np

from ..replies import SimpleString
from .fields import DocStats, FieldIndexes
from .query import (
    And,
    FilterNode,
    MatchAll,
    MatchNone,
    Not,
    NumericFilter,
    Or,
    ParsedQuery,
    TagFilter,
    TextFilter,
)

if TYPE_CHECKING:
    from .search_index import SearchIndex

__all__ = [
    "DEFAULT_SCORER",
    "SCORERS",
    "Explanation",
    "Scorer",
    "explain_scores",
    "explanation_reply",
    "rank",
    "text_scores",
]

DEFAULT_SCORER = b"TFIDF"
SCORERS = (b"TFIDF", b"TFIDF.DOCNORM", b"BM25", b"BM25STD", b"DISMAX", b"DOCSCORE", b"HAMMING")

# RediSearch's RSResultType bits: an aggregate's type mask ORs its children's types
_UNION, _INTERSECT, _TERM, _VIRTUAL, _NUMERIC, _METRIC, _HYBRID = 1, 2, 4, 8, 16, 32, 64
_AGGREGATE = _UNION | _INTERSECT | _HYBRID
_EOF = 0xFFFFFFFF

_K1 = float(np.float32(1.2))
_K1_PLUS_1 = float(np.float32(1.2) + np.float32(1))
_B_STD = np.float32(0.5)


@dataclass(slots=True)
class _Result:
    kind: int
    freq: int = 0
    weight: float = 1.0
    term: bytes = b""
    idf: float = 0.0
    bm25_idf: float = 0.0
    offsets: tuple[int, ...] | list[int] = ()
    children: list[_Result] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Explanation:
    """One node of a score explanation: RediSearch's text and the nodes it sums up."""

    text: str
    children: tuple[Explanation, ...] = ()


def explanation_reply(node: Explanation) -> Any:
    """The reply RediSearch sends for a node: its text, or ``[text, [children...]]``."""
    if not node.children:
        return SimpleString(node.text)
    return [SimpleString(node.text), [explanation_reply(c) for c in node.children]]


# -- index statistics -------------------------------------------------------------------


def _logb(x: float) -> float:
    """C's ``logb``: the binary exponent of ``x`` as a float."""
    if x == 0:
        return -math.inf
    if math.isinf(x):
        return math.inf
    return float(math.frexp(x)[1] - 1)


def _tfidf_idf(total_docs: int, term_docs: int) -> float:
    """RediSearch's ``CalculateIDF``; ``total_docs`` is its document table size (N + 1)."""
    return _logb(1.0 + total_docs / float(term_docs or 1))


def _bm25_idf(num_docs: int, term_docs: int) -> float:
    """RediSearch's ``CalculateIDF_BM25``, single precision where it is."""
    num = np.float32(num_docs - term_docs) + np.float32(0.5)
    den = np.float32(term_docs) + np.float32(0.5)
    return math.log(float(np.float32(1.0) + np.float32(num / den)))


def _div(a: float, b: float) -> float:
    """IEEE division (C's), where Python would raise on a zero divisor."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a)


@dataclass(slots=True)
class _Stats:
    num_docs: int
    avg_len: float
    min_score: float = 0.0
    """RediSearch's ``minScore``: TFIDF and BM25 score 0 below it (see :class:`Scorer`)."""


# -- per-document view of the text ---------------------------------------------------------


class _Doc:
    """One document's text as the scorers read it: per term, its weighted frequency over
    the document's TEXT fields and its 1-based positions (running on across the fields in
    schema order), computed on first use."""

    __slots__ = ("_fields", "_label", "_terms")

    def __init__(self, fields: FieldIndexes, label: int) -> None:
        self._fields = fields
        self._label = label
        self._terms: dict[bytes, tuple[int, list[int]]] = {}

    def term(self, term: bytes) -> tuple[int, list[int]]:
        held = self._terms.get(term)
        if held is None:
            fields, label = self._fields, self._label
            freq = pos = 0
            positions: list[int] = []
            for alias in fields.text_fields():
                tokens = fields.tokens(alias, label)
                if term in tokens:
                    w = fields.weight(alias)
                    for i, token in enumerate(tokens, pos + 1):
                        if token == term:
                            freq += w
                            positions.append(i)
                pos += len(tokens)
            held = self._terms[term] = (freq, positions)
        return held


# -- plans: the query tree compiled once, evaluated per document --------------------------

_Build = Callable[[int, _Doc], "_Result | None"]


@dataclass(slots=True)
class _Plan:
    estimate: int
    matches: Callable[[int], bool]
    build: _Build
    constant: _Result | None = None
    """The result every matching document gets, when it does not depend on the document
    (filters without text): built once, shared, never mutated."""


def _constant(estimate: int, matches: Callable[[int], bool], result: _Result) -> _Plan:
    return _Plan(estimate, matches, lambda label, doc: result, result)


class _Planner:
    def __init__(self, fields: FieldIndexes) -> None:
        self.fields = fields
        self.table_size = len(fields) + 1

    def labels(self, node: FilterNode) -> Callable[[int], bool]:
        found = self.fields.evaluate(node)
        if found is None:
            return lambda label: True
        return found.__contains__

    def term(self, term: bytes) -> _Result:
        df = self.fields.term_doc_count(term)
        return _Result(
            _TERM,
            term=term,
            idf=_tfidf_idf(self.table_size, df),
            bm25_idf=_bm25_idf(len(self.fields), df),
        )

    def plan(self, node: FilterNode) -> _Plan:
        if isinstance(node, TextFilter):
            return self.text(node)
        if isinstance(node, TagFilter):
            return self.tag(node)
        if isinstance(node, NumericFilter):
            # RediSearch estimates a range by the entries of the tree ranges it touches:
            # all of a small field's values, which is what memvec counts
            every = NumericFilter(node.field, -math.inf, math.inf)
            return _constant(self.fields.count(every), self.labels(node), _Result(_NUMERIC, freq=1))
        if isinstance(node, Not):
            return _constant(self.fields.max_doc_id, self.labels(node), _Result(_VIRTUAL))
        if isinstance(node, MatchAll):
            return _constant(len(self.fields), lambda label: True, _Result(_VIRTUAL, freq=1))
        if isinstance(node, MatchNone):
            return _Plan(0, lambda label: False, lambda label, doc: None)
        if isinstance(node, And):
            parts = [self.plan(c) for c in node.children]
            return self.intersection(parts, self.labels(node), ordered=False)
        if isinstance(node, Or):
            parts = [self.plan(c) for c in node.children]
            return _Plan(
                sum(p.estimate for p in parts),
                self.labels(node),
                _union(parts, quick_exit=False),
            )
        raise TypeError(f"not a filter node: {node!r}")

    def intersection(
        self, parts: list[_Plan], matches: Callable[[int], bool], *, ordered: bool
    ) -> _Plan:
        if not ordered:
            # RediSearch's cmpIter: fewest expected results first; an intersection child
            # estimates 0 (its count times the integer 1 / number of its children)
            parts = sorted(parts, key=lambda p: p.estimate)

        if all(p.constant is not None for p in parts):
            children = [p.constant for p in parts if p.constant is not None]
            return _constant(0, matches, _Result(_INTERSECT, children=children))

        def build(label: int, doc: _Doc) -> _Result | None:
            children = []
            for part in parts:
                child = part.build(label, doc)
                if child is None:
                    return None
                children.append(child)
            return _Result(_INTERSECT, children=children)

        return _Plan(0, matches, build)

    def aliases(self, node: TextFilter) -> list[bytes]:
        """The TEXT fields ``node`` searches."""
        fields = self.fields.text_fields()
        return list(fields) if node.fields is None else [a for a in node.fields if a in fields]

    def text(self, node: TextFilter) -> _Plan:
        aliases = self.aliases(node)
        matches = self.labels(node)
        if node.prefix:
            expansions: dict[bytes, None] = {}
            for alias in aliases:
                for term in self.fields.terms_with_prefix(alias, node.terms[0]):
                    expansions[term] = None
            ordered = sorted(expansions, key=lambda t: (-self.fields.term_doc_count(t), t))
            return _Plan(
                sum(self.fields.term_doc_count(t) for t in ordered),
                matches,
                self._first_expansion(ordered, aliases),
            )
        if len(node.terms) == 1:
            plan = self.term_plan(node.terms[0], aliases)
            return _Plan(plan.estimate, matches, plan.build)
        terms = [self.term_plan(t, aliases) for t in node.terms]
        return self.intersection(terms, matches, ordered=True)

    def _first_expansion(self, ordered: list[bytes], aliases: list[bytes]) -> _Build:
        """A prefix's quick-exit union: the first expansion the document holds, found by
        reading the document's tokens rather than testing every expansion."""
        rank = {term: i for i, term in enumerate(ordered)}
        plans = [self.term_plan(t, aliases) for t in ordered]
        tokens = self.fields.tokens

        def build(label: int, doc: _Doc) -> _Result | None:
            best = len(ordered)
            for alias in aliases:
                for token in tokens(alias, label):
                    i = rank.get(token, best)
                    if i < best:
                        best = i
            if best == len(ordered):
                return None
            child = plans[best].build(label, doc)
            return None if child is None else _Result(_UNION, children=[child])

        return build

    def term_plan(self, term: bytes, aliases: list[bytes]) -> _Plan:
        template = self.term(term)
        has = self.fields.has_term

        def matches(label: int) -> bool:
            return any(has(a, term, label) for a in aliases)

        def build(label: int, doc: _Doc) -> _Result | None:
            freq, positions = doc.term(term)
            return _Result(
                _TERM,
                freq=freq,
                term=term,
                idf=template.idf,
                bm25_idf=template.bm25_idf,
                offsets=positions,
            )

        return _Plan(self.fields.term_doc_count(term), matches, build)

    def tag(self, node: TagFilter) -> _Plan:
        alias = node.field
        fold = self.fields.fold_tag
        values = sorted({fold(alias, v) for v in node.values})
        parts = [self._tag_value(alias, v) for v in values]
        for prefix in sorted({fold(alias, p) for p in node.prefixes}):
            expanded = [
                self._tag_value(alias, v) for v in self.fields.tags_with_prefix(alias, prefix)
            ]
            parts.append(
                _Plan(sum(p.estimate for p in expanded), _any(expanded), _union(expanded, True))
            )
        matches = self.labels(node)
        if len(parts) == 1:
            return _Plan(parts[0].estimate, matches, parts[0].build, parts[0].constant)
        return _Plan(sum(p.estimate for p in parts), matches, _union(parts, quick_exit=False))

    def _tag_value(self, alias: bytes, value: bytes) -> _Plan:
        df = self.fields.tag_doc_count(alias, value)
        idf, bm25 = _tfidf_idf(self.table_size, df), _bm25_idf(len(self.fields), df)
        tag_values = self.fields.tag_values
        result = _Result(_TERM, freq=1, term=value, idf=idf, bm25_idf=bm25)
        return _constant(df, lambda label: value in tag_values(alias, label), result)


def _is_phrase(node: FilterNode) -> bool:
    return isinstance(node, TextFilter) and not node.prefix and len(node.terms) > 1


def _any(parts: list[_Plan]) -> Callable[[int], bool]:
    return lambda label: any(p.matches(label) for p in parts)


def _union(parts: list[_Plan], quick_exit: bool) -> _Build:
    def build(label: int, doc: _Doc) -> _Result | None:
        children = []
        for part in parts:
            if part.matches(label):
                child = part.build(label, doc)
                if child is not None:
                    children.append(child)
                    if quick_exit:
                        break
        return _Result(_UNION, children=children) if children else None

    return build


def _root(fields: FieldIndexes, parsed: ParsedQuery, inkeys: int | None) -> _Build:
    planner = _Planner(fields)
    plan = planner.plan(parsed.filter)
    if inkeys is not None:
        ids = _Plan(inkeys, lambda label: True, lambda label, doc: _Result(_VIRTUAL, freq=0))
        # RediSearch prepends the id filter to a top-level intersection or exact phrase
        # (its QN_PHRASE), else puts both in a new intersection
        root = parsed.filter
        ordered = False
        if isinstance(root, And) and parsed.knn is None:
            parts = [ids, *(planner.plan(c) for c in root.children)]
        elif _is_phrase(root) and parsed.knn is None:
            assert isinstance(root, TextFilter)
            aliases = planner.aliases(root)
            parts = [ids, *(planner.term_plan(t, aliases) for t in root.terms)]
            ordered = True
        else:
            parts = [ids, plan]
        plan = planner.intersection(parts, plan.matches, ordered=ordered)
    if parsed.knn is None:
        return plan.build
    if isinstance(parsed.filter, MatchAll) and inkeys is None:
        return lambda label, doc: _Result(_METRIC, freq=0)
    inner = plan.build

    def hybrid(label: int, doc: _Doc) -> _Result | None:
        child = inner(label, doc)
        if child is None:
            return None
        return _Result(_HYBRID, children=[_Result(_METRIC, freq=0), child])

    return hybrid


# -- slop: RediSearch's IndexResult_MinOffsetDelta -----------------------------------------


def _has_offsets(r: _Result) -> bool:
    if r.kind == _TERM:
        return len(r.offsets) > 0
    if r.kind in (_INTERSECT, _UNION):
        mask = 0
        for c in r.children:
            mask |= c.kind
        return mask not in (_VIRTUAL, _NUMERIC)
    return False


def _offsets(r: _Result) -> list[int]:
    if r.kind == _TERM:
        return list(r.offsets)
    if r.kind & _AGGREGATE:
        if len(r.children) == 1:
            return _offsets(r.children[0])
        merged: list[int] = []
        for c in r.children:
            merged.extend(_offsets(c))
        merged.sort()
        return merged
    return []


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _slop(r: _Result) -> int:
    if not r.kind & _AGGREGATE or len(r.children) <= 1:
        return 1
    children = r.children
    num = len(children)
    dist = 0
    i = 0
    while i < num:
        while i < num and not _has_offsets(children[i]):
            i += 1
        if i == num:
            break
        v1 = _offsets(children[i])
        i += 1
        while i < num and not _has_offsets(children[i]):
            i += 1
        if i == num:
            break
        v2 = _offsets(children[i])
        a = b = 0
        p1 = v1[0] if v1 else _EOF
        p2 = v2[0] if v2 else _EOF
        cd = _int32(abs(p2 - p1))
        while cd > 1 and p1 != _EOF and p2 != _EOF:
            cd = min(_int32(abs(p2 - p1)), cd)
            if p2 > p1:
                a += 1
                p1 = v1[a] if a < len(v1) else _EOF
            else:
                b += 1
                p2 = v2[b] if b < len(v2) else _EOF
        dist = _int32(dist + cd * cd)
    return int(math.sqrt(dist)) if dist else num - 1


# -- the scorers ------------------------------------------------------------------------

_Explain = Explanation | None


def _tfidf_rec(r: _Result, explain: bool) -> tuple[float, _Explain]:
    if r.kind == _TERM:
        res = r.weight * float(r.freq) * r.idf
        text = f"(TFIDF {res:.2f} = Weight {r.weight:.2f} * TF {r.freq} * IDF {r.idf:.2f})"
        return res, Explanation(text) if explain else None
    if r.kind & _AGGREGATE:
        total = 0.0
        notes = []
        for c in r.children:
            value, note = _tfidf_rec(c, explain)
            total += value
            notes.append(note)
        node = None
        if explain:
            text = f"(Weight {r.weight:.2f} * total children TFIDF {total:.2f})"
            node = Explanation(text, tuple(n for n in notes if n is not None))
        return r.weight * total, node
    res = r.weight * float(r.freq)
    text = f"(TFIDF {res:.2f} = Weight {r.weight:.2f} * Frequency {r.freq})"
    return res, Explanation(text) if explain else None


def _tfidf(
    r: _Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    norm = doc.length if docnorm else doc.max_freq
    raw, child = _tfidf_rec(r, explain)
    score = _div(raw, norm)
    if score < stats.min_score:
        text = f"TFIDF score of {score:.2f} is smaller than minimum score {stats.min_score:.2f}"
        return 0.0, Explanation(text, (child,) if child else ()) if explain else None
    slop = _slop(r)
    score /= slop
    if not explain:
        return score, None
    text = f"Final TFIDF : words TFIDF {raw:.2f} * document score 1.00 / norm {norm} / slop {slop}"
    return score, Explanation(text, (child,) if child else ())


def _bm25_rec(r: _Result, stats: _Stats, explain: bool) -> tuple[float, _Explain]:
    f = float(r.freq)
    avg = stats.avg_len
    if r.kind == _TERM:
        ret = r.idf * f / (f + _K1 * (0.5 + 0.5 * avg))
        text = (
            f"({ret:.2f} = IDF {r.idf:.2f} * F {r.freq} / (F {r.freq} + k1 1.2 * "
            f"(1 - b 0.5 + b 0.5 * Average Len {avg:.2f})))"
        )
        return ret, Explanation(text) if explain else None
    if r.kind & _AGGREGATE:
        total = 0.0
        notes = []
        for c in r.children:
            value, note = _bm25_rec(c, stats, explain)
            total += value
            notes.append(note)
        node = None
        if explain:
            text = f"(Weight {r.weight:.2f} * children BM25 {total:.2f})"
            node = Explanation(text, tuple(n for n in notes if n is not None))
        return total * r.weight, node
    if f:
        ret = r.weight * f / (f + _K1 * (0.5 + 0.5 * avg))
        text = (
            f"({ret:.2f} = Weight {r.weight:.2f} * F {r.freq} / (F {r.freq} + k1 1.2 * "
            f"(1 - b 0.5 + b 0.5 * Average Len {avg:.2f})))"
        )
        return ret, Explanation(text) if explain else None
    return 0.0, Explanation("Frequency 0 -> value 0") if explain else None


def _bm25(
    r: _Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    raw, child = _bm25_rec(r, stats, explain)
    if raw < stats.min_score:
        # RediSearch prints the score where the minimum belongs; so do we
        text = f"BM25 score of {raw:.2f} is smaller than minimum score {raw:.2f}"
        return 0.0, Explanation(text, (child,) if child else ()) if explain else None
    slop = _slop(r)
    score = raw / slop
    if not explain:
        return score, None
    text = f"Final BM25 : words BM25 {raw:.2f} * document score 1.00 / slop {slop}"
    return score, Explanation(text, (child,) if child else ())


def _bm25std_term(
    idf: float, f: float, doc: DocStats, stats: _Stats, explain: bool, term: str
) -> tuple[float, _Explain]:
    avg = stats.avg_len
    ratio = _div(float(_B_STD * np.float32(doc.length)), avg)
    ret = idf * f * _K1_PLUS_1 / (f + _K1 * (0.5 + ratio))
    if not explain:
        return ret, None
    text = (
        f"{term}: ({ret:.2f} = IDF {idf:.2f} * (F {f:.2f} * (k1 1.2 + 1)) / (F {f:.2f} + k1 "
        f"1.2 * (1 - b 0.5 + b 0.5 * Doc Len {doc.length} / Average Doc Len {avg:.2f})))"
    )
    return ret, Explanation(text)


def _bm25std_rec(r: _Result, doc: DocStats, stats: _Stats, explain: bool) -> tuple[float, _Explain]:
    f = float(r.freq)
    if r.kind == _TERM:
        term = r.term.decode("utf-8", "replace")
        return _bm25std_term(r.bm25_idf, f, doc, stats, explain, term)
    if r.kind & _AGGREGATE:
        total = 0.0
        notes = []
        for c in r.children:
            value, note = _bm25std_rec(c, doc, stats, explain)
            total += value
            notes.append(note)
        node = None
        if explain:
            text = f"(Weight {r.weight:.2f} * children BM25 {total:.2f})"
            node = Explanation(text, tuple(n for n in notes if n is not None))
        return total * r.weight, node
    if r.kind == _VIRTUAL and f and r.weight:
        value, node = _bm25std_term(1.0, 1.0, doc, stats, explain, "*")
        return r.weight * value, node
    return 0.0, Explanation("Irrelevant token -> score is 0") if explain else None


def _bm25std(
    r: _Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    raw, child = _bm25std_rec(r, doc, stats, explain)
    if not explain:
        return raw, None
    text = f"Final BM25 : words BM25 {raw:.2f} * document score 1.00"
    return raw, Explanation(text, (child,) if child else ())


def _dismax_rec(r: _Result, explain: bool) -> tuple[float, _Explain]:
    if r.kind == _HYBRID:
        return _dismax_rec(r.children[1], explain)
    ret = 0.0
    node = None
    if r.kind in (_INTERSECT, _UNION):
        notes = []
        for c in r.children:
            value, note = _dismax_rec(c, explain)
            ret = ret + value if r.kind == _INTERSECT else max(ret, value)
            notes.append(note)
        if explain:
            text = f"{r.weight * ret:.2f} = Weight {r.weight:.2f} * children DISMAX {ret:.2f}"
            node = Explanation(text, tuple(n for n in notes if n is not None))
    else:
        ret = float(r.freq)
        if explain:
            text = f"DISMAX {r.weight * ret:.2f} = Weight {r.weight:.2f} * Frequency {r.freq}"
            node = Explanation(text)
    return r.weight * ret, node


def _dismax(
    r: _Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    return _dismax_rec(r, explain)


def _docscore(
    r: _Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    return 1.0, Explanation("Document's score is 1.00") if explain else None


def _hamming(
    r: _Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    return 0.0, Explanation("Payloads provided to scorer vary in length") if explain else None


_Scorer = Callable[[_Result, DocStats, _Stats, bool, bool], tuple[float, _Explain]]
_SCORERS: dict[bytes, tuple[_Scorer, bool]] = {
    b"TFIDF": (_tfidf, False),
    b"TFIDF.DOCNORM": (_tfidf, True),
    b"BM25": (_bm25, False),
    b"BM25STD": (_bm25std, False),
    b"DISMAX": (_dismax, False),
    b"DOCSCORE": (_docscore, False),
    b"HAMMING": (_hamming, False),
}


# -- entry points ------------------------------------------------------------------------


class Scorer:
    """One query's scorer over one index, a document at a time (RediSearch's RPScorer).

    ``scorer(label, min_score)`` is the label's score (and explanation when built with
    ``explain``), or None when the index no longer holds it. ``min_score`` is
    RediSearch's running minimum: TFIDF, TFIDF.DOCNORM and BM25 give 0 to a document
    below it (before the slop division), which is visible when SORTBY keeps documents
    whose score is below its heap's (see :mod:`store.index.sorting`). Raises ValueError
    for an unknown scorer name. Use under the engine lock.
    """

    def __init__(
        self,
        index: SearchIndex,
        parsed: ParsedQuery,
        scorer: bytes | None = None,
        *,
        inkeys: int | None = None,
        explain: bool = False,
    ) -> None:
        name = DEFAULT_SCORER if scorer is None else scorer
        try:
            self._func, self._docnorm = _SCORERS[name]
        except KeyError:
            raise ValueError(f"No such scorer {name.decode('utf-8', 'replace')}") from None
        self._fields = fields = index.fields
        num_docs = len(fields)
        self._stats = _Stats(num_docs, fields.total_length / num_docs if num_docs else 0.0)
        self._build = _root(fields, parsed, inkeys)
        self._explain = explain

    def __call__(self, label: int, min_score: float = 0.0) -> tuple[float, _Explain] | None:
        fields = self._fields
        if label not in fields:
            return None
        result = self._build(label, _Doc(fields, label))
        if result is None:
            return None
        self._stats.min_score = min_score
        return self._func(
            result, fields.doc_stats(label), self._stats, self._explain, self._docnorm
        )


def _score_all(
    index: SearchIndex,
    parsed: ParsedQuery,
    labels: Iterable[int],
    scorer: bytes | None,
    explain: bool,
    inkeys: int | None,
    deadline: Callable[[], bool] | None,
) -> dict[int, tuple[float, _Explain]]:
    score = Scorer(index, parsed, scorer, inkeys=inkeys, explain=explain)
    out: dict[int, tuple[float, _Explain]] = {}
    for n, label in enumerate(labels):
        if deadline is not None and n % 256 == 255 and deadline():
            break
        scored = score(label)
        if scored is not None:
            out[label] = scored
    return out


def text_scores(
    index: SearchIndex,
    parsed: ParsedQuery,
    labels: Iterable[int],
    scorer: bytes | None = None,
    *,
    inkeys: int | None = None,
    deadline: Callable[[], bool] | None = None,
) -> dict[int, float]:
    """Each of ``labels``' score under ``scorer`` (None: TFIDF, RediSearch 2.10's default).

    ``labels`` are documents ``parsed.filter`` matched (the caller evaluated it); a label
    the index no longer holds, or one the filter does not match, is left out. ``inkeys``
    is the number of documents an ``INKEYS`` list named (it shapes the score tree as on
    RediSearch). ``deadline``, polled every 256 documents, stops scoring early when it
    returns True: the labels scored so far are returned. Raises ValueError for an unknown
    scorer. Call under the engine lock (it reads the attribute indexes).
    """
    scored = _score_all(index, parsed, labels, scorer, False, inkeys, deadline)
    return {label: score for label, (score, _) in scored.items()}


def explain_scores(
    index: SearchIndex,
    parsed: ParsedQuery,
    labels: Iterable[int],
    scorer: bytes | None = None,
    *,
    inkeys: int | None = None,
    deadline: Callable[[], bool] | None = None,
) -> dict[int, tuple[float, Explanation]]:
    """:func:`text_scores` with RediSearch's EXPLAINSCORE explanation of each score."""
    scored = _score_all(index, parsed, labels, scorer, True, inkeys, deadline)
    return {
        label: (score, note if note is not None else Explanation(""))
        for label, (score, note) in scored.items()
    }


def rank(index: SearchIndex, scores: dict[int, float], limit: int | None = None) -> list[int]:
    """Labels best first as RediSearch ranks them: higher score first, ties (and NaN,
    which compares equal to everything) to the lower document id. With ``limit``, only
    the first ``limit`` labels (the rest are not ordered)."""
    fields = index.fields
    if not any(math.isnan(s) for s in scores.values()):
        keys = ((-score, fields.doc_stats(label).doc_id, label) for label, score in scores.items())
        if limit is not None and limit < len(scores):
            return [label for _, _, label in heapq.nsmallest(limit, keys)]
        return [label for _, _, label in sorted(keys)]

    def better(a: tuple[float, int, int], b: tuple[float, int, int]) -> int:
        if a[0] < b[0]:
            return 1
        if a[0] > b[0]:
            return -1
        return -1 if a[1] < b[1] else 1

    keyed = [(score, fields.doc_stats(label).doc_id, label) for label, score in scores.items()]
    keyed.sort(key=cmp_to_key(better))
    return [label for _, _, label in keyed]
