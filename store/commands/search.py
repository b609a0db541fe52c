"""The vector search family: FT.CREATE, FT.SEARCH, FT.INFO, FT.DROPINDEX, FT._LIST.

Replies follow RediSearch 2.10 as redis-py, redis-cli and RedisVL read them: RESP2 flat
arrays, RESP3 maps (``total_results``, ``results`` with ``id``/``extra_attributes``).
Distances are formatted as RediSearch does (``%.12g``).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..datatypes.json_doc import JsonDoc
from ..errors import QuerySyntaxError, SyntaxErr
from ..index.json_fields import reply_fields, reply_names, sort_value
from ..index.query import has_window
from ..index.schema import (
    FieldType,
    IndexDefinition,
    capacity_budget_bytes,
    check_capacity,
    parse_ft_create,
)
from ..index.scoring import (
    Scorer,
    explain_scores,
    explanation_reply,
    rank,
    ranked_page,
    text_scores,
)
from ..index.search_args import ReturnField, parse_ft_search
from ..index.search_index import SearchHit, SearchIndex
from ..index.sorting import field_sort_key, hash_sort_value, sort_by_field
from ..index.vector_range import RangeResults
from ..numbers import format_double
from ..replies import OrderedSet, SimpleString
from . import knn_plans
from . import search_words as words
from .table import command
from .walk_later import WalkLater

if TYPE_CHECKING:
    from .context import ExecContext


TIMEOUT_WARNING = "Timeout limit was reached"
"""RESP3 ``warning`` of a search that hit its TIMEOUT and returned partial results."""


OWN = "own"
"""The first item of a RETURN source ``(OWN, name)``: the document's own field ``name``,
where a distance of that name would otherwise be read (a distance RETURNed under another
name, :func:`_return_sources`). A reply's fields hold it under that tuple key."""

Source = bytes | tuple[str, bytes]
"""Where a RETURNed field is read from a reply's fields: a name, or ``(OWN, name)``."""


def format_score(distance: float) -> bytes:
    return (b"%.12g" % distance) if distance != 0 else b"0"


