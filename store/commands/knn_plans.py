"""Kept plans of KNN pages over every document, sent again with a new query vector.

Vector-search clients send one request shape over and over with a new vector each time:
the ids only (``NOCONTENT``, as the benchmark), or the distance and a few fields
(``RETURN``, as LangChain and RedisVL), maybe sorted by the distance::

    FT.SEARCH idx "*=>[KNN k @v $B ...]" PARAMS 2 B <blob> [NOCONTENT | RETURN ...]
        [SORTBY ...] [LIMIT o n] [DIALECT d]

Once :func:`store.commands.search.ft_search` has answered such a request, :func:`learn`
keeps what its general path decided (the parsed request, the index and its vector field,
k, EF_RUNTIME, whether distances are read) under the request's shape: its arguments
without their PARAMS values, as :func:`store.index.search_args.parse_ft_search` keys its
parses. For the next request of that shape, :func:`find` gives the plan and
``ft_search`` asks the index for the nearest documents to the new vector
(:meth:`SearchIndex.nearest`) and lays out its general reply from them, without the
request parse and the filter and range planning.

Contract: a planned reply is byte for byte the general path's. A plan is found only
while all of these hold, checked on every request:

* the request has the plan's shape, and every PARAMS value but the query vector's is
  the one the plan was made with;
* the index the request names is the very object the plan was made for (FT.ALTER,
  FT.DROPINDEX then FT.CREATE, and alias changes give another; the plan holds it weakly,
  so a dropped index is freed);
* the server's KNN order is ``distance`` (``search-knn-order``).

A plan is made only for a KNN page whose hits depend on nothing but the vector: over
every document (the ``*`` filter: no FILTER, INKEYS, ranges or window), without scores
or explanations (WITHSCORES, EXPLAINSCORE), hybrid or range attributes, k > 0, its
vector's parameter used once. Tests hold the two paths equal
(``tests/store/test_knn_plans.py``).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from ..errors import IndexError_
from ..index.query import MatchAll, ParsedQuery
from ..index.search_args import SearchRequest, params_shape
from ..index.search_index import SearchIndex

if TYPE_CHECKING:
    from .context import ExecContext

__all__ = [
    "IDS_PAGE",
    "PLANS_KEPT",
    "PageFields",
    "PageLayout",
    "Plan",
    "RequestArgs",
    "current",
    "find",
    "ids_plans",
    "learn",
    "plans_kept",
]

PageFields = Literal["ids", "all"] | tuple[tuple[bytes, bytes | tuple[str, bytes]], ...]
"""What a page laid out without the general reply shows of each document: nothing (the
ids alone), every hash field after the distance, or RETURN's (reply name, hash field)
pairs."""


class PageLayout(NamedTuple):
    """How ``search`` lays a plan's page out without its general reply
    (``search._plan_page_layout`` decides, ``search._page_of`` follows it;
    docs/decisions/0032-pages-sorted-by-the-score-and-this-machines-run.md)."""

    fields: PageFields
    by_score: bool
    """SORTBY the KNN score, ascending: the walk's order is the page's while the
    distances come in order (a NaN sends the page to the general reply). A hash field
    named like the score changes nothing: the distance wins over it, as in RediSearch."""


IDS_PAGE = PageLayout("ids", False)
"""The ids alone, in the walk's order (``NOCONTENT`` without SORTBY): the page whose
request is kept around its vector too (:class:`RequestArgs`)."""


class RequestArgs(NamedTuple):
    """An :data:`IDS_PAGE` plan's request around its query vector's value: what the server
    needs to answer the request from its bytes, unparsed (``store.server.kept_pages``,
    docs/decisions/0045)."""

    before: tuple[bytes, ...]
    """Every argument before the vector's value (the command, index and query text first:
    the vector is a PARAMS value)."""
    size: int
    """The vector's value's size in bytes."""
    after: tuple[bytes, ...]
    """Every argument after it."""

    @property
    def head(self) -> tuple[bytes, ...]:
        """The command, index and query text: what the server's routing reads."""
        return self.before[:3]

    def args(self, vector: bytes) -> list[bytes]:
        """The request's arguments with ``vector`` as the vector's value."""
        return [*self.before, vector, *self.after]


PLANS_KEPT = 256
"""How many plans are kept (the table is cleared when full, as the parse shapes are)."""


