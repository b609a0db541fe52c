"""The vector search family: FT.CREATE, FT.SEARCH, FT.INFO, FT.DROPINDEX, FT._LIST.

Replies follow RediSearch 2.10 as redis-py, redis-cli and RedisVL read them: RESP2 flat
arrays, RESP3 maps (``total_results``, ``results`` with ``id``/``extra_attributes``).
Distances are formatted as RediSearch does (``%.12g``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import SyntaxErr
from ..index.query import MatchAll
from ..index.schema import capacity_budget_bytes, check_capacity, parse_ft_create
from ..index.search_args import parse_ft_search
from ..index.search_index import SearchHit, SearchIndex
from ..replies import SimpleString
from .table import command

if TYPE_CHECKING:
    from .context import ExecContext


def format_score(distance: float) -> bytes:
    return (b"%.12g" % distance) if distance != 0 else b"0"


@command("FT.CREATE", -2, "write denyoom", "search slow")
def ft_create(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Create an index over hashes under key prefixes; existing keys are backfilled."""
    definition = parse_ft_create(args)
    if not ctx.replaying:
        budget = capacity_budget_bytes(ctx.maxmemory_bytes)
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


@command("FT._LIST", 1, "readonly", "search slow")
def ft_list(ctx: ExecContext, args: list[bytes]) -> object:
    """Names of every index (a set in RESP3)."""
    names = [n.encode() for n in ctx.indexes.names()]
    return set(names) if ctx.protocol == 3 else names


@command("FT.INFO", 2, "readonly", "search slow")
def ft_info(ctx: ExecContext, args: list[bytes]) -> object:
    """Index definition, attributes, document count, memory and indexing errors."""
    index = ctx.indexes.get(args[1], missing="Unknown index name")
    d = index.definition
    mem_mb = index.memory_bytes() / (1024 * 1024)
    vec_mb = sum(v.memory_bytes() for v in index.vectors.values()) / (1024 * 1024)
    info: dict[bytes, Any] = {
        b"index_name": d.name.encode(),
        b"index_options": [],
        b"index_definition": {
            b"key_type": b"HASH",
            b"prefixes": list(d.prefixes),
            b"default_score": 1.0 if ctx.protocol == 3 else b"1",
        },
        b"attributes": d.info_attributes(resp3=ctx.protocol == 3),
        b"num_docs": index.num_docs,
        b"max_doc_id": index.next_label,
        b"num_terms": 0,
        b"num_records": index.num_docs * max(1, len(d.fields)),
        b"vector_index_sz_mb": vec_mb,
        b"total_index_memory_sz_mb": mem_mb,
        b"hash_indexing_failures": index.stats.hash_indexing_failures,
        b"indexing": 0,
        b"percent_indexed": 1.0,
        b"number_of_uses": index.stats.number_of_uses,
        b"lag_records": 0,
        b"Index Errors": {
            b"indexing failures": index.stats.hash_indexing_failures,
            b"last indexing error": index.stats.last_indexing_error.encode(),
            b"last indexing error key": index.stats.last_indexing_error_key,
        },
    }
    if ctx.protocol == 3:
        return info
    flat: list[Any] = []
    for k, v in info.items():
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
        return (b"%.17g" % value) if value != int(value) else str(int(value)).encode()
    return value


@command("FT.SEARCH", -3, "readonly lockfree", "search slow")
def ft_search(ctx: ExecContext, args: list[bytes]) -> object:
    """Search an index: filters and KNN, DIALECT 2 semantics."""
    with ctx.lock:
        index = ctx.indexes.get(args[1], missing="{name}: no such index")
    request = parse_ft_search(args[2:])
    parsed = request.parse_query(index.definition.stopwords)
    ranges = index.ranges(parsed.filter)
    sortable = ([parsed.knn.score_alias] if parsed.knn else []) + (
        ranges.yield_names if ranges else []
    )
    request.check_sortby(index.definition, sortable)
    allowed = index.plan_filter(parsed, ctx.lock, ranges)
    score_alias: bytes | None = None
    if parsed.knn is not None:
        pairs, plan = index.knn(parsed.knn, allowed, ctx.keyspace.data, ctx.lock)
        score_alias = parsed.knn.score_alias
        with ctx.lock:
            hits = [
                SearchHit(index.label_to_key[label], dist)
                for label, dist in pairs
                if label in index.label_to_key
            ]
    else:
        plan = "filter"
        with ctx.lock:
            labels = sorted(index.label_to_key) if allowed is None else sorted(allowed)
            hits = [SearchHit(index.label_to_key[label]) for label in labels]
    if ranges is not None:
        plan = "range-" + plan
        with ctx.lock:
            for hit in hits:
                hit.yields = ranges.yields(index.key_to_label.get(hit.key, -1))
    index.count_plan(plan)
    return _reply(ctx, index, request, hits, score_alias, isinstance(parsed.filter, MatchAll))


def _reply(
    ctx: ExecContext,
    index: SearchIndex,
    request: Any,
    hits: list[SearchHit],
    score_alias: bytes | None,
    match_all: bool,
) -> object:
    docs: list[tuple[bytes, dict[bytes, bytes]]] = []
    with ctx.lock:
        for hit in hits:
            value = ctx.keyspace.get(hit.key, ctx.read_now)
            if not isinstance(value, dict):
                continue  # logically expired or gone since the index walk
            fields: dict[bytes, bytes] = {}
            if score_alias is not None and hit.distance is not None:
                fields[score_alias] = format_score(hit.distance)
            fields.update((name, format_score(d)) for name, d in hit.yields.items())
            fields.update(value)
            docs.append((hit.key, fields))
    total = len(docs)
    if request.sortby is not None:
        field_name, ascending = request.sortby
        if not ascending:
            docs.reverse()  # RediSearch breaks DESC ties by descending document order
        docs.sort(key=lambda d: _sort_key(d[1].get(field_name)), reverse=not ascending)
    elif score_alias is not None:
        pass  # already in ascending distance
    offset, num = request.limit
    page = docs[offset : offset + num]
    if request.return_fields is not None:
        page = [
            (key, {alias: f[name] for name, alias in request.return_fields if name in f})
            for key, f in page
        ]
    if ctx.protocol == 3:
        results = []
        for key, f in page:
            entry: dict[bytes, Any] = {b"id": key}
            if not request.nocontent:
                entry[b"extra_attributes"] = f
            entry[b"values"] = []
            results.append(entry)
        return {
            b"attributes": [],
            b"total_results": total,
            b"format": b"STRING",
            b"results": results,
            b"warning": [],
        }
    out: list[Any] = [total]
    for key, f in page:
        out.append(key)
        if not request.nocontent:
            flat: list[bytes] = []
            for name, value in f.items():
                flat += [name, value]
            out.append(flat)
    return out


def _sort_key(raw: bytes | None) -> tuple[int, float, bytes]:
    if raw is None:
        return (1, 0.0, b"")
    try:
        return (0, float(raw), b"")
    except ValueError:
        return (0, 0.0, raw)