@command("FT.CREATE", -2, "write denyoom", "search slow")
def ft_create(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Create an index over hashes under key prefixes; existing keys are backfilled.

    A hash under the prefixes that the index cannot take (a vector blob of the wrong
    size, a numeric value that does not parse) is stored, left out of the index and
    counted in FT.INFO ``hash_indexing_failures``, as in RediSearch. memvec's ``STRICT``
    option (anywhere before ``SCHEMA``) makes such writes fail instead, changing nothing;
    it is kept in the log and snapshots (:mod:`store.index.schema.create`)."""
    definition = parse_ft_create(args)
    if not ctx.replaying:
        budget = capacity_budget_bytes(ctx.maxmemory_bytes, ctx.indexes.vss_max_resize_bytes)
        for field in definition.fields:
            if field.vector is not None:
                check_capacity(field.vector, budget)
    ctx.indexes.create(definition)
    ctx.dirty = True
    ctx.log_args = [b"FT.CREATE", *definition.to_args()]
    return SimpleString("OK")


@command("FT.DROPINDEX", -2, "write", "search slow")
def ft_dropindex(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Drop an index; with DD also delete its documents."""
    dd = False
    for opt in args[2:]:
        if opt.upper() == b"DD":
            dd = True
        else:
            raise SyntaxErr()
    ctx.indexes.drop(args[1], delete_documents=dd)
    ctx.dirty = True
    return SimpleString("OK")


#: bytes a terms-trie node costs in FT.INFO's text_overhead_sz_mb estimate
TRIE_NODE_BYTES = 48


@command("FT._LIST", 1, "readonly", "search slow")
def ft_list(ctx: ExecContext, args: list[bytes]) -> object:
    """Names of every index (RESP3: a set of simple strings, as RediSearch sends)."""
    if ctx.protocol == 3:
        return OrderedSet(SimpleString(n) for n in ctx.indexes.names())
    return [n.encode() for n in ctx.indexes.names()]


def _info_definition(d: IndexDefinition) -> dict[Any, Any]:
    """FT.INFO's ``index_definition``: key type, prefixes, a default language, the
    language, score and payload fields where given, and the default score (a float)."""
    flat = d.info_definition()
    definition: dict[Any, Any] = dict(zip(flat[::2], flat[1::2], strict=True))
    definition[b"default_score"] = float(definition[b"default_score"])  # (RESP2: its text)
    return definition


@command("FT.INFO", 2, "readonly", "search slow")
def ft_info(ctx: ExecContext, args: list[bytes]) -> object:
    """Index definition, attributes, document count, memory and indexing errors, with
    RediSearch 2.10's keys in its order (an alias names its index). Statistics memvec
    does not keep (inverted-index blocks, GC, cursors, dialects) are reported as an idle
    RediSearch index reports them; ``lag_records`` (always 0: indexing is synchronous) is
    memvec's own, last."""
    index = ctx.indexes.get(args[1], missing="Unknown index name")
    d = index.definition
    resp3 = ctx.protocol == 3
    mb = 1024 * 1024
    vec_mb = sum(v.memory_bytes() for v in index.vectors.values()) / mb
    mem_mb = index.memory_bytes() / mb
    tag_fields = [f for f in d.fields if f.type.value == "TAG"]
    tag_mb = index.fields.memory_bytes() / mb if tag_fields else 0.0
    # RediSearch's text_overhead_sz_mb is its terms trie; memvec estimates a trie node
    # per distinct term (0 with no terms, as the peer reports an empty index)
    text_fields = any(f.type.value == "TEXT" for f in d.fields)
    text_mb = index.fields.num_terms * TRIE_NODE_BYTES / mb if text_fields else 0.0
    num_records = index.fields.num_records
    nan = float("nan")
    stats = index.stats

    def errors(count: int, last: str, key: bytes) -> dict[bytes, Any]:
        return {
            b"indexing failures": count,
            b"last indexing error": last.encode(),
            b"last indexing error key": key,
        }

    field_stats = []
    for f in d.fields:
        failures = stats.field_failures.get(f.name)
        entry: dict[bytes, Any] = {b"identifier": f.name, b"attribute": f.alias}
        entry[b"Index Errors"] = (
            errors(failures.count, failures.last_error, failures.last_key)
            if failures is not None
            else errors(0, "N/A", b"N/A")
        )
        field_stats.append(entry)
    info: dict[bytes, Any] = {
        b"index_name": d.name.encode(),
        b"index_options": d.info_options(),
        b"index_definition": _info_definition(d),
        b"attributes": d.info_attributes(resp3=resp3),
        b"num_docs": index.num_docs,
        b"max_doc_id": index.fields.max_doc_id,
        b"num_terms": index.fields.num_terms,
        b"num_records": num_records,
        b"inverted_sz_mb": 0.0,
        b"vector_index_sz_mb": vec_mb,
        b"total_inverted_index_blocks": 0,
        b"offset_vectors_sz_mb": 0.0,
        b"doc_table_size_mb": 0.0,
        b"sortable_values_size_mb": 0.0,
        b"key_table_size_mb": 0.0,
        b"tag_overhead_sz_mb": tag_mb,
        b"text_overhead_sz_mb": text_mb,
        b"total_index_memory_sz_mb": mem_mb,
        b"geoshapes_sz_mb": 0.0,
        b"records_per_doc_avg": num_records / index.num_docs if index.num_docs else nan,
        b"bytes_per_record_avg": mem_mb * mb / num_records if num_records else nan,
        b"offsets_per_term_avg": 0.0 if num_records else nan,  # no text offsets kept
        b"offset_bits_per_record_avg": nan,
        b"hash_indexing_failures": stats.hash_indexing_failures,
        b"total_indexing_time": 0.0,
        b"indexing": 0,
        b"percent_indexed": 1.0,
        b"number_of_uses": stats.number_of_uses,
        b"cleaning": 0,
        b"gc_stats": {
            b"bytes_collected": 0.0,
            b"total_ms_run": 0.0,
            b"total_cycles": 0.0,
            b"average_cycle_time_ms": nan,
            b"last_run_time_ms": 0.0,
            b"gc_numeric_trees_missed": 0.0,
            b"gc_blocks_denied": 0.0,
        },
        b"cursor_stats": {
            b"global_idle": 0,
            b"global_total": 0,
            b"index_capacity": 128,
            b"index_total": 0,
        },
        b"dialect_stats": {b"dialect_%d" % n: 0 for n in range(1, 5)},
        b"Index Errors": errors(
            stats.hash_indexing_failures,
            stats.last_indexing_error,
            stats.last_indexing_error_key,
        ),
        b"field statistics": field_stats,
        b"lag_records": 0,
    }
    # RediSearch's texts are simple strings in both protocols, but the failing key's name
    worded = words.simple(info, frozenset({b"last indexing error key"}))
    if resp3:
        return worded
    flat: list[Any] = []
    for k, v in worded.items():
        flat.append(k)
        flat.append(_resp2(v))
    return flat


def _resp2(value: Any) -> Any:
    if isinstance(value, dict):
        out: list[Any] = []
        for k, v in value.items():
            out += [k, _resp2(v)]
        return out
    if isinstance(value, list):
        return [_resp2(v) for v in value]
    if isinstance(value, float):
        return format_double(value)  # as RedisModule_ReplyWithDouble spells it in RESP2
    return value


@command("FT.SEARCH", -2, "readonly lockfree", "search slow")
def ft_search(ctx: ExecContext, args: list[bytes]) -> object:
    """Search an index: filters, text scoring and KNN, DIALECT 2 semantics.

    Filter and text queries are ranked by score (``SCORER``, TFIDF by default; see
    :mod:`store.index.scoring`) unless SORTBY orders them; KNN queries by distance, or,
    when the server's ``search-knn-order`` is ``score``, as RediSearch 2.10 ranks them (the
    scorer's score descending, ties by document id; the K nearest are still the hits).
    ``TIMEOUT ms`` (when given, and not 0) bounds the scoring: past it the documents scored
    so far are ranked and returned, as RediSearch's ``ON_TIMEOUT RETURN`` does.
    """
    if len(args) == 2:  # before the index is looked up, as RediSearch checks
        raise QuerySyntaxError("No query string provided")
    kept = knn_plans.find(ctx, args)  # a KNN page of a shape answered before
    if kept is not None:
        return _planned_page(ctx, args, *kept)
    with ctx.lock:
        index = ctx.indexes.get(args[1], missing="{name}: no such index")
    request = parse_ft_search(args[2:])
    deadline = _deadline(request.timeout_ms)
    parsed = request.parse_query(
        index.definition.stopwords, index.definition.language, index.definition.phonetic_fields
    )
    ranges = index.ranges(parsed.filter, ctx.keyspace.data, ctx.lock)
    yield_names = ranges.yield_names if ranges else []
    sortable = ([parsed.knn.score_alias] if parsed.knn else []) + yield_names
    request.check_sortby(index.definition, sortable)
    # a filter query on one TAG value reads that posting in order (a sorted page of labels
    # below, without a set to build and sort); anything else is evaluated as a set
    ordered = None
    if (parsed.knn is None and ranges is None and request.inkeys is None
            and request.slop is None and not request.inorder
            and not has_window(parsed.filter)):  # fmt: skip
        ordered = index.ordered_filter(parsed, ctx.lock)
    allowed = index.plan_filter(parsed, ctx.lock, ranges) if ordered is None else None
    inkeys: int | None = None
    if request.inkeys is not None:
        with ctx.lock:
            found = [index.key_to_label[k] for k in request.inkeys if k in index.key_to_label]
        inkeys = len(found)
        allowed = set(found) if allowed is None else allowed & set(found)
    if request.slop is not None or request.inorder or has_window(parsed.filter):
        allowed = _in_window(ctx, index, parsed, allowed, inkeys, request, ranges)
    want_scores = request.withscores and request.num > 0
    explanations: dict[int, Any] = {}
    # SORTBY a KNN score or a VECTOR_RANGE distance: ordered in _reply, where those exist
    by_distance = request.sortby is not None and request.sortby.field in sortable
    score_alias: bytes | None = None
    total: int | None = None
    if parsed.knn is not None:
        score_alias = parsed.knn.score_alias
        distances_read = request.sortby is not None or (
            not request.nocontent
            and (
                request.return_fields is None
                or any(r.name == score_alias for r in request.return_fields)
            )
        )
        pairs, plan = index.knn(
            parsed.knn, allowed, ctx.keyspace.data, ctx.lock, distances_read=distances_read
        )
        if plan == "filtered-rows" or index.alone_scans:  # where the server sends it next
            index.note_plan(args[2], plan)
        with ctx.lock:
            to_key = index.label_to_key
            by_score = (
                request.sortby is None and request.num > 0 and ctx.indexes.knn_order == "score"
            )
            scores: dict[int, float] = {}
            if request.withscores or by_score:  # else no score is read: none computed
                labels = [label for label, _ in pairs if label in to_key]
                scores = _scores(
                    index, request, parsed, labels, inkeys, None, explanations, ranges, by_score
                )
                if by_score:  # RediSearch's order: score descending, ties by document id
                    place = {label: i for i, label in enumerate(rank(index, scores))}
                    pairs = sorted(pairs, key=lambda pair: place.get(pair[0], len(place)))
            hits = _knn_hits(to_key, pairs, scores)
    else:
        plan = "filter"
        with ctx.lock:
            if ordered is not None:
                labels = ordered
            else:
                labels = sorted(index.label_to_key) if allowed is None else sorted(allowed)
            if request.num == 0:
                order: list[int] = []
                scores = {}
                total = len(labels)
            elif by_distance:
                order = labels  # sorted by distance in _reply
                scores = _scores(
                    index, request, parsed, labels, inkeys, deadline, explanations, ranges
                )
            elif request.sortby is not None:
                order, scores = _sorted(
                    ctx, index, request, parsed, labels, inkeys, explanations, deadline, ranges
                )
                total = len(labels)
            elif request.explainscore:
                explained = explain_scores(
                    index,
                    parsed,
                    labels,
                    request.scorer,
                    inkeys=inkeys,
                    deadline=deadline,
                    **_window(request, ranges),
                )
                explanations.update(explained)
                scores = {label: score for label, (score, _) in explained.items()}
                order = rank(index, scores, limit=request.offset + request.num)
                total = len(scores)
            else:
                order, scores, total = ranked_page(
                    index,
                    parsed,
                    labels,
                    request.scorer,
                    limit=request.offset + request.num,
                    inkeys=inkeys,
                    deadline=deadline,
                    **_window(request, ranges),
                )
            hits = [
                SearchHit(index.label_to_key[label], None, scores.get(label)) for label in order
            ]
    if ranges is not None:
        plan = "range-" + plan
        with ctx.lock:
            to_label = index.key_to_label
            hits = [hit._replace(yields=ranges.yields(to_label.get(hit.key, -1))) for hit in hits]
    index.count_plan(plan)
    timed_out = deadline is not None and deadline.expired
    reply = _reply(
        ctx,
        index,
        request,
        hits,
        score_alias,
        want_scores,
        explanations,
        timed_out,
        total,
        by_distance,
        sortable,
    )
    if parsed.knn is not None:
        page = _plan_page_layout(index, request, parsed.knn.score_alias)
        knn_plans.learn(ctx, args, index, request, parsed, distances_read=distances_read,
                        by_distance=by_distance, page=page)  # fmt: skip
    return reply


def _plan_page_layout(
    index: SearchIndex, request: Any, score_alias: bytes
) -> knn_plans.PageLayout | None:
    """How a kept plan's page is laid out without :func:`_reply` (:attr:`Plan.page`):
    the ids alone for NOCONTENT; over an ON HASH index every hash field after the
    distance without RETURN, else RETURN's (reply name, hash field) pairs. SORTBY is
    taken only when it names the KNN score, ascending (RedisVL sends it with every vector
    query), over an ON HASH index where no schema field has the score's name; with any
    other SORTBY, WITHPAYLOADS or WITHSORTKEYS: None (the general reply)."""
    if request.withpayloads or request.withsortkeys:
        return None
    on_hash = index.definition.on == "HASH"
    by_score = request.sortby is not None
    if by_score and not (
        request.sortby.field == score_alias
        and request.sortby.ascending
        and on_hash
        and index.definition.field_by_alias(score_alias) is None
    ):
        return None
    if request.nocontent:
        return knn_plans.PageLayout("ids", by_score)
    if not on_hash:
        return None
    if request.return_fields is None:
        return knn_plans.PageLayout("all", by_score)
    sources = _return_sources(index, request.return_fields, {score_alias}, [score_alias])
    return knn_plans.PageLayout(tuple(sources), by_score)


def _planned_page(
    ctx: ExecContext, args: list[bytes], plan: knn_plans.Plan, index: SearchIndex
) -> object:
    """The reply to ``args`` from a kept plan: what the KNN branch of :func:`ft_search`
    gives for a request of that shape (no filter, ranges or scores), for its vector. With
    ``ctx.walker``, a :class:`WalkLater` whose walk is queued there, where the index can
    walk so (:meth:`SearchIndex.nearest_later`)."""
    deadline = _deadline(plan.request.timeout_ms)
    if ctx.walker is not None:
        later = WalkLater("FT.SEARCH")
        want = index.nearest_later(
            plan.field_name, args[plan.vector_at], plan.k, plan.ef_runtime, ctx.walker, later
        )
        if want is not None:
            later.finish = functools.partial(_walked_page, ctx, args, plan, index, deadline, want)
            return later
    return _plan_reply(ctx, plan, index, _plan_nearest(ctx, plan, index, args), deadline)


def _walked_page(
    ctx: ExecContext,
    args: list[bytes],
    plan: knn_plans.Plan,
    index: SearchIndex,
    deadline: _Deadline | None,
    want: int,
    pairs: list[tuple[int, float]],
) -> object:
    """:func:`_planned_page`'s reply from the pairs of the walk it queued: as the walk
    on the loop would have answered when they number ``want``; else (the walk found
    fewer) the search is made again here."""
    walked = pairs if len(pairs) == want else None
    return _plan_reply(ctx, plan, index, _plan_nearest(ctx, plan, index, args, walked), deadline)


def _plan_nearest(
    ctx: ExecContext,
    plan: knn_plans.Plan,
    index: SearchIndex,
    args: list[bytes],
    walked: list[tuple[int, float]] | None = None,
) -> list[tuple[int, float]]:
    """A kept plan's KNN hits for the query vector in ``args``: from ``walked`` (a walk's
    pairs) when given, else searched now."""
    return index.nearest(plan.field_name, plan.field, args[plan.vector_at], plan.k,
                         plan.ef_runtime, ctx.keyspace.data, ctx.lock,
                         distances_read=plan.distances_read, walked=walked)  # fmt: skip


def _plan_reply(
    ctx: ExecContext,
    plan: knn_plans.Plan,
    index: SearchIndex,
    pairs: list[tuple[int, float]],
    deadline: _Deadline | None,
) -> object:
    """A kept plan's reply for its KNN ``pairs``."""
    request = plan.request
    page = None if plan.page is None else _page_of(ctx, index, plan.page, plan.score_alias, pairs)
    if page is None:
        with ctx.lock:
            hits = _knn_hits(index.label_to_key, pairs, {})
    index.count_plan("ann")
    timed_out = deadline is not None and deadline.expired
    if page is not None:
        return _plain_reply(ctx.protocol, request, page, timed_out)
    return _reply(ctx, index, request, hits, plan.score_alias, False, {}, timed_out, None,
                  plan.by_distance, [plan.score_alias])  # fmt: skip


def _page_of(
    ctx: ExecContext,
    index: SearchIndex,
    layout: knn_plans.PageLayout,
    score_alias: bytes,
    pairs: list[tuple[int, float]],
) -> list[tuple[bytes, list[tuple[bytes, bytes]] | None]] | None:
    """The documents of KNN ``pairs`` that still exist, nearest first, each with what
    :func:`_reply` shows of it for a plan's ``layout`` (:attr:`Plan.page`): nothing for
    ``"ids"``; for ``"all"`` the formatted distance under ``score_alias`` then every other
    hash field; else each RETURNed field: the formatted distance for ``score_alias``
    (it wins over a hash field of its name, as in RediSearch 2.10), else the hash field's
    value (its own field for an ``(OWN, name)`` source), and nothing for a field the hash
    lacks. None (the general reply decides) if the page shows fields, or is sorted by the
    score, and a key holds anything but a hash; and if it is sorted by the score and the
    distances are out of order (a NaN)."""
    to_key = index.label_to_key
    with ctx.lock:
        found = [(key, dist) for label, dist in pairs if (key := to_key.get(label)) is not None]
        values = ctx.keyspace.get_many([key for key, _ in found], ctx.read_now)
    shown, by_score = layout
    if by_score:  # what lets _reply keep the walk's order (its ``in_score_order``)
        last = -math.inf
        for (_, dist), raw in zip(found, values, strict=True):
            if raw is None:
                continue  # expired or gone since the walk
            if type(raw) is not dict or not dist >= last:
                return None
            last = dist
    if shown == "ids":
        return [
            (key, None)
            for (key, _), raw in zip(found, values, strict=True)
            if isinstance(raw, _DOCUMENTS)  # else expired or gone since the walk
        ]
    page: list[tuple[bytes, list[tuple[bytes, bytes]] | None]] = []
    for (key, dist), raw in zip(found, values, strict=True):
        if raw is None:
            continue  # expired or gone since the walk
        if type(raw) is not dict:
            return None
        formatted = format_score(dist)
        if isinstance(shown, str):  # "all": as _reply's dict of the distance, then raw
            every = {score_alias: formatted}
            every.update(raw)
            every[score_alias] = formatted  # (in its first place) over a field of its name
            page.append((key, list(every.items())))
            continue
        fields = []
        for alias, held in shown:
            if held == score_alias:
                fields.append((alias, formatted))
            elif type(held) is tuple:  # (OWN, name): the hash's own field of that name
                if held[1] in raw:
                    fields.append((alias, raw[held[1]]))
            elif held in raw:
                fields.append((alias, raw[held]))
        page.append((key, fields))
    return page


def _plain_reply(
    protocol: int,
    request: Any,
    page: list[tuple[bytes, list[tuple[bytes, bytes]] | None]],
    timed_out: bool,
) -> object:
    """What :func:`_reply` answers for a :func:`_page_of` page (no WITHSCORES,
    WITHPAYLOADS or WITHSORTKEYS; SORTBY only of the KNN score, ascending): its LIMIT
    window, each id with its fields unless the page is ids only, in RESP2 or RESP3.
    ``tests/store/test_knn_plans.py`` holds the two equal."""
    offset, num = request.limit
    window = page[offset : offset + num]
    if protocol == 3:
        return {
            words.ATTRIBUTES: [],
            words.TOTAL_RESULTS: len(page),
            words.FORMAT: words.STRING,
            words.RESULTS: [
                {words.ID: key, words.VALUES: []}
                if fields is None
                else {words.ID: key, words.EXTRA_ATTRIBUTES: dict(fields), words.VALUES: []}
                for key, fields in window
            ],
            words.WARNING: [SimpleString(TIMEOUT_WARNING)] if timed_out else [],
        }
    out: list[Any] = [len(page)]
    for key, fields in window:
        out.append(key)
        if fields is not None:
            out.append([item for pair in fields for item in pair])
    return out


def _knn_hits(
    to_key: Mapping[int, bytes], pairs: list[tuple[int, float]], scores: Mapping[int, float]
) -> list[SearchHit]:
    """The hits of KNN ``pairs`` (label, distance) whose documents are still indexed, with
    their ``scores`` where computed (caller holds the engine lock)."""
    return [
        _new_hit(SearchHit, (key, dist, scores.get(label), None))  # no Python frame per hit
        for label, dist in pairs
        if (key := to_key.get(label)) is not None
    ]


_new_hit = tuple.__new__


def _sorted(
    ctx: ExecContext,
    index: SearchIndex,
    request: Any,
    parsed: Any,
    labels: list[int],
    inkeys: int | None,
    explanations: dict[int, Any],
    deadline: _Deadline | None,
    ranges: RangeResults | None,
) -> tuple[list[int], dict[int, float]]:
    """SORTBY as RediSearch's sorter keeps the page (:mod:`store.index.sorting`)."""
    field_name, ascending = request.sortby
    data, keys = ctx.keyspace.data, index.label_to_key
    doc_ids = dict(zip(labels, index.fields.doc_ids(labels), strict=True))

    spec = index.definition.field_by_alias(field_name)

    def value_of(label: int) -> bytes | None:
        doc = data.get(keys[label])
        if isinstance(doc, JsonDoc):
            return sort_value(index.definition, doc, field_name)
        return hash_sort_value(spec, doc, field_name) if isinstance(doc, dict) else None

    scorer = None
    if request.withscores:
        scorer = Scorer(
            index,
            parsed,
            request.scorer,
            inkeys=inkeys,
            explain=request.explainscore,
            ranges=ranges,
        )
    in_order = sorted(labels, key=doc_ids.__getitem__)
    kept = sort_by_field(
        in_order,
        value_of,
        doc_ids.__getitem__,
        ascending,
        request.offset + request.num,
        scorer,
        deadline,
    )
    scores: dict[int, float] = {}
    for label, scored in kept:
        if scored is not None:
            scores[label] = scored[0]
            if request.explainscore:
                explanations[label] = scored
    return [label for label, _ in kept], scores


def _window(request: Any, ranges: RangeResults | None) -> dict[str, Any]:
    return {"slop": request.slop, "inorder": request.inorder, "ranges": ranges}


def _options(
    request: Any, inkeys: int | None, deadline: _Deadline | None, ranges: RangeResults | None
) -> dict[str, Any]:
    return {"inkeys": inkeys, "deadline": deadline, **_window(request, ranges)}


def _in_window(
    ctx: ExecContext,
    index: SearchIndex,
    parsed: Any,
    allowed: set[int] | None,
    inkeys: int | None,
    request: Any,
    ranges: RangeResults | None,
) -> set[int]:
    """The matches whose terms SLOP / INORDER accept (RediSearch's intersection check)."""
    with ctx.lock:
        labels = set(index.label_to_key) if allowed is None else allowed
        keep = Scorer(index, parsed, inkeys=inkeys, **_window(request, ranges))
        return {label for label in labels if keep(label) is not None}


class _Deadline:
    """``TIMEOUT ms`` as a predicate polled while scoring; remembers that it fired."""

    def __init__(self, timeout_ms: int) -> None:
        self.end = time.monotonic() + timeout_ms / 1000
        self.expired = False

    def __call__(self) -> bool:
        if not self.expired and time.monotonic() > self.end:
            self.expired = True
        return self.expired


def _deadline(timeout_ms: int | None) -> _Deadline | None:
    return _Deadline(timeout_ms) if timeout_ms else None


def _scores(
    index: SearchIndex,
    request: Any,
    parsed: Any,
    labels: list[int],
    inkeys: int | None,
    deadline: _Deadline | None,
    explanations: dict[int, Any],
    ranges: RangeResults | None,
    needed: bool = False,
) -> dict[int, float]:
    """Scores when WITHSCORES asks for them (explained when EXPLAINSCORE does), or when
    ``needed`` to rank by them."""
    if not (request.withscores or needed) or request.num == 0:
        return {}
    if request.explainscore:
        explained = explain_scores(
            index,
            parsed,
            labels,
            request.scorer,
            inkeys=inkeys,
            deadline=deadline,
            **_window(request, ranges),
        )
        explanations.update(explained)
        return {label: score for label, (score, _) in explained.items()}
    return text_scores(
        index, parsed, labels, request.scorer, **_options(request, inkeys, deadline, ranges)
    )


_DOCUMENTS = (dict, JsonDoc)  # what a search result's key holds while it exists


def _reply(
    ctx: ExecContext,
    index: SearchIndex,
    request: Any,
    hits: list[SearchHit],
    score_alias: bytes | None,
    with_scores: bool,
    explanations: dict[int, Any],
    timed_out: bool,
    total: int | None,
    by_distance: bool = False,
    distance_names: list[bytes] | None = None,
) -> object:
    """The FT.SEARCH reply; ``total`` is the match count when ``hits`` holds only the
    best documents (a ranked search), else None (every match is in ``hits``).
    KNN results are sorted here by any SORTBY; others when ``by_distance`` (SORTBY names a
    VECTOR_RANGE distance): the rest were ranked by field or score before."""
    docs: list[tuple[bytes, dict[bytes, bytes], Any]] = []
    # NOCONTENT without SORTBY reads no field: only whether each document still exists
    need_fields = not request.nocontent or request.sortby is not None
    get_many, now = ctx.keyspace.get_many, ctx.read_now
    only = _hash_fields_returned(index, request)
    renamed = [r.name for r in request.return_fields or () if r.alias != r.name]
    with ctx.lock:
        # the hits with their documents, read in one pass over the page's keys
        read = list(zip(hits, get_many([hit.key for hit in hits], now), strict=True))
        if not need_fields and not explanations:  # the plain KNN page: existence only
            for hit, raw in read:
                if isinstance(raw, _DOCUMENTS):  # else expired or gone since
                    docs.append((hit.key, {}, hit.score if hit.score is not None else 0.0))
            read = []
        # SORTBY the KNN score: the hits come nearest first, so the page is in that order
        # already unless a yield of the same name replaces the score, a distance is
        # missing or NaN, or the name is a schema field's alias (the sort then reads that
        # field); then it is sorted as any field is
        sorted_by = score_alias if request.sortby and request.sortby.field == score_alias else None
        in_score_order = sorted_by is not None and (
            index.definition.on != "HASH" or index.definition.field_by_alias(sorted_by) is None
        )
        last = -math.inf
        for hit, raw in read:
            if not need_fields:
                if not isinstance(raw, _DOCUMENTS):
                    continue  # logically expired or gone since the index walk
                content: Mapping[bytes, Any] = {}
            elif isinstance(raw, JsonDoc):
                sort_name, names = reply_names(request)
                content = reply_fields(
                    index.definition, raw, names, sort_name=sort_name, dialect=request.dialect
                )
            elif only is not None and isinstance(raw, dict):
                content = {name: raw[name] for name in only if name in raw}
            elif isinstance(raw, dict):
                content = _hash_content(index, request, raw)
            else:
                continue  # logically expired or gone since the index walk
            fields: dict[bytes, bytes] = {}
            if need_fields:
                formatted = None
                if score_alias is not None and hit.distance is not None:
                    formatted = fields[score_alias] = format_score(hit.distance)
                if hit.yields:
                    fields.update((name, format_score(d)) for name, d in hit.yields.items())
                if fields:
                    # the distances come first, and win over a document's field of their
                    # name (RediSearch 2.10 shows and sorts by the distance)
                    distances = fields.copy()
                    fields.update(content)
                    fields.update(distances)
                    for name in renamed:  # RETURN <distance> AS <other>: the document's
                        if name in distances and name in content:
                            fields[(OWN, name)] = content[name]  # type: ignore[index]
                else:
                    fields.update(content)
                if in_score_order and sorted_by is not None:
                    distance = hit.distance
                    if (
                        formatted is None
                        or fields[sorted_by] is not formatted
                        or distance is None
                        or not distance >= last
                    ):
                        in_score_order = False
                    else:
                        last = distance
            score: Any = hit.score if hit.score is not None else 0.0
            if explanations:
                label = index.key_to_label.get(hit.key)
                if label is not None and label in explanations:
                    score = [score, explanation_reply(explanations[label][1])]
            docs.append((hit.key, fields, score))
    # ``total`` counts ranked documents beyond the page; drop those found gone meanwhile
    total = len(docs) if total is None else total - (len(hits) - len(docs))
    if request.sortby is not None and (score_alias is not None or by_distance):
        field_name, ascending = request.sortby
        if not ascending:
            docs.reverse()  # RediSearch breaks DESC ties by descending document order
        if not in_score_order:  # (in order, the stable sort below would change nothing)
            # RediSearch puts documents without the field last, whichever the direction
            value = _sort_value_of(index, field_name)
            valued = [(value(d[1]), d) for d in docs]  # each document's value read once
            having = [(v, d) for v, d in valued if v is not None]
            having.sort(key=lambda vd: field_sort_key(vd[0]), reverse=not ascending)
            docs = [d for _, d in having] + [d for v, d in valued if v is None]
    offset, num = request.limit
    page = docs[offset : offset + num]
    sortkeys: dict[bytes, Any] = {}
    if request.withsortkeys:
        sortkey = _sortkey_of(index, request)
        sortkeys = {key: sortkey(f) for key, f, _ in page}
    # RETURN's fields as (reply name, where the document holds it); None: every field
    sources: list[tuple[bytes, Source]] | None = None
    if request.return_fields is not None:
        scores = {score_alias} | {name for hit in hits for name in hit.yields or ()}
        sources = _return_sources(index, request.return_fields, scores, distance_names or [])
    if ctx.protocol == 3:
        if sources is not None:
            page = [
                (key, {alias: f[read] for alias, read in sources if read in f}, sc)
                for key, f, sc in page
            ]
        results = []
        for key, f, sc in page:
            entry: dict[str, Any] = {words.ID: key}
            if with_scores:
                entry[words.SCORE] = sc
            if request.withpayloads:
                entry[words.PAYLOAD] = None
            if request.withsortkeys:
                entry[words.SORTKEY] = sortkeys[key]
            if not request.nocontent:
                entry[words.EXTRA_ATTRIBUTES] = f
            entry[words.VALUES] = []
            results.append(entry)
        return {
            words.ATTRIBUTES: [],
            words.TOTAL_RESULTS: total,
            words.FORMAT: words.STRING,
            words.RESULTS: results,
            words.WARNING: [SimpleString(TIMEOUT_WARNING)] if timed_out else [],
        }
    out: list[Any] = [total]
    if request.nocontent and not (with_scores or request.withpayloads or request.withsortkeys):
        out += [key for key, _, _ in page]  # ids only: a NOCONTENT page
        return out
    for key, f, sc in page:
        out.append(key)
        if with_scores:
            out.append(sc)
        if request.withpayloads:
            out.append(None)
        if request.withsortkeys:
            out.append(sortkeys[key])
        if not request.nocontent:  # RESP2: RETURN's projection read straight into the list
            flat: list[bytes] = []
            if sources is None:
                for name, value in f.items():
                    flat += (name, value)
            else:
                for alias, held in sources:
                    if held in f:
                        flat += (alias, f[held])
            out.append(flat)
    return out


def _return_sources(
    index: SearchIndex,
    return_fields: Sequence[ReturnField],
    scores: set[bytes | None],
    distance_names: list[bytes],
) -> list[tuple[bytes, Source]]:
    """RETURN's fields as (reply name, where the document holds it), in reply order.
    RediSearch answers the distance fields (``scores``: KNN's AS, VECTOR_RANGE's yields)
    before the others whatever their place in RETURN, in the order its query created them
    (``distance_names``: the KNN score, then the yields in query order). One RETURNed
    under an alias is loaded from the document instead, in RETURN's order: the hash's
    own field of that name (:data:`OWN`), shown only where the hash holds one."""
    place = {name: i for i, name in enumerate(distance_names)}
    returned = sorted(
        (r for r in return_fields if r.name in scores and r.alias == r.name),
        key=lambda r: place.get(r.name, len(place)),
    )
    returned += [r for r in return_fields if r.name not in scores or r.alias != r.name]
    source = _returned_source(index)
    return [
        (alias, (OWN, name) if name in scores and alias != name else source(name))
        for name, alias in returned
    ]


def _sortkey_of(index: SearchIndex, request: Any) -> Any:
    """WITHSORTKEYS' value of a result: nil without SORTBY, ``#number`` for a NUMERIC
    field, ``$value`` otherwise (RediSearch's spelling)."""
    if request.sortby is None:
        return lambda f: None
    name = request.sortby.field
    numeric = any(
        name in (s.name, s.alias) and s.type is FieldType.NUMERIC for s in index.definition.fields
    )
    value = _sort_value_of(index, name)

    def key_of(f: dict[bytes, bytes]) -> bytes | None:
        raw = value(f)
        if raw is None:
            return None
        if numeric:
            try:
                return b"#" + format_score(float(raw))
            except ValueError:
                return None
        return b"$" + raw

    return key_of


def _sort_value_of(index: SearchIndex, name: bytes) -> Any:
    """What SORTBY ``name`` sorts a reply's fields by: for a hash index the schema field
    of that alias, folded unless UNF (:func:`store.index.sorting.hash_sort_value`); a JSON
    reply already holds the sort value under ``name``."""
    if index.definition.on != "HASH":
        return lambda f: f.get(name)
    spec = index.definition.field_by_alias(name)
    return lambda f: hash_sort_value(spec, f, name)


def _returned_source(index: SearchIndex) -> Callable[[bytes], bytes]:
    """Where RETURN ``name`` reads a reply's fields. For a hash index, when ``name`` is a
    schema field's alias, the hash field that schema field reads, and only that one
    (RediSearch loads an alias by its path: a hash field that happens to be named like
    the alias is not returned); else ``name`` itself. A JSON reply holds ``name`` (maybe
    None: shown as nil). The reply shows the field when the source is in it."""
    definition = index.definition

    def source(name: bytes) -> bytes:
        if definition.on == "HASH":
            spec = definition.field_by_alias(name)
            if spec is not None:
                return spec.name
        return name

    return source


def _hash_fields_returned(index: SearchIndex, request: Any) -> frozenset[bytes] | None:
    """The hash fields a RETURN reads (:func:`_returned_source` of each returned name),
    and with SORTBY the one its sort value is read from (:func:`_sort_value_of`), so a
    reply copies those instead of the whole document (its vector too); None when the
    reply needs them all (no RETURN, or a JSON index)."""
    if request.return_fields is None:
        return None
    definition = index.definition
    if definition.on != "HASH":
        return None
    source = _returned_source(index)
    names = {source(r.name) for r in request.return_fields}
    if request.sortby is not None:
        spec = definition.field_by_alias(request.sortby.field)
        names.add(request.sortby.field if spec is None else spec.name)
    return frozenset(names)


def _hash_content(index: SearchIndex, request: Any, raw: Mapping[bytes, bytes]) -> Any:
    """A hash document's reply fields: with SORTBY a schema field (and no RETURN),
    RediSearch loads the sort value first, under the field's alias, then the hash fields
    (which replace it in place where the alias is also a hash field's name)."""
    sortby = request.sortby
    if sortby is None or request.return_fields is not None:
        return raw
    spec = index.definition.field_by_alias(sortby.field)
    if spec is None:
        return raw
    value = hash_sort_value(spec, raw, sortby.field)
    return raw if value is None else {sortby.field: value, **raw}
