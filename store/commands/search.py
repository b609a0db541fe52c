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
    """Create an index over hashes under key prefixes; existing keys are backfilled.

    A hash under the prefixes that the index cannot take (a vector blob of the wrong
    size, a numeric value that does not parse) is stored, left out of the index and
    counted in FT.INFO ``hash_indexing_failures``, as in RediSearch. memvec's ``STRICT``
    option (anywhere before ``SCHEMA``) makes such writes fail instead, changing nothing;
    it is kept in the log and snapshots (:mod:`store.index.schema.create`)."""
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
    num_records = index.num_docs * max(1, len(d.fields))
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
        b"index_definition": {
            b"key_type": b"HASH",
            b"prefixes": list(d.prefixes),
            b"default_score": 1.0 if resp3 else b"1",
        },
        b"attributes": d.info_attributes(resp3=resp3),
        b"num_docs": index.num_docs,
        b"max_doc_id": index.next_label,
        b"num_terms": 0,
        b"num_records": num_records,
        b"inverted_sz_mb": 0.0,
        b"vector_index_sz_mb": vec_mb,
        b"total_inverted_index_blocks": 0,
        b"offset_vectors_sz_mb": 0.0,
        b"doc_table_size_mb": 0.0,
        b"sortable_values_size_mb": 0.0,
        b"key_table_size_mb": 0.0,
        b"tag_overhead_sz_mb": tag_mb,
        b"text_overhead_sz_mb": 0.0,
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
    if resp3:
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
        if value != value:
            return b"nan"
        return (b"%.17g" % value) if value != int(value) else str(int(value)).encode()
    return value


@command("FT.SEARCH", -3, "readonly lockfree", "search slow")
def ft_search(ctx: ExecContext, args: list[bytes]) -> object:
    """Search an index: filters and KNN, DIALECT 2 semantics."""
    with ctx.lock:
        index = ctx.indexes.get(args[1], missing="{name}: no such index")
    request = parse_ft_search(args[2:])
    parsed = request.parse_query(index.definition.stopwords)
    request.check_sortby(index.definition, [parsed.knn.score_alias] if parsed.knn else [])
    allowed = index.plan_filter(parsed, ctx.lock)
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
            fields.update(value)
            docs.append((hit.key, fields))
    total = len(docs)
    if request.sortby is not None:
        field_name, ascending = request.sortby
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
