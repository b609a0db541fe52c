"""Filter trees holding ``VECTOR_RANGE`` leaves, evaluated to label sets and distances.

:class:`store.index.fields.FieldIndexes` evaluates the attribute leaves (tags, numbers,
text); a :class:`~store.index.query.VectorRange` leaf needs a vector search instead. The
search side (:meth:`store.index.search_index.SearchIndex.range`) runs every range leaf of a
query first, outside the engine lock, and collects the answers in a :class:`RangeResults`;
:func:`evaluate` then combines them with the attribute leaves under the lock. Subtrees
without a range leaf go to ``FieldIndexes.evaluate`` whole, so its planning (smallest
child first, predicates for large children) still applies to them.

Distances a leaf names with ``$YIELD_DISTANCE_AS`` are reported for every result the leaf
matched (RediSearch does the same: under ``|`` a result carries only the distances of the
branches that matched it). A leaf under a negation matches none of the results, so it
yields nothing.
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

    def yields(self, label: int) -> dict[bytes, float]:
        """``{name: distance}`` for the yielding leaves that matched ``label``."""
        out: dict[bytes, float] = {}
        for leaf in self.yielding:
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


def evaluate(
    node: FilterNode,
    fields: FieldIndexes,
    everything: Callable[[], set[int]],
    results: RangeResults,
) -> set[int] | None:
    """The labels ``node`` matches (None: every label), range leaves read from ``results``.

    ``everything`` returns the set of every indexed label (for a negated range leaf).
    """
    if not range_leaves(node):
        return fields.evaluate(node)
    if isinstance(node, VectorRange):
        return set(results.hits[node])
    if isinstance(node, OptionalFilter):
        return None
    if isinstance(node, Not):
        child = evaluate(node.child, fields, everything, results)
        return set() if child is None else everything() - child
    if isinstance(node, Or):
        out: set[int] = set()
        for c in node.children:
            labels = evaluate(c, fields, everything, results)
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
        labels = evaluate(c, fields, everything, results)
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
