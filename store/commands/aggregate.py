"""FT.AGGREGATE and FT.CURSOR (RediSearch 2.10), built on :mod:`store.aggregate`.

The query part is planned like FT.SEARCH's (filters through the attribute indexes, KNN
through the vector index); matching documents then flow through the request's steps in
index order (KNN hits in distance order). Documents are read under the engine lock in
batches of ``READ_BATCH`` as the pipeline pulls them, so a cursor holds no lock between
reads and sees a document as it was when its batch was read; a document deleted before
that is skipped.

Replies: RESP2 ``[total, [field, value, ...], ...]``; RESP3 a map with ``attributes``,
``total_results``, ``format``, ``results`` (``extra_attributes`` per row) and ``warning``.
With WITHCURSOR the reply is ``[that, cursor_id]``; the id is 0 once the rows are
exhausted. ``TIMEOUT`` is applied as RediSearch's default ON_TIMEOUT RETURN policy: rows
stop at the deadline and RESP3 warns "Timeout limit was reached".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..aggregate import (
    Execution,
    SourceDoc,
    compile_plan,
    parse_aggregate,
    registry_for,
    reply_value,
)
from ..aggregate.functions import EvalError
from ..datatypes.json_doc import JsonDoc
from ..errors import QuerySyntaxError, StoreError
from ..index import json_fields
from ..index.query import And, OptionalFilter, Or, TagFilter, TextFilter, has_window
from ..index.schema import FieldType
from ..index.score_tree import TERM, DocText, build_root
from ..index.search_args import SearchRequest
from ..index.search_index import SearchIndex
from ..numbers import parse_int64
from . import search_words as words
from .table import command

if TYPE_CHECKING:
    from ..keyspace import Keyspace
    from .context import ExecContext

TIMEOUT_WARNING = "Timeout limit was reached"
# Documents read per engine-lock hold: long enough to amortise the lock, short enough that
# writers wait well under a millisecond.
READ_BATCH = 256


def _text_scores(
    index: SearchIndex, parsed: Any, labels: list[int], scorer: bytes | None
) -> dict[int, float]:
    # imported here: store.index.scoring arrives with the scoring branch
    try:
        from ..index.scoring import text_scores  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise StoreError("ADDSCORES needs text scores, which this build of memvec lacks") from exc

    return dict(text_scores(index, parsed, labels, scorer))


@command("FT.AGGREGATE", -1, "readonly lockfree", "search slow")
def ft_aggregate(ctx: ExecContext, args: list[bytes]) -> object:
    """Run an aggregation pipeline over an index's matching documents."""
    if len(args) < 2:
        raise StoreError("wrong number of arguments for 'FT.AGGREGATE' command")
    with ctx.lock:
        index = ctx.indexes.get(args[1], missing="{name}: no such index")
    request = parse_aggregate(args[2:])
    search = SearchRequest(
        query=request.query,
        params=request.params,
        nostopwords=request.nostopwords,
        infields=request.infields,
        verbatim=request.verbatim,
        language=request.language,
    )
    parsed = search.parse_query(
        index.definition.stopwords, index.definition.language, index.definition.phonetic_fields
    )
    if has_window(parsed.filter):  # as SLOP / INORDER: aggregate rows are not windowed
        raise QuerySyntaxError(
            "$slop / $inorder query attributes are not supported by memvec's FT.AGGREGATE: "
            "remove them"
        )
    knn_alias = parsed.knn.score_alias if parsed.knn is not None else None
    ranges = index.ranges(parsed.filter, ctx.keyspace.data, ctx.lock)
    yield_names = ranges.yield_names if ranges is not None else []
    if yield_names and (knn_alias is not None or len(yield_names) > 1):
        raise QuerySyntaxError(
            "memvec's FT.AGGREGATE takes one distance per row: a KNN or one VECTOR_RANGE "
            "with $YIELD_DISTANCE_AS"
        )
    # a VECTOR_RANGE's yielded distance is loaded into rows as a KNN distance is
    distance_alias = yield_names[0] if yield_names else knn_alias
    plan = compile_plan(request, index.definition, distance_alias)
    allowed = index.plan_filter(parsed, ctx.lock, ranges)
    distances: dict[int, float] = {}
    if parsed.knn is not None:
        pairs, plan_name = index.knn(parsed.knn, allowed, ctx.keyspace.data, ctx.lock)
        labels = [label for label, _ in pairs]
        distances = dict(pairs)
    else:
        plan_name = "filter"
        with ctx.lock:
            labels = sorted(index.label_to_key) if allowed is None else sorted(allowed)
        if ranges is not None and yield_names:
            for label in labels:
                distance = ranges.yields(label).get(yield_names[0])
                if distance is not None:
                    distances[label] = distance
    index.count_plan(plan_name)
    scores = _text_scores(index, parsed, labels, request.scorer) if request.addscores else {}
    with ctx.lock:
        keys = [(label, index.label_to_key.get(label)) for label in labels]
    if request.inkeys is not None:
        wanted = set(request.inkeys)
        keys = [(label, key) for label, key in keys if key in wanted]
    deadline = Deadline(request.timeout_ms)
    terms = _query_terms(parsed.filter)
    text_fields = [f.name for f in index.definition.fields if f.type is FieldType.TEXT]
    json_names = None
    if index.definition.on == "JSON":  # the names rows read, evaluated on each document
        json_names = [b"$"] if plan.load_all else []
        json_names += [loader.path for loader in plan.root if loader.kind == "hash"]
        json_names += text_fields if terms else []
    docs = _documents(ctx, ctx.keyspace, keys, distances, scores, deadline, index, json_names)
    # only an expression calling matched_terms() reads them: spare the per-document walk
    if terms and any(b"matched_terms" in arg.lower() for arg in args[2:]):
        docs = _with_terms(docs, _matched_terms(index, parsed, ranges), ctx.lock)
    execution = Execution(plan, docs)
    if not request.cursor:
        return aggregate_reply(ctx.protocol, execution, None, deadline)
    registry = registry_for(ctx.indexes)
    count = request.cursor_count or 1000
    cursor = registry.add(index, execution, count, request.maxidle_ms)
    cursor.deadline = deadline
    body = aggregate_reply(ctx.protocol, execution, count, deadline)
    if execution.done:
        registry.delete(cursor.id)
        return [body, 0]
    return [body, cursor.id]


