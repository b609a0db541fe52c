"""The FT.SEARCH filter tree and KNN clause that :func:`store.index.query.parse_query` returns.

Every node is a frozen dataclass; :data:`FilterNode` is their union. The tree is
schema-agnostic: a filter naming a field the index lacks, or a field of another type, simply
matches nothing when evaluated (RediSearch 2.10 does the same).
:class:`store.index.fields.FieldIndexes` evaluates it. Build compound nodes with
:func:`make_and`, :func:`make_or` and :func:`make_not`, which flatten nested nodes of the
same kind and fold ``MatchAll``/``MatchNone`` children away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .geo import GeoFilter

__all__ = [
    "And",
    "FilterNode",
    "KnnClause",
    "MatchAll",
    "MatchNone",
    "Not",
    "NumericFilter",
    "OptionalFilter",
    "Or",
    "ParsedQuery",
    "TagFilter",
    "TextFilter",
    "VectorRange",
    "has_window",
    "make_and",
    "make_not",
    "make_or",
]


@dataclass(frozen=True)
class MatchAll:
    """Every document of the index (``*``)."""


@dataclass(frozen=True)
class MatchNone:
    """No document (an empty query, or one made of stop words only)."""


@dataclass(frozen=True)
class TagFilter:
    """``@field:{a|b|pre*|*fix}``: any value equal to one of ``values``, starting with a
    prefix, or matching a pattern.

    Values are unescaped but not case folded: folding depends on the field's CASESENSITIVE.
    """

    field: bytes
    values: frozenset[bytes]
    prefixes: frozenset[bytes] = frozenset()
    patterns: tuple[tuple[str, bytes], ...] = ()
    """``(kind, text)`` in query order: ``suffix`` (``*fix``), ``contains`` (``*ain*``),
    ``wildcard`` (``w'pa?t*'``); each matches the values it expands to
    (:mod:`store.index.term_patterns`)."""
    weight: float = 1.0
    """``=>{$weight: w}``: each value's result and their union are weighted (scores)."""


@dataclass(frozen=True)
class NumericFilter:
    """``@field:[lo hi]``; bounds may be infinite; ``lo > hi`` matches nothing."""

    field: bytes
    lo: float
    hi: float
    lo_inclusive: bool = True
    hi_inclusive: bool = True
    weight: float = 1.0
    """``=>{$weight: w}``: shown by FT.EXPLAIN; no effect on scores, as in RediSearch."""

    def contains(self, value: float) -> bool:
        above = value >= self.lo if self.lo_inclusive else value > self.lo
        below = value <= self.hi if self.hi_inclusive else value < self.hi
        return above and below


@dataclass(frozen=True)
class TextFilter:
    """A TEXT match: one term, a term prefix (``prefix``) or other pattern (``pattern``), or an
    exact phrase (2+ terms).

    ``fields`` are the TEXT fields searched (``@a|b:``); ``None`` means every TEXT field (a
    term without ``@field:``). Terms are case folded with
    :func:`store.index.schema.fold_text`. As in RediSearch, token positions run on across a
    document's TEXT fields in schema order, so a phrase over several fields can span the
    end of one field and the start of the next.
    """

    fields: tuple[bytes, ...] | None
    terms: tuple[bytes, ...]
    prefix: bool = False
    expansions: tuple[bytes, ...] = ()
    """A single plain term's stem expansions (:func:`store.index.stemming.query_expansions`):
    the node matches the union of ``terms[0]`` and these, scored as RediSearch's union of
    the term and its ``(expanded)`` children."""
    pattern: str = ""
    """For a one-term pattern: ``suffix`` (``*fix``), ``contains`` (``*fix*``), ``wildcard``
    (``w'pa?t*'``) or ``fuzzy`` (``%term%``, ``distance`` 1..3). Such a node, like a prefix,
    matches the union of the index's terms the pattern expands to (at most
    :data:`store.index.fields.MAX_EXPANSIONS`)."""
    distance: int = 0
    exact: bool = False
    """A one-term ``"phrase"``: matched as the term (never expanded), shown as EXACT."""
    weight: float = 1.0
    """``=>{$weight: w}``: the term's result (not its expansions'), a pattern's union, a
    phrase's intersection are weighted (scores)."""


