"""A kept plan's ids page answered from the request's bytes, in C (docs/decisions/0045).

The request a vector-search client sends over and over with a new vector, the ids alone::

    FT.SEARCH idx "*=>[KNN k @v $B ...]" PARAMS 2 B <blob> NOCONTENT [LIMIT o n] [DIALECT d]

is, once :mod:`store.commands.knn_plans` keeps its plan (:data:`~knn_plans.IDS_PAGE`),
fixed bytes around the vector's. The server recognises it in the bytes it read
(``store.server.kept_pages``, no parse) and :func:`answer` gives the reply's bytes (RESP2
or RESP3): ``hnsw_graph.kept_ids_page`` walks the graph over the documents' blobs for
the vector where it lies in the request, orders the hits, reads which of their keys still
hold a live hash, and writes the reply, without the request's arguments, the hits'
tuples or the reply's objects. :func:`walk_later` and :func:`walked` split the same in
two around a walk on the server's walker threads.

Contract: :func:`answer` gives exactly the bytes the general path's reply
(``Engine.submit`` of the parsed request, then ``ReplyWriter`` in the client's protocol)
encodes to, or None, and then nothing happened that the caller must account for: the
caller answers through the general path. None when the plan's index is not the one the
request names now, the server's KNN order is not ``distance``, the field's graph is
hnswlib's own, no document is live, the vector is not finite, the walk finds fewer than
it asks (deletions: the general path completes the page with a scan), a distance is
NaN, a hit's key has field deadlines or holds something other than a hash, or a RESP3
client's request has a ``TIMEOUT`` (its reply may carry the warning). Where the walk's
order is not certain, the distances are recomputed as the general path does
(``SearchIndex.nearest(..., walked=...)``) before the page is read.
``tests/store/test_plan_bytes.py`` holds the bytes equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import IndexError_
from ..index.blob_graph import hnsw_graph
from ..index.hnsw import HnswIndex
from ..index.search_index import SearchIndex
from ..index.vector import blob_finite
from ..replies import Encoded
from .knn_plans import Plan

if TYPE_CHECKING:
    from ..engine import Engine
    from .table import CommandSpec

__all__ = ["answer", "walk_later", "walked", "walked_reply"]


class _Walk(NamedTuple):
    """What a kept plan's walk needs, checked (:func:`_walk`)."""

    search_index: SearchIndex
    graph: Any  # hnsw_graph.Graph
    want: int
    ef: int


def _walk(engine: Engine, plan: Plan, protocol: int) -> _Walk | None:
    """The index ``plan`` (an ids-page plan) searches and its walk, when it holds still
    (what :func:`knn_plans.find` checks) and the walk can be answered here for a client
    of ``protocol``: else None (so too when the graph extension did not build)."""
    assert plan.request_args is not None
    if hnsw_graph is None:
        return None
    if protocol == 3 and plan.request.timeout_ms:
        return None  # RESP3 shows a timeout's warning: the general path's to decide
    indexes = engine.indexes
    index = plan.index()
    try:
        with engine.lock:
            current = indexes.get(plan.request_args.head[1])
    except IndexError_:
        return None
    if index is None or current is not index or indexes.knn_order != "distance":
        return None
    vindex = index.vectors.get(plan.field_name)
    if type(vindex) is not HnswIndex or not index.orders_blob_walks(plan.field_name, plan.field):
        return None
    walk = vindex.blob_walk(plan.k, plan.ef_runtime)
    if walk is None:
        return None
    return _Walk(index, *walk)


def answer(
    engine: Engine, plan: Plan, request: bytes, at: int, now_ms: int, protocol: int = 2
) -> bytes | None:
    """The reply's bytes to ``request`` (for a client of ``protocol``, 2 or 3), the bytes
    of ids-page ``plan``'s request with the vector's value at ``at``, deadlines read at
    ``now_ms``; or None (see the module docstring). The walk runs here (the GIL
    released)."""
    walk = _walk(engine, plan, protocol)
    if walk is None:
        return None
    page = _page_of(engine, plan, walk.search_index, now_ms, protocol)
    walked = hnsw_graph.kept_ids_page(walk.graph, request, at, walk.want, walk.ef, *page)
    return _page(engine, plan, request, at, walk.search_index, walked, page)


