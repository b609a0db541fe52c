"""Filter trees holding ``VECTOR_RANGE`` leaves, evaluated to label sets and distances.

:class:`store.index.fields.FieldIndexes` evaluates the attribute leaves (tags, numbers,
text); a :class:`~store.index.query.VectorRange` leaf needs a vector search instead. The
search side (:meth:`store.index.search_index.SearchIndex.range`) runs every range leaf of a
query first, outside the engine lock, and collects the answers in a :class:`RangeResults`;
:func:`evaluate` then combines them with the attribute leaves under the lock. Subtrees
without a range leaf go to ``FieldIndexes.evaluate`` whole, so its planning (smallest
child first, predicates for large children) still applies to them.

Distances a leaf names with ``$YIELD_DISTANCE_AS`` are reported for a result when the leaf
takes part in that result's match, as RediSearch's iterators decide: a union reports the
children that matched the result, an intersection all its children (it matched only if
they all did), a negation none. So in ``(range1 range2) | (@num:[..] @t:x)`` a result of
the second branch that is within range2 but not range1 carries no distance: the
intersection did not match it (checked against RediSearch 2.10 by
tests/server/test_rs_vecsim_queries.py; its ``test_multiple_range_queries``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .fields import FieldIndexes
from .query import And, FilterNode, Not, OptionalFilter, Or, VectorRange, make_and

__all__ = ["RangeResults", "evaluate", "range_leaves"]


@dataclass
class RangeResults:
    """The answer of each range leaf of one query: ``{leaf: {label: distance}}``."""

    hits: dict[VectorRange, dict[int, float]] = field(default_factory=dict)
    yielding: list[VectorRange] = field(default_factory=list)
    """Leaves with ``$YIELD_DISTANCE_AS``, not negated, in query order."""
    root: FilterNode | None = None
    """The filter :func:`evaluate` ran on (None: not evaluated yet)."""
    members: Callable[[FilterNode], set[int] | None] | None = None
    """The labels a node of ``root`` matches (None: every label), memoised."""

    def yields(self, label: int) -> dict[bytes, float]:
        """``{name: distance}`` for the yielding leaves that take part in ``label``'s
        match (the module's docstring); every leaf that matched it if the filter was not
        evaluated through :func:`evaluate`."""
        taking_part = None
        if self.root is not None and self.members is not None:
            taking_part = set(_taking_part(self.root, label, self.members))
        out: dict[bytes, float] = {}
        for leaf in self.yielding:
            if taking_part is not None and leaf not in taking_part:
                continue
            distance = self.hits[leaf].get(label)
            if distance is not None and leaf.yield_as is not None:
                out[leaf.yield_as] = distance
        return out

    @property
    def yield_names(self) -> list[bytes]:
        return [leaf.yield_as for leaf in self.yielding if leaf.yield_as is not None]


def range_leaves(node: FilterNode, negated: bool = False) -> list[tuple[VectorRange, bool]]:
    """Every range leaf of ``node`` in query order, with whether a negation covers it."""
    if isinstance(node, VectorRange):
        return [(node, negated)]
    if isinstance(node, Not):
        return range_leaves(node.child, not negated)
    if isinstance(node, OptionalFilter):
        return range_leaves(node.child, negated)
    if isinstance(node, And | Or):
        return [leaf for child in node.children for leaf in range_leaves(child, negated)]
    return []


def _taking_part(
    node: FilterNode, label: int, members: Callable[[FilterNode], set[int] | None]
) -> list[VectorRange]:
    """The range leaves of ``node`` (which matched ``label``) that take part in the match."""
    if isinstance(node, VectorRange):
        return [node]
    if isinstance(node, Not) or not range_leaves(node):
        return []
    if isinstance(node, And):  # matched: every child did
        return [leaf for c in node.children for leaf in _taking_part(c, label, members)]
    children = node.children if isinstance(node, Or) else []
    if isinstance(node, OptionalFilter):
        children = [node.child]
    out: list[VectorRange] = []
    for c in children:
        labels = members(c)
        if labels is None or label in labels:
            out += _taking_part(c, label, members)
    return out


def evaluate(
    node: FilterNode,
    fields: FieldIndexes,
    everything: Callable[[], set[int]],
    results: RangeResults,
) -> set[int] | None:
    """The labels ``node`` matches (None: every label), range leaves read from ``results``.

    ``everything`` returns the set of every indexed label (for a negated range leaf).
    ``results`` keeps ``node`` as its root and the subtrees' label sets, for
    :meth:`RangeResults.yields`.
    """
    memo: dict[int, set[int] | None] = {}

    def members(n: FilterNode) -> set[int] | None:
        if id(n) not in memo:
            memo[id(n)] = _evaluate(n, fields, everything, results, members)
        return memo[id(n)]

    def branches(n: FilterNode) -> None:
        """Every union or optional child's set now, under the caller's lock: ``yields``
        runs later, without it."""
        if isinstance(n, Or | OptionalFilter) and range_leaves(n):
            for c in n.children if isinstance(n, Or) else [n.child]:
                members(c)
        for c in n.children if isinstance(n, And | Or) else []:
            branches(c)
        if isinstance(n, Not | OptionalFilter):
            branches(n.child)

    labels = members(node)
    branches(node)
    results.root, results.members = node, members
    return labels


def _evaluate(
    node: FilterNode,
    fields: FieldIndexes,
    everything: Callable[[], set[int]],
    results: RangeResults,
    members: Callable[[FilterNode], set[int] | None],
) -> set[int] | None:
    if not range_leaves(node):
        return fields.evaluate(node)
    if isinstance(node, VectorRange):
        return set(results.hits[node])
    if isinstance(node, OptionalFilter):
        return None
    if isinstance(node, Not):
        child = members(node.child)
        return set() if child is None else everything() - child
    if isinstance(node, Or):
        out: set[int] = set()
        for c in node.children:
            labels = members(c)
            if labels is None:
                return None
            out |= labels
        return out
    assert isinstance(node, And)
    # the children without range leaves go to FieldIndexes together, keeping its planning
    plain = [c for c in node.children if not range_leaves(c)]
    parts = [c for c in node.children if range_leaves(c)]
    result: set[int] | None = None
    for c in parts:
        labels = members(c)
        if labels is None:
            continue
        result = labels if result is None else result & labels
        if not result:
            return result
    if plain:
        labels = fields.evaluate(make_and(plain))
        if labels is not None:
            result = labels if result is None else result & labels
    return result