@dataclass(frozen=True)
class And:
    """An intersection. ``=>{$weight: w; $slop: n; $inorder: true}`` weight its result
    and restrict its matches: at most ``slop`` positions between its terms (in query order
    with ``inorder``), overriding FT.SEARCH's SLOP for this intersection; ``inorder`` adds
    to FT.SEARCH's INORDER, never removes it (RediSearch's ``Query_EvalPhraseNode``)."""

    children: tuple[FilterNode, ...]
    weight: float = 1.0
    slop: int = -1
    inorder: bool = False

    @property
    def attributed(self) -> bool:
        return self.weight != 1.0 or self.slop != -1 or self.inorder


@dataclass(frozen=True)
class Or:
    """A union; ``=>{$weight: w}`` weights its result."""

    children: tuple[FilterNode, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class OptionalFilter:
    """``~child``: every document; those ``child`` matches score by it (RediSearch's
    optional node: it changes ranking, never the result set)."""

    child: FilterNode


@dataclass(frozen=True)
class Not:
    """Every document of the index that ``child`` does not match."""

    child: FilterNode


@dataclass(frozen=True)
class VectorRange:
    """``@field:[VECTOR_RANGE radius $blob]=>{$YIELD_DISTANCE_AS: d; $EPSILON: e}``.

    Matches the documents whose vector lies within ``radius`` of ``vector`` (the raw query
    blob, checked against the field's DIM by the caller). ``epsilon`` is the attribute's
    raw text: whether it is valid depends on the field's algorithm (RediSearch refuses it
    on FLAT), which only the index knows. ``yield_as`` names the distance in results.
    Unlike the other leaves this one is not evaluated by
    :class:`store.index.fields.FieldIndexes` but by :mod:`store.index.vector_range`.
    """

    field: bytes
    radius: float
    vector: bytes
    epsilon: bytes | None = None
    yield_as: bytes | None = None


FilterNode = (
    MatchAll
    | MatchNone
    | TagFilter
    | NumericFilter
    | TextFilter
    | VectorRange
    | GeoFilter
    | And
    | Or
    | Not
    | OptionalFilter
)


@dataclass(frozen=True)
class KnnClause:
    """``=>[KNN k @field $blob ...]`` with parameters substituted.

    ``vector`` is the raw query blob (the caller checks its size against the field's DIM);
    ``score_alias`` names the distance in results (``__<field>_score`` unless ``AS``).
    ``hybrid_policy`` is ``b"ADHOC_BF"``, ``b"BATCHES"`` or ``None``. ``ef_runtime`` and
    ``epsilon`` are checked against the field's algorithm by the index.
    """

    k: int
    field: bytes
    vector: bytes
    ef_runtime: int | None = None
    score_alias: bytes = b""
    hybrid_policy: bytes | None = None
    batch_size: int | None = None
    epsilon: bytes | None = None
    """A range-query attribute given to KNN: refused by the index, whose algorithm decides
    RediSearch's error text (``Invalid option`` on FLAT)."""

    def with_vector(self, vector: bytes) -> KnnClause:
        """This clause for another query blob: every other field kept (what
        ``dataclasses.replace`` does, at a fifth of its cost on the per-query path)."""
        return KnnClause(self.k, self.field, vector, self.ef_runtime, self.score_alias,
                         self.hybrid_policy, self.batch_size, self.epsilon)  # fmt: skip


@dataclass(frozen=True)
class ParsedQuery:
    filter: FilterNode
    knn: KnnClause | None = None


def has_window(node: FilterNode) -> bool:
    """Whether an intersection in ``node`` has its own ``$slop`` / ``$inorder``: then
    matching documents must be checked against their positions (as FT.SEARCH's SLOP)."""
    if isinstance(node, And) and (node.slop != -1 or node.inorder):
        return True
    if isinstance(node, And | Or):
        return any(has_window(c) for c in node.children)
    if isinstance(node, Not | OptionalFilter):
        return has_window(node.child)
    return False


def make_and(children: Iterable[FilterNode]) -> FilterNode:
    """An intersection, flattened: MatchAll children vanish, one MatchNone empties it."""
    flat: list[FilterNode] = []
    for child in children:
        if isinstance(child, MatchNone):
            return child
        if isinstance(child, And) and not child.attributed:
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
        if isinstance(child, Or) and child.weight == 1.0:
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