def walk_later(
    engine: Engine,
    plan: Plan,
    request: bytes,
    at: int,
    walker: Any,
    token: object,
    protocol: int = 2,
) -> int | None:
    """:func:`answer`'s walk queued on ``walker`` (``hnsw_graph.Walker``), which gives
    ``token`` back with its pairs: the hits it asks for, for :func:`walked`; or None
    (nothing queued: the caller answers otherwise)."""
    walk = _walk(engine, plan, protocol)
    if walk is None:
        return None
    assert plan.request_args is not None
    blob = request[at : at + plan.request_args.size]
    if not blob_finite(blob):
        return None
    walker.submit(walk.graph, blob, walk.want, walk.ef, token)
    return walk.want


def walked(
    engine: Engine,
    plan: Plan,
    request: bytes,
    at: int,
    want: int,
    now_ms: int,
    pairs: list[tuple[int, float]],
    protocol: int = 2,
) -> bytes | None:
    """:func:`answer` from the ``pairs`` of the walk :func:`walk_later` queued (``want``
    its answer), read now; None as :func:`answer` (the index, changed since, included)."""
    walk = _walk(engine, plan, protocol)
    if walk is None:
        return None
    page = _page_of(engine, plan, walk.search_index, now_ms, protocol)
    walked = hnsw_graph.walked_ids_page(walk.graph, pairs, want, *page)
    return _page(engine, plan, request, at, walk.search_index, walked, page)


def walked_reply(
    engine: Engine,
    plan: Plan,
    request: bytes,
    at: int,
    want: int,
    now_ms: int,
    protocol: int,
    spec: CommandSpec,
    args: list[bytes],
    pairs: list[tuple[int, float]],
) -> Any:
    """The reply to ``request`` (parsed: ``spec``, ``args``) once the walk
    :func:`walk_later` queued gave ``pairs``: :func:`walked`'s bytes, as an ``Encoded``
    reply; else the general path's reply, searched now, or its error raised. A
    ``WalkLater.finish`` (``Engine.finish_walk`` calls it on the loop)."""
    page = walked(engine, plan, request, at, want, now_ms, pairs, protocol)
    if page is not None:
        return Encoded(page)
    done = engine.submit(spec, args, protocol=protocol)
    if done.error is not None:
        raise done.error
    return done.reply


def _page_of(
    engine: Engine, plan: Plan, index: SearchIndex, now_ms: int, protocol: int
) -> tuple[Any, ...]:
    """The page's arguments of the C functions (``offset, num, resp3, to_key, data,
    expires, field_expires, now_ms, lock``)."""
    offset, num = plan.request.limit
    keyspace = engine.keyspace
    return (offset, num, protocol == 3, index.label_to_key, keyspace.data, keyspace.expires,
            keyspace.field_expires, now_ms, engine.lock)  # fmt: skip


def _page(
    engine: Engine,
    plan: Plan,
    request: bytes,
    at: int,
    index: SearchIndex,
    walked: bytes | list[tuple[int, float]] | None,
    page: tuple[Any, ...],
) -> bytes | None:
    """The reply from what the C functions gave: its bytes; or the sorted hits of an
    order that is not certain, whose distances are recomputed before the page
    (``page``: :func:`_page_of`) is read."""
    assert hnsw_graph is not None
    reply: bytes | None
    if type(walked) is list:
        assert plan.request_args is not None
        vector = request[at : at + plan.request_args.size]
        pairs = index.nearest(plan.field_name, plan.field, vector, plan.k, plan.ef_runtime,
                              engine.keyspace.data, engine.lock, distances_read=False,
                              walked=walked)  # fmt: skip
        reply = hnsw_graph.ids_page(pairs, *page)
    else:
        reply = walked if type(walked) is bytes else None
    if reply is not None:
        index.count_plan("ann")
    return reply
