"""Per-document result trees for text scoring: RediSearch 2.10's index iterators replayed.

:func:`build_root` compiles a parsed query once (a plan per query node) into a function
that gives a matched document its :class:`Result` tree, the shape RediSearch's iterators
produce for it and its scorers walk (:mod:`store.index.scoring` says how each query node
maps to a result). :func:`slop` is RediSearch's ``IndexResult_MinOffsetDelta`` over such a
tree. Results are plain data; the scorers read them and never mutate them (results of
filters without text are built once and shared by every document).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .corpus_stats import view as corpus_view
from .fields import FieldIndexes
from .phonetics import is_phonetic
from .proximity import positions_within
from .query import (
    And,
    FilterNode,
    GeoFilter,
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
)
from .stemming import is_stem
from .vector_range import RangeResults, range_leaves
from .vector_range import evaluate as evaluate_ranges

__all__ = [
    "AGGREGATE",
    "HYBRID",
    "INTERSECT",
    "METRIC",
    "NUMERIC",
    "TERM",
    "UNION",
    "VIRTUAL",
    "Build",
    "ConstantBuild",
    "DocText",
    "Result",
    "TermBuild",
    "UnionOfConstants",
    "build_root",
    "slop",
    "within_range",
]

# RediSearch's RSResultType bits: an aggregate's type mask ORs its children's types
UNION, INTERSECT, TERM, VIRTUAL, NUMERIC, METRIC, HYBRID = 1, 2, 4, 8, 16, 32, 64
AGGREGATE = UNION | INTERSECT | HYBRID
_EOF = 0xFFFFFFFF
_INT_MAX = 2**31 - 1


@dataclass(slots=True)
class Result:
    """One node of a document's result tree (RediSearch's ``RSIndexResult``)."""

    kind: int
    freq: int = 0
    weight: float = 1.0
    term: bytes = b""
    idf: float = 0.0
    bm25_idf: float = 0.0
    offsets: tuple[int, ...] | list[int] = ()
    children: list[Result] = field(default_factory=list)


# -- term statistics ------------------------------------------------------------------


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


# -- per-document view of the text ---------------------------------------------------------


class DocText:
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
            derived = is_stem(term) or is_phonetic(term)
            for alias in fields.text_fields():
                tokens = fields.tokens(alias, label)
                if derived:
                    found = fields.derived_occurrences(alias, label, term)
                    freq += fields.derived_weight(alias, term) * len(found)
                    positions += [pos + 1 + i for i in found]
                elif term in tokens:
                    w = fields.weight(alias)
                    for i, token in enumerate(tokens, pos + 1):
                        if token == term:
                            freq += w
                            positions.append(i)
                pos += len(tokens)
            held = self._terms[term] = (freq, positions)
        return held


# -- plans: the query tree compiled once, evaluated per document --------------------------

Build = Callable[[int, DocText], "Result | None"]


@dataclass(slots=True)
class _Plan:
    estimate: int
    matches: Callable[[int], bool]
    build: Build
    constant: Result | None = None
    """The result every matching document gets, when it does not depend on the document
    (filters without text): built once, shared, never mutated."""
    null: bool = False
    """RediSearch opens no iterator for it (a term no requested field holds, a tag value
    or numeric range with no document): a union leaves it out, and a union left with
    one child is that child (Query_EvalUnionNode)."""
    tag: tuple[bytes, bytes] | None = None
    """``(alias, folded value)`` of a plan that is one TAG value: its posting lists the
    labels it matches (:class:`UnionOfConstants` reads them as a column)."""


def _null_plan() -> _Plan:
    return _Plan(0, lambda label: False, lambda label, doc: None, None, True)


class ConstantBuild:
    """A :data:`Build` that gives every document the same ``result`` (a query without
    text): scorers may score a document from its statistics alone."""

    __slots__ = ("result",)

    def __init__(self, result: Result) -> None:
        self.result = result

    def __call__(self, label: int, doc: DocText) -> Result:
        return self.result


class TermBuild:
    """A :data:`Build` for one term: the document's frequency of ``template.term`` over
    its TEXT fields (:meth:`DocText.term`) and its positions, at ``weight``. A query that
    is this one term alone is scored from the frequency and the document's statistics."""

    __slots__ = ("template", "weight")

    def __init__(self, template: Result, weight: float) -> None:
        self.template = template
        self.weight = weight

    def __call__(self, label: int, doc: DocText) -> Result:
        t = self.template
        freq, positions = doc.term(t.term)
        return Result(
            TERM,
            freq=freq,
            weight=self.weight,
            term=t.term,
            idf=t.idf,
            bm25_idf=t.bm25_idf,
            offsets=positions,
        )