class Deadline:
    """A request's TIMEOUT: the time by which rows stop, restarted for each cursor read.
    ``hit`` tells the reply that rows stopped because of it."""

    def __init__(self, timeout_ms: int | None) -> None:
        self.timeout_ms = timeout_ms
        self.hit = False
        self.at: float | None = None
        self.restart()

    def restart(self) -> None:
        self.hit = False
        self.at = time.monotonic() + self.timeout_ms / 1000 if self.timeout_ms else None

    def passed(self) -> bool:
        if self.at is not None and time.monotonic() > self.at:
            self.hit = True
        return self.hit


def _documents(
    ctx: ExecContext,
    keyspace: Keyspace,
    keys: list[tuple[int, bytes | None]],
    distances: dict[int, float],
    scores: dict[int, float],
    deadline: Deadline,
    index: SearchIndex,
    json_names: list[bytes] | None,
) -> Iterator[SourceDoc]:
    """The matching documents, read in batches. A JSON index's rows read ``json_names``
    (JSONPaths and ``$``), evaluated here under the lock (:mod:`store.index.json_fields`)."""
    lock = ctx.lock
    now = ctx.read_now
    for start in range(0, len(keys), READ_BATCH):
        batch = keys[start : start + READ_BATCH]
        with lock:  # one short hold per batch; copies, so later writes do not show
            values = keyspace.get_many([key for _, key in batch], now)
            if json_names is None:
                hashes = [dict(v) if isinstance(v, dict) else None for v in values]
            else:
                hashes = [
                    _json_row(index, v, json_names) if isinstance(v, JsonDoc) else None
                    for v in values
                ]
        timed = deadline.at is not None or deadline.hit  # else passed() stays False
        for (label, key), fields in zip(batch, hashes, strict=True):
            if timed and deadline.passed():
                return
            if key is None:
                continue
            yield SourceDoc(label, key, fields, distances.get(label), scores.get(label))


def _json_row(index: SearchIndex, doc: JsonDoc, names: list[bytes]) -> dict[bytes, bytes]:
    """A JSON document's source row: each name's value (a SORTABLE field's first value,
    as RediSearch's sorting vector holds it; a JSON null is absent); with ``$`` among them
    (``LOAD *``) a :class:`LoadAllRow`."""
    row: dict[bytes, bytes] = {}
    for name in names:
        value = json_fields.sort_value(index.definition, doc, name)
        if value is not None:
            row[name] = value
    return json_fields.LoadAllRow(row) if b"$" in names else row


def _query_terms(node: object) -> list[bytes]:
    """The text terms, patterns and tag values of a query (any: ``matched_terms()`` may
    find some)."""
    out: list[bytes] = []
    if isinstance(node, TextFilter):
        out += [t for t in node.terms if t not in out]
    elif isinstance(node, TagFilter):
        out += [t for t in (*node.values, *node.prefixes) if t not in out]
        out += [t for _, t in node.patterns if t not in out]
    elif isinstance(node, OptionalFilter):
        out += _query_terms(node.child)
    elif isinstance(node, And | Or):
        for child in node.children:
            out += [t for t in _query_terms(child) if t not in out]
    return out


