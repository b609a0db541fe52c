"""A filtered KNN on an HNSW field as batches of plain KNN walks (RediSearch's ``BATCHES``).

hnswlib filters a walk with a Python predicate that it calls, holding the GIL, for every
node the walk visits. At 100k x 384 with the default breadth that is 3-16 ms a query
(filters passing 50% to 5% of the documents), against ~0.3 ms for the same walk without a
filter: the predicate, not the graph, is the cost, and it holds the GIL that the event
loop and every other search need. So a filter that passes too many documents for an
exact scan of the subset (``SearchIndex._knn``) is answered as RediSearch's hybrid
``BATCHES`` policy does: a plain walk for the ``size`` nearest, ``size`` about
``k / (the fraction the filter passes) * BATCH_MARGIN``, whose hits the filter then
picks from. When fewer than ``k`` pass (the filter prefers documents far from the
query), a walk ``BATCH_GROWTH`` times as large follows, up to ``BATCH_ROUNDS`` walks;
then :func:`filtered_batches` gives up (None) and the caller walks with the predicate.

Measured in process (docs/decisions/0035), 100 queries, k 10, a random filter, the
default breadth: at 100k, 1.0-1.8 ms a query against 2.9-15.6 ms for the filtered walk
(5-50% passing), recall@10 against the exact filtered answer 0.988-0.997 (the walk with
the predicate: 0.998-1.0); at 20k, 0.5-1.4 ms against 1.6-5.8. The recall is the index's
own at that breadth (docs/decisions/0003: >= 0.99 at k <= 10), as for a query without a
filter; a client that wants the predicate walk's recall raises ``EF_RUNTIME``, or asks
for ``HYBRID_POLICY ADHOC_BF`` (an exact scan of the subset).

Contract of :func:`filtered_batches`: the hits it returns passed ``keep``, are in the
order ``search`` gave them (nearest first), at most ``k`` of them; fewer than ``k`` only
when a walk covered every vector of the index.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .vector import Hit

__all__ = ["BATCH_GROWTH", "BATCH_MARGIN", "BATCH_ROUNDS", "filtered_batches"]

BATCH_MARGIN = 2
"""The first walk asks for this many times the hits the filter's fraction suggests."""
BATCH_GROWTH = 4
"""Each further walk asks for this many times the hits of the one before."""
BATCH_ROUNDS = 2
"""Walks before giving up on batches (the caller then walks with the predicate)."""


def filtered_batches(
    search: Callable[[int, int], list[Hit]],
    keep: Callable[[list[Hit]], list[Hit]],
    *,
    k: int,
    vectors: int,
    passing: int,
    ef: int,
    batch_size: int | None = None,
) -> list[Hit] | None:
    """The ``k`` nearest hits that ``keep`` keeps, from plain walks (module docstring).

    ``search(size, ef)`` walks the graph for the ``size`` nearest at breadth ``ef``;
    ``keep(hits)`` returns those of ``hits`` the filter passes, in order (a multi-vector
    field's hits collapsed to their documents). ``vectors`` is the index's size, ``passing``
    how many the filter passes; ``ef`` the breadth the query asked for (each walk runs at
    ``max(ef, size)``). ``batch_size`` (the query's ``BATCH_SIZE``) is the first walk's
    size instead of the estimate. None when ``BATCH_ROUNDS`` walks found fewer than ``k``.
    """
    if vectors <= 0:
        return []
    if batch_size is not None:
        size = batch_size
    else:
        size = math.ceil(k * vectors / max(1, passing) * BATCH_MARGIN)
    for _ in range(BATCH_ROUNDS):
        want = min(max(size, k), vectors)
        found = keep(search(want, max(ef, want)))
        if len(found) >= k or want >= vectors:
            return found[:k]
        size = want * BATCH_GROWTH
    return None