class UnionOfConstants:
    """A :data:`Build` for a union of TAG values (``@tag:{a|b}``): a document's result is
    the UNION of the constant results of the values it holds, so it depends on which it
    holds alone, and scorers may score a document from that and its statistics
    (``scoring._union_columns``). ``parts`` holds each value's ``(matches, result, tag)``
    in the union's order, ``tag`` being the ``(alias, folded value)`` whose posting lists
    its labels. The same results as the general union's build (``_union``, no quick
    exit)."""

    __slots__ = ("parts", "weight")

    def __init__(
        self,
        parts: list[tuple[Callable[[int], bool], Result, tuple[bytes, bytes]]],
        weight: float,
    ) -> None:
        self.parts = parts
        self.weight = weight

    def __call__(self, label: int, doc: DocText) -> Result | None:
        children = [result for matches, result, _ in self.parts if matches(label)]
        return Result(UNION, weight=self.weight, children=children) if children else None


PER_LABEL_QUESTIONS = 128
"""Questions a filter node's membership answers label by label before its whole label
set is built (:class:`_Members`): a posting lookup costs ~1 us, a set of 20k labels
~1.5 ms."""


class _Members:
    """Whether a label matches a filter node, answered only when asked:

    * a query scored from document statistics alone (``ConstantBuild``, ``TermBuild``)
      never asks, so the filter the caller evaluated to find the labels is not evaluated
      again;
    * the first :data:`PER_LABEL_QUESTIONS` questions (the ten hits of a KNN scored with
      ``WITHSCORES`` or ``ADDSCORES``) are answered from the postings, label by label,
      where the node has such a test (:meth:`FieldIndexes.membership`);
    * after that, or for other nodes, the node's labels are evaluated once and held.

    Ask under the engine lock, in the call that built the plan, as every plan is used."""

    __slots__ = ("_asked", "_contains", "_node", "_per_label", "_planner")

    def __init__(self, planner: _Planner, node: FilterNode) -> None:
        self._planner = planner
        self._node = node
        self._contains: Callable[[int], bool] | None = None
        self._per_label: Callable[[int], bool] | None = None
        self._asked = 0

    def __call__(self, label: int) -> bool:
        contains = self._contains
        if contains is not None:
            return contains(label)
        self._asked += 1
        if self._asked <= PER_LABEL_QUESTIONS:
            if self._asked == 1:
                self._per_label = self._planner.per_label(self._node)
            if self._per_label is not None:
                return self._per_label(label)
        contains = self._contains = self._planner.evaluate(self._node)
        return contains(label)


def _constant(estimate: int, matches: Callable[[int], bool], result: Result) -> _Plan:
    return _Plan(estimate, matches, ConstantBuild(result), result)