def _matched_terms(index: SearchIndex, parsed: Any, ranges: Any) -> Any:
    """``label -> terms`` for ``matched_terms()``: the terms and tag values of the
    document's result tree (RediSearch's iterators replayed, store/index/score_tree.py),
    in its order, stems (``+run``) and the expansion a pattern found included."""
    build = build_root(index.fields, parsed, None, ranges=ranges)

    def terms_of(label: int) -> tuple[bytes, ...]:
        if label not in index.fields:
            return ()
        result = build(label, DocText(index.fields, label))
        out: dict[bytes, None] = {}
        stack = [] if result is None else [result]
        while stack:
            node = stack.pop()
            if node.kind == TERM:  # text terms and tag values alike
                out[node.term] = None
            stack.extend(reversed(node.children))
        return tuple(out)

    return terms_of


def _with_terms(docs: Iterator[SourceDoc], terms_of: Any, lock: Any) -> Iterator[SourceDoc]:
    for doc in docs:
        if doc.fields is not None:
            with lock:
                doc.terms = terms_of(doc.doc_id)  # the label, in index order
        yield doc


def aggregate_reply(
    protocol: int, execution: Execution, count: int | None, deadline: Deadline | None = None
) -> object:
    """Up to ``count`` rows of ``execution`` (all with None) as FT.AGGREGATE answers them:
    ``[total, row...]`` in RESP2, RediSearch's map in RESP3 (with the timeout warning when
    ``deadline`` was hit). Shared with the cluster coordinator (store.cluster)."""
    try:
        total, rows = execution.chunk(count)
    except EvalError as exc:
        raise QuerySyntaxError(str(exc)) from exc
    if protocol == 3:
        warnings: list[bytes] = []
        if execution.warning:
            warnings.append(execution.warning.encode())
        if deadline is not None and deadline.hit:
            warnings.append(TIMEOUT_WARNING.encode())
        return {
            words.ATTRIBUTES: [],
            words.TOTAL_RESULTS: total,
            words.FORMAT: words.STRING,
            words.RESULTS: [
                {
                    words.EXTRA_ATTRIBUTES: {
                        name: reply_value(value) for name, value in execution.fields(row)
                    },
                    words.VALUES: [],
                }
                for row in rows
            ],
            words.WARNING: warnings,
        }
    out: list[Any] = [total]
    for row in rows:
        flat: list[Any] = []
        for name, value in execution.fields(row):
            flat += [name, reply_value(value)]
        out.append(flat)
    return out


@command("FT.CURSOR", -1, "readonly lockfree", "search slow")
def ft_cursor(ctx: ExecContext, args: list[bytes]) -> object:
    """FT.CURSOR READ index id [COUNT n] | DEL index id | GC index 0."""
    if len(args) < 4:
        raise StoreError("wrong number of arguments for 'FT.CURSOR' command")
    sub = args[1].upper()
    if sub not in (b"READ", b"DEL", b"GC"):
        raise StoreError("Unknown subcommand")
    registry = registry_for(ctx.indexes)
    if sub == b"GC":
        return registry.collect()
    cid = _cursor_id(args[3])
    if sub == b"DEL":
        if not registry.delete(cid):
            raise StoreError("Cursor does not exist")
        return _ok()
    # RediSearch reads COUNT leniently: a missing value or another word is ignored, 0
    # means the cursor's own count and a negative one everything that is left
    count: int | None = None
    if len(args) >= 6 and args[4].upper() == b"COUNT":
        count = parse_int64(args[5], strict=False)
        if count is None:
            raise StoreError("Bad value for COUNT")
    cursor = registry.take(cid)
    if cursor is None:
        raise StoreError("Cursor not found")
    with ctx.lock:
        current = ctx.indexes.indexes.get(cursor.index)
    if current is not cursor.owner:  # its index was dropped since
        raise StoreError("Cursor not found")
    if count is None or count == 0:
        chunk: int | None = cursor.count
    else:
        chunk = None if count < 0 else count
    deadline = cursor.deadline
    if isinstance(deadline, Deadline):
        deadline.restart()  # each read has the whole TIMEOUT, as in RediSearch
    else:
        deadline = Deadline(None)
    body = aggregate_reply(ctx.protocol, cursor.execution, chunk, deadline)
    if cursor.execution.done:
        return [body, 0]
    registry.put_back(cursor)
    return [body, cursor.id]


def _cursor_id(raw: bytes) -> int:
    """A signed 64-bit decimal, all of it (RediSearch refuses a leading space)."""
    digits = raw[1:] if raw[:1] == b"-" else raw
    if not digits.isdigit() or not -(2**63) <= int(raw) < 2**63:
        raise StoreError("Bad cursor ID")
    return int(raw)


def _ok() -> object:
    from ..replies import SimpleString

    return SimpleString("OK")