@dataclass(frozen=True)
class Plan:
    """What the general path decided for one request shape (see the module docstring)."""

    index: weakref.ref[SearchIndex]
    field_name: bytes
    """The VECTOR field searched (:meth:`SearchIndex.knn_target`), by its schema name:
    the plan holds no vector index, so a dropped index's vectors are freed."""
    field: bytes
    """The field as the query names it."""
    k: int
    ef_runtime: int | None
    request: SearchRequest
    """The parsed request: every option but the PARAMS values, which the reply never reads."""
    score_alias: bytes
    distances_read: bool
    by_distance: bool
    """SORTBY names the KNN distance."""
    vector_at: int
    """Where the query vector is in the request's arguments (the shape fixes it)."""
    fixed: tuple[tuple[int, bytes], ...]
    """The other PARAMS values, by their place in the arguments."""
    page: PageLayout | None
    """How ``search`` lays the page out (None: its general reply)."""
    request_args: RequestArgs | None = None
    """The request around the vector, for an :data:`IDS_PAGE` plan (else None)."""


_plans: dict[tuple[bytes, tuple[bytes, ...]], Plan] = {}
_generation = 0
"""How many times the plans were cleared (:func:`ids_plans`)."""
_ids_log: list[tuple[tuple[bytes, tuple[bytes, ...]], Plan]] = []
"""The :data:`IDS_PAGE` plans made since, in order (a plan replaced stays listed)."""
IDS_LOG_MAX = 4 * PLANS_KEPT
"""Past this many, the list restarts from the plans kept (a new generation)."""


def plans_kept() -> int:
    """How many plans are kept now (for tests and diagnostics)."""
    return len(_plans)


def find(ctx: ExecContext, args: Sequence[bytes]) -> tuple[Plan, SearchIndex] | None:
    """The plan kept for FT.SEARCH ``args`` (the command name first) and the index it
    searches, or None when none holds (see the module docstring)."""
    if not _plans or len(args) < 3:
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
            index: SearchIndex | None = ctx.indexes.get(args[1])
    except IndexError_:
        index = None
    if index is None or index is not plan.index() or ctx.indexes.knn_order != "distance":
        _plans.pop(key, None)  # another index, or another order: the general path decides
        return None
    return plan, index


def ids_plans() -> tuple[int, list[tuple[tuple[bytes, tuple[bytes, ...]], Plan]]]:
    """The generation of the plans (it changes when they are cleared) and the
    :data:`IDS_PAGE` plans made in it, in order, with their keys: a caller that saw the
    first ``n`` in this generation reads the rest. Whether a plan is still kept:
    :func:`current`."""
    return _generation, _ids_log


def current(key: tuple[bytes, tuple[bytes, ...]]) -> Plan | None:
    """The plan kept under ``key`` now."""
    return _plans.get(key)


def _new_generation() -> None:
    # the list first: a reader (another thread) that sees the new generation sees its list
    global _generation, _ids_log
    _ids_log = [(key, plan) for key, plan in _plans.items() if plan.request_args is not None]
    _generation += 1


def learn(
    ctx: ExecContext,
    args: Sequence[bytes],
    index: SearchIndex,
    request: SearchRequest,
    parsed: ParsedQuery,
    *,
    distances_read: bool,
    by_distance: bool,
    page: PageLayout | None = None,
) -> None:
    """Keep a plan for FT.SEARCH ``args`` when its hits depend on nothing but the query
    vector. The general path has just answered it, so every check a plan skips has
    passed for its shape; ``distances_read`` and ``by_distance`` are what it decided, and
    ``page`` how its page is laid out (:attr:`Plan.page`)."""
    knn = parsed.knn
    if (
        knn is None
        or knn.k <= 0
        or type(parsed.filter) is not MatchAll
        or request.withscores
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
    names = range(2 + at + 2, 2 + end, 2)  # where the PARAMS names are in ``args``
    vector_at = [i + 1 for i in names if args[i + 1] == knn.vector]
    if len(vector_at) != 1:  # no PARAMS value, or several, equal the vector: no plan
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
        _new_generation()
    key = (args[1], shape[0])
    request_args = None
    if page == IDS_PAGE:
        at = vector_at[0]
        request_args = RequestArgs(tuple(args[:at]), len(args[at]), tuple(args[at + 1 :]))
    plan = _plans[key] = Plan(
        weakref.ref(index),
        target[0],
        knn.field,
        knn.k,
        knn.ef_runtime,
        request,
        knn.score_alias,
        distances_read,
        by_distance,
        vector_at[0],
        fixed,
        page,
        request_args,
    )
    if request_args is not None:
        if len(_ids_log) >= IDS_LOG_MAX:
            _new_generation()  # (lists this plan)
        else:
            _ids_log.append((key, plan))