class _Planner:
    def __init__(
        self,
        fields: FieldIndexes,
        slop: int | None,
        inorder: bool,
        ranges: RangeResults | None = None,
    ) -> None:
        self.fields = fields
        self.stats = corpus_view(fields)  # the index's, or the cluster's (corpus_stats)
        self.ranges = ranges
        self.table_size = self.stats.num_docs + 1
        # SLOP / INORDER apply to every intersection but exact phrases (RediSearch's
        # Query_EvalPhraseNode); INORDER without SLOP allows any distance
        self.inorder = inorder
        self.slop = -1 if slop is None else slop
        self.max_slop = self.slop
        if inorder and self.max_slop == -1:
            self.max_slop = _INT_MAX
        self.check_range = self.max_slop >= 0 or inorder

    def labels(self, node: FilterNode) -> Callable[[int], bool]:
        return _Members(self, node)

    def per_label(self, node: FilterNode) -> Callable[[int], bool] | None:
        """A test of one label against ``node`` without evaluating it whole, where the
        attribute indexes have one (:meth:`FieldIndexes.membership`)."""
        if self.ranges is not None and range_leaves(node):
            return None
        return self.fields.membership(node)

    def evaluate(self, node: FilterNode) -> Callable[[int], bool]:
        """Whether a label matches ``node``: its labels, evaluated now."""
        if self.ranges is not None and range_leaves(node):
            found = evaluate_ranges(node, self.fields, self.fields.all_labels, self.ranges)
        else:
            found = self.fields.evaluate(node)
        if found is None:
            return lambda label: True
        return found.__contains__

    def term(self, term: bytes) -> Result:
        df = self.stats.term_docs(term)
        return Result(
            TERM,
            term=term,
            idf=_tfidf_idf(self.table_size, df),
            bm25_idf=_bm25_idf(self.stats.num_docs, df),
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
            if not self.fields.count(node):
                return _null_plan()
            return _constant(self.fields.count(every), self.labels(node), Result(NUMERIC, freq=1))
        if isinstance(node, GeoFilter):
            # RediSearch's geo iterator is a union of numeric range iterators (one per
            # geohash cell scanned): NUMERIC results estimated by the cells' entries
            count = self.fields.count(node)
            if not count:
                return _null_plan()
            return _constant(count, self.labels(node), Result(NUMERIC, freq=1))
        if isinstance(node, VectorRange):
            # RediSearch's range iterator yields METRIC results of frequency 0: they add
            # nothing to a text score, so range-only matches rank by document id
            if self.ranges is None:
                raise TypeError("scoring a VECTOR_RANGE leaf needs the query's RangeResults")
            hits = self.ranges.hits.get(node, {})
            return _constant(len(hits), hits.__contains__, Result(METRIC, freq=0))
        if isinstance(node, OptionalFilter):
            # RediSearch's optional iterator: the child's result where it matches, else a
            # VIRTUAL result of weight 0 (adds nothing); every document matches
            child = self.plan(node.child)
            absent = Result(VIRTUAL, freq=1, weight=0.0)

            def optional(label: int, doc: DocText) -> Result | None:
                found = child.build(label, doc) if child.matches(label) else None
                return absent if found is None else found

            return _Plan(self.fields.max_doc_id, lambda label: True, optional)
        if isinstance(node, Not):
            return _constant(self.fields.max_doc_id, self.labels(node), Result(VIRTUAL))
        if isinstance(node, MatchAll):
            return _constant(self.stats.num_docs, lambda label: True, Result(VIRTUAL, freq=1))
        if isinstance(node, MatchNone):
            return _Plan(0, lambda label: False, lambda label, doc: None)
        if isinstance(node, And):
            parts = [self.plan(c) for c in node.children]
            if not node.attributed:
                return self.intersection(parts, self.labels(node), ordered=self.inorder, check=True)
            # the node's $slop overrides SLOP, its $inorder adds to INORDER
            slop = node.slop if node.slop != -1 else self.slop
            inorder = self.inorder or node.inorder
            if inorder and slop == -1:
                slop = _INT_MAX
            return self.intersection(
                parts,
                self.labels(node),
                ordered=inorder,
                check=True,
                weight=node.weight,
                window=(slop, inorder),
            )
        if isinstance(node, Or):
            parts = [p for p in (self.plan(c) for c in node.children) if not p.null]
            if not parts:
                return _null_plan()
            if len(parts) == 1:
                return parts[0]
            return _Plan(
                sum(p.estimate for p in parts),
                self.labels(node),
                _union(parts, quick_exit=False, weight=node.weight),
            )
        raise TypeError(f"not a filter node: {node!r}")

    def intersection(
        self,
        parts: list[_Plan],
        matches: Callable[[int], bool],
        *,
        ordered: bool,
        check: bool = False,
        weight: float = 1.0,
        window: tuple[int, bool] | None = None,
    ) -> _Plan:
        """An intersection of ``parts``; with ``check``, one that SLOP / INORDER (when
        given; ``window`` is a node's own (slop, inorder), else the query's) restrict: a
        document whose positions are out of range does not match."""
        if window is None:
            check = check and self.check_range
            max_slop, inorder = self.max_slop, self.inorder
        else:
            max_slop, inorder = window
            check = check and (max_slop >= 0 or inorder)
        if not ordered:
            # RediSearch's cmpIter: fewest expected results first; an intersection child
            # estimates 0 (its count times the integer 1 / number of its children)
            parts = sorted(parts, key=lambda p: p.estimate)

        if all(p.constant is not None for p in parts):
            children = [p.constant for p in parts if p.constant is not None]
            return _constant(0, matches, Result(INTERSECT, weight=weight, children=children))

        def build(label: int, doc: DocText) -> Result | None:
            children = []
            for part in parts:
                child = part.build(label, doc)
                if child is None:
                    return None
                children.append(child)
            result = Result(INTERSECT, weight=weight, children=children)
            if check and not within_range(result, max_slop, inorder):
                return None
            return result

        return _Plan(0, matches, build)

    def aliases(self, node: TextFilter) -> list[bytes]:
        """The TEXT fields ``node`` searches."""
        fields = self.fields.text_fields()
        return list(fields) if node.fields is None else [a for a in node.fields if a in fields]

    def text(self, node: TextFilter) -> _Plan:
        aliases = self.aliases(node)
        matches = self.labels(node)
        if node.prefix or node.pattern:
            expansions: dict[bytes, None] = {}
            for alias in aliases:
                for term in self.fields.pattern_terms(alias, node):
                    expansions[term] = None
            # the terms trie is sorted by bytes (Trie_Sort_Lex): its walk is byte order
            ordered = sorted(expansions)[: self.fields.limits.max_expansions]
            if not ordered:
                return _null_plan()
            return _Plan(
                sum(self.stats.term_docs(t) for t in ordered),
                matches,
                self._first_expansion(ordered, aliases, node.weight),
            )
        if node.expansions:
            # RediSearch's expanded token: a union of the term (of the node's weight) and
            # its stems, terms no requested field holds left out, one left standing for
            # the union
            words = (node.terms[0], *node.expansions)
            weights = (node.weight, *(1.0 for _ in node.expansions))
            parts = [
                self.text(TextFilter(node.fields, (w,), weight=weight))
                for w, weight in zip(words, weights, strict=True)
            ]
            parts = [p for p in parts if not p.null]
            if not parts:
                return _null_plan()
            if len(parts) == 1:
                return _Plan(parts[0].estimate, matches, parts[0].build)
            return _Plan(sum(p.estimate for p in parts), matches, _union(parts, quick_exit=False))
        if len(node.terms) == 1:
            # a term no searched field holds opens no iterator (a union drops it): whether
            # a document of the index holds it there (of the cluster, across shards)
            if not self.stats.term_present(aliases, node.terms[0]):
                return _null_plan()
            # a one-term "phrase" is its term: RediSearch drops the phrase and its weight
            weight = 1.0 if node.exact else node.weight
            plan = self.term_plan(node.terms[0], aliases, weight)
            return _Plan(plan.estimate, matches, plan.build)
        terms = [self.term_plan(t, aliases) for t in node.terms]
        return self.intersection(terms, matches, ordered=True, weight=node.weight)

    def _first_expansion(self, ordered: list[bytes], aliases: list[bytes], weight: float) -> Build:
        """A prefix's quick-exit union: the first expansion the document holds, found by
        reading the document's tokens rather than testing every expansion. A weighted
        pattern weights the union, not its terms (RediSearch's ``Query_EvalPrefixNode``)."""
        rank = {term: i for i, term in enumerate(ordered)}
        plans = [self.term_plan(t, aliases) for t in ordered]
        tokens = self.fields.tokens

        if any(is_stem(t) or is_phonetic(t) for t in ordered):  # derived terms are no tokens

            def first(label: int, doc: DocText) -> Result | None:
                for plan in plans:
                    if plan.matches(label):
                        child = plan.build(label, doc)
                        if child is None:
                            return None
                        return Result(UNION, weight=weight, children=[child])
                return None

            return first

        def build(label: int, doc: DocText) -> Result | None:
            best = len(ordered)
            for alias in aliases:
                for token in tokens(alias, label):
                    i = rank.get(token, best)
                    if i < best:
                        best = i
            if best == len(ordered):
                return None
            child = plans[best].build(label, doc)
            return None if child is None else Result(UNION, weight=weight, children=[child])

        return build

    def term_plan(self, term: bytes, aliases: list[bytes], weight: float = 1.0) -> _Plan:
        has = self.fields.has_term

        def matches(label: int) -> bool:
            return any(has(a, term, label) for a in aliases)

        build = TermBuild(self.term(term), weight)
        return _Plan(self.stats.term_docs(term), matches, build)

    def tag(self, node: TagFilter) -> _Plan:
        alias = node.field
        fold = self.fields.fold_tag
        # a weighted tag node weights each value's reader and every union above them
        # (RediSearch's query_EvalTagNode)
        w = node.weight
        values = sorted({fold(alias, v) for v in node.values})
        parts = [self._tag_value(alias, v, w) for v in values]
        for prefix in sorted({fold(alias, p) for p in node.prefixes}):
            expanded = [
                self._tag_value(alias, v, w) for v in self.fields.tags_with_prefix(alias, prefix)
            ]
            parts.append(
                _Plan(sum(p.estimate for p in expanded), _any(expanded), _union(expanded, True, w))
                if expanded
                else _null_plan()
            )
        for kind, text in node.patterns:
            matched = self.fields.tags_matching(alias, kind, text)
            expanded = [self._tag_value(alias, v, w) for v in matched]
            parts.append(
                _Plan(sum(p.estimate for p in expanded), _any(expanded), _union(expanded, True, w))
                if expanded
                else _null_plan()
            )
        matches = self.labels(node)
        if len(parts) == 1:
            only = parts[0]
            return _Plan(only.estimate, matches, only.build, only.constant, only.null)
        # several values: a union of those with documents, even of one (query_EvalTagNode)
        parts = [p for p in parts if not p.null]
        if not parts:
            return _null_plan()
        union: Build = _union(parts, quick_exit=False, weight=w)
        constants = [(p.matches, p.constant, p.tag) for p in parts]
        if all(c is not None and t is not None for _, c, t in constants):
            union = UnionOfConstants(constants, w)  # type: ignore[arg-type]
        return _Plan(sum(p.estimate for p in parts), matches, union)

    def _tag_value(self, alias: bytes, value: bytes, weight: float = 1.0) -> _Plan:
        df = self.stats.tag_docs(alias, value)
        idf, bm25 = _tfidf_idf(self.table_size, df), _bm25_idf(self.stats.num_docs, df)
        tag_values = self.fields.tag_values
        result = Result(TERM, freq=1, weight=weight, term=value, idf=idf, bm25_idf=bm25)
        plan = _constant(df, lambda label: value in tag_values(alias, label), result)
        plan.null = df == 0
        plan.tag = (alias, value)
        return plan


def _is_phrase(node: FilterNode) -> bool:
    return isinstance(node, TextFilter) and not node.prefix and len(node.terms) > 1


def _any(parts: list[_Plan]) -> Callable[[int], bool]:
    return lambda label: any(p.matches(label) for p in parts)


def _union(parts: list[_Plan], quick_exit: bool, weight: float = 1.0) -> Build:
    def build(label: int, doc: DocText) -> Result | None:
        children = []
        for part in parts:
            if part.matches(label):
                child = part.build(label, doc)
                if child is not None:
                    children.append(child)
                    if quick_exit:
                        break
        return Result(UNION, weight=weight, children=children) if children else None

    return build


def build_root(
    fields: FieldIndexes,
    parsed: ParsedQuery,
    inkeys: int | None,
    *,
    slop: int | None = None,
    inorder: bool = False,
    ranges: RangeResults | None = None,
) -> Build:
    """The function giving a matched document its result tree, or None when the document
    does not match after all (SLOP / INORDER out of range, or a union none of whose
    terms it holds)."""
    planner = _Planner(fields, slop, inorder, ranges)
    plan = planner.plan(parsed.filter)
    if inkeys is not None:
        ids = _constant(inkeys, lambda label: True, Result(VIRTUAL, freq=0))
        # RediSearch prepends the id filter to a top-level intersection or exact phrase
        # (its QN_PHRASE), else puts both in a new intersection; a KNN query without a
        # filter takes it as its only filter
        root = parsed.filter
        ordered = False
        if isinstance(root, MatchAll) and parsed.knn is not None:
            parts = [ids]
        elif isinstance(root, And) and parsed.knn is None:
            parts = [ids, *(planner.plan(c) for c in root.children)]
        elif _is_phrase(root) and parsed.knn is None:
            assert isinstance(root, TextFilter)
            aliases = planner.aliases(root)
            parts = [ids, *(planner.term_plan(t, aliases) for t in root.terms)]
            ordered = True
        else:
            parts = [ids, plan]
        if len(parts) == 1:
            plan = parts[0]
        else:
            ordered = ordered or planner.inorder
            plan = planner.intersection(parts, plan.matches, ordered=ordered, check=True)
    if parsed.knn is None:
        return plan.build
    if isinstance(parsed.filter, MatchAll) and inkeys is None:
        return lambda label, doc: Result(METRIC, freq=0)
    inner = plan.build

    def hybrid(label: int, doc: DocText) -> Result | None:
        child = inner(label, doc)
        if child is None:
            return None
        return Result(HYBRID, children=[Result(METRIC, freq=0), child])

    return hybrid


# -- slop: RediSearch's IndexResult_MinOffsetDelta -----------------------------------------


def _has_offsets(r: Result) -> bool:
    if r.kind == TERM:
        return len(r.offsets) > 0
    if r.kind in (INTERSECT, UNION):
        mask = 0
        for c in r.children:
            mask |= c.kind
        return mask not in (VIRTUAL, NUMERIC)
    return False


def _offsets(r: Result) -> list[int]:
    if r.kind == TERM:
        return list(r.offsets)
    if r.kind & AGGREGATE:
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


def slop(r: Result) -> int:
    if not r.kind & AGGREGATE or len(r.children) <= 1:
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


# -- SLOP / INORDER: RediSearch's IndexResult_IsWithinRange ---------------------------------


def within_range(r: Result, max_slop: int, inorder: bool) -> bool:
    """Whether an intersection's children have positions at most ``max_slop`` apart (in
    query order with ``inorder``), counting only children that have positions."""
    if r.kind & (TERM | VIRTUAL | NUMERIC | METRIC) or len(r.children) <= 1:
        return True
    lists = [_offsets(c) for c in r.children if _has_offsets(c)]
    if not lists:
        return True
    return positions_within(lists, max_slop, inorder)
