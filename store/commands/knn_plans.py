"""Kept plans of the plain KNN page: FT.SEARCH's request sent again with a new vector.

The benchmark and vector-search clients that want only the ids send one request shape
over and over, with a new query vector each time::

    FT.SEARCH idx "*=>[KNN k @v $B ...]" PARAMS 2 B <blob> NOCONTENT [LIMIT o n] [DIALECT d]

Once :func:`store.commands.search.ft_search` has answered such a request, :func:`learn`
keeps what its general path decided (the index, the vector field, k, EF_RUNTIME, the
page) under the request's shape: its arguments without their PARAMS values, as
:func:`store.index.search_args.parse_ft_search` keys its parses. :func:`answer` then
answers the next request of that shape from the plan: it reads the new vector, asks the
index for the nearest documents (:meth:`SearchIndex.nearest`) and lays out the page,
without the request parse, the filter and range planning and the general reply.

Contract: a plan's reply is byte for byte the general path's, or :func:`answer` returns
None and the general path answers (and raises what it raises). A plan is used only
while all of these hold, checked on every request:

* the request has the plan's shape, and every PARAMS value but the query vector's is
  the one the plan was made with;
* the index the request names is the very object the plan was made for (FT.ALTER,
  FT.DROPINDEX then FT.CREATE, and alias changes give another; the plan holds it weakly,
  so a dropped index is freed);
* the server's KNN order is ``distance`` (``search-knn-order``) and the client speaks
  RESP2.

A plan is made only for a page whose answer depends on nothing else: a KNN over every
document (the ``*`` filter, no FILTER, INKEYS, ranges or window), ``NOCONTENT``, no
SORTBY, scores, payloads, sort keys or explanations, no hybrid or range attributes,
k > 0. Tests hold the two paths equal (``tests/store/test_knn_plans.py``).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..datatypes.json_doc import JsonDoc
from ..errors import IndexError_
from ..index.query import MatchAll, ParsedQuery
from ..index.search_args import SearchRequest, params_shape
from ..index.search_index import SearchIndex

if TYPE_CHECKING:
    from ..index.schema import FieldSpec
    from ..index.vector import VectorIndex
    from .context import ExecContext

__all__ = ["PLANS_KEPT", "answer", "learn", "plans_kept"]

PLANS_KEPT = 256
"""How many plans are kept (the table is cleared when full, as the parse shapes are)."""

_DOCUMENTS = (dict, JsonDoc)  # what a search result's key holds while it exists


@dataclass(frozen=True)
class _Plan:
    index: weakref.ref[SearchIndex]
    target: tuple[bytes, VectorIndex, FieldSpec]
    field: bytes
    k: int
    ef_runtime: int | None
    offset: int
    num: int
    vector_at: int
    """Where the query vector is in the request's arguments (the shape fixes it)."""
    fixed: tuple[tuple[int, bytes], ...]
    """The other PARAMS values, by their place in the arguments."""


_plans: dict[tuple[bytes, tuple[bytes, ...]], _Plan] = {}


def plans_kept() -> int:
    """How many plans are kept now (for tests and diagnostics)."""
    return len(_plans)


def answer(ctx: ExecContext, args: Sequence[bytes]) -> list[Any] | None:
    """The reply to FT.SEARCH ``args`` (the command name first) from a kept plan; None
    when no plan holds for it (see the module docstring), and nothing was done."""
    if not _plans or ctx.protocol != 2 or len(args) < 3:
        return None
    shape = params_shape(args[2:])
    if shape is None:
        return None
    key = (args[1], shape[0])
    plan = _plans.get(key)
    if plan is None or any(args[at] != value for at, value in plan.fixed):
        return None
    try:
        with ctx.lock:
            index = ctx.indexes.get(args[1])
    except IndexError_:
        index = None
    if index is None or index is not plan.index() or ctx.indexes.knn_order != "distance":
        _plans.pop(key, None)  # another index, or another order: the general path decides
        return None
    pairs = index.nearest(
        plan.target,
        plan.field,
        args[plan.vector_at],
        plan.k,
        plan.ef_runtime,
        ctx.keyspace.data,
        ctx.lock,
    )
    index.count_plan("ann")
    with ctx.lock:
        to_key = index.label_to_key
        keys = [doc for label, _ in pairs if (doc := to_key.get(label)) is not None]
        values = ctx.keyspace.get_many(keys, ctx.read_now)
    found = [key for key, value in zip(keys, values, strict=True) if isinstance(value, _DOCUMENTS)]
    return [len(found), *found[plan.offset : plan.offset + plan.num]]


def learn(
    ctx: ExecContext,
    args: Sequence[bytes],
    index: SearchIndex,
    request: SearchRequest,
    parsed: ParsedQuery,
) -> None:
    """Keep a plan for FT.SEARCH ``args`` when it is a plain KNN page, which the general
    path has just answered (so every check a plan skips has passed for its shape)."""
    knn = parsed.knn
    if (
        knn is None
        or knn.k <= 0
        or not request.nocontent
        or ctx.protocol != 2
        or type(parsed.filter) is not MatchAll
        or request.sortby is not None
        or request.withscores
        or request.withpayloads
        or request.withsortkeys
        or request.explainscore
        or request.inkeys is not None
        or request.slop is not None
        or request.inorder
        or knn.hybrid_policy is not None
        or knn.batch_size is not None
        or knn.epsilon is not None
        or ctx.indexes.knn_order != "distance"
    ):
        return
    shape = params_shape(args[2:])
    if shape is None:
        return
    at, end = shape[1]
    first = 2 + at + 2  # the first PARAMS name in ``args``
    names = range(first, 2 + end, 2)
    vector_at = [i + 1 for i in names if args[i + 1] is knn.vector]
    if len(vector_at) != 1:  # the vector is not one PARAMS value (or is several): no plan
        return
    # the vector's parameter must be used once in the query (as the vector): then no other
    # part of the plan (k, EF_RUNTIME) can depend on its value
    name = re.escape(args[vector_at[0] - 1])
    if len(re.findall(rb"\$" + name + rb"(?![A-Za-z0-9_])", request.query)) != 1:
        return
    target = index.knn_target(knn)
    if target is None:
        return
    fixed = tuple((i + 1, args[i + 1]) for i in names if i + 1 != vector_at[0])
    if len(_plans) >= PLANS_KEPT:
        _plans.clear()
    _plans[(args[1], shape[0])] = _Plan(
        weakref.ref(index),
        target,
        knn.field,
        knn.k,
        knn.ef_runtime,
        request.offset,
        request.num,
        vector_at[0],
        fixed,
    )
