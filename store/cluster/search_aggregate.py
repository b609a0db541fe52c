"""FT.AGGREGATE across shards: the shards find the documents, this node runs the pipeline.

The plan is the simplest one that stays exact for every step and reducer (QUANTILE,
COUNT_DISTINCT, TOLIST and SORTBY ties included): every shard answers the query part only,
each matching document as a row of its whole hash with its key, its distance (KNN or a
VECTOR_RANGE's ``$YIELD_DISTANCE_AS``) and, with ADDSCORES, its score::

    FT.AGGREGATE index query [PARAMS ...] [DIALECT d] [TIMEOUT t] [VERBATIM] [NOSTOPWORDS]
        [ADDSCORES] [SCORER s] [INFIELDS ...] [INKEYS ...] [LANGUAGE l]
        LOAD 3 @__key AS __memvec_key LOAD *

This node puts the documents in one order as one node would read them (a KNN query's by
distance then key, the first K kept; others by key, which is document order when keys
were written in key order) and runs the client's steps on them with memvec's own pipeline
(:mod:`store.aggregate`), exactly as one node runs them.

Costs and limits: every matching document crosses the network once, whole (a GROUPBY over
the whole index moves the index); distances and scores cross as RediSearch prints them
(12 significant digits), so an APPLY computing on them may differ from one node in the
last digit. WITHCURSOR keeps the rows in this node's cursor registry: FT.CURSOR READ and
DEL must be sent to the node that answered the FT.AGGREGATE (as with RediSearch's
coordinator), and the cursor holds every matching document until it is read or expires.
Refused with a clear error: JSON indexes (their rows are JSONPath values, not hashes) and
``matched_terms()`` (the matched terms do not cross).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..aggregate import (
    Execution,
    SourceDoc,
    compile_plan,
    parse_aggregate,
    registry_for,
)
from ..commands.aggregate import aggregate_reply
from ..errors import CommandError, QuerySyntaxError, StoreError
from ..index.corpus_stats import CORPUS_SCORERS
from ..index.query.vector_range import distance_names
from ..index.search_args import SearchRequest
from ..replies import ErrorReply
from .search_merge import first_error, owned_once, owner_in

if TYPE_CHECKING:
    from .search import Client, SearchCoordinator
    from .topology import Topology

__all__ = ["aggregate", "query_args", "shard_args"]

KEY_NAME = b"__memvec_key"
TIMEOUT_WARNING = b"Timeout limit was reached"


def shard_args(args: list[bytes], request: Any) -> list[bytes]:
    """The query part of ``FT.AGGREGATE`` for a shard (module docstring)."""
    out = [args[0], args[1], *query_args(request)]
    if request.addscores:
        out.append(b"ADDSCORES")
    return [*out, b"LOAD", b"3", b"@__key", b"AS", KEY_NAME, b"LOAD", b"*"]


def query_args(request: Any) -> list[bytes]:
    """The aggregate's query and the options that shape its matching and scoring, as
    FT.SEARCH spells them (what ``_FT.STATS`` reads)."""
    out = [request.query]
    if request.params:
        out += [b"PARAMS", str(2 * len(request.params)).encode()]
        for name, value in request.params.items():
            out += [name, value]
    if request.dialect is not None:
        out += [b"DIALECT", str(request.dialect).encode()]
    if request.timeout_ms is not None:
        out += [b"TIMEOUT", str(request.timeout_ms).encode()]
    if request.verbatim:
        out.append(b"VERBATIM")
    if request.nostopwords:
        out.append(b"NOSTOPWORDS")
    if request.scorer is not None:
        out += [b"SCORER", request.scorer]
    for word, items in ((b"INFIELDS", request.infields), (b"INKEYS", request.inkeys)):
        if items is not None:
            out += [word, str(len(items)).encode(), *items]
    if request.language is not None:
        out += [b"LANGUAGE", request.language]
    return out


async def aggregate(
    coordinator: SearchCoordinator, topology: Topology, client: Client, args: list[bytes]
) -> Any:
    index = coordinator.local_index(args)
    definition = index.definition if index is not None else None
    try:
        request = parse_aggregate(args[2:]) if definition is not None else None
    except StoreError:
        request = None
    nodes = coordinator.targets(topology, client)
    if request is None or definition is None:  # the shards' own error is the answer
        replies = await coordinator.ask(nodes, client.protocol, args)
        error = first_error(replies)
        return error if error is not None else replies[0]
    if definition.on != "HASH":
        raise CommandError(
            "FT.AGGREGATE across shards reads HASH indexes only: aggregate a JSON index on "
            "a standalone node (docs/cluster.md)"
        )
    if any(b"matched_terms" in a.lower() for a in args[2:]):
        raise CommandError("matched_terms() is not supported across shards (docs/cluster.md)")
    search = SearchRequest(
        query=request.query,
        params=request.params,
        nostopwords=request.nostopwords,
        infields=request.infields,
        verbatim=request.verbatim,
        language=request.language,
    )
    parsed = search.parse_query(
        definition.stopwords, definition.language, definition.phonetic_fields
    )
    knn_alias = parsed.knn.score_alias if parsed.knn is not None else None
    yields = distance_names(parsed.filter)
    if yields and (knn_alias is not None or len(yields) > 1):
        raise QuerySyntaxError(
            "memvec's FT.AGGREGATE takes one distance per row: a KNN or one VECTOR_RANGE "
            "with $YIELD_DISTANCE_AS"
        )
    distance_alias = yields[0] if yields else knn_alias
    plan = compile_plan(request, definition, distance_alias)  # refuses as one node would
    asked = shard_args(args, request)
    if request.addscores and request.scorer in CORPUS_SCORERS:
        asked = await coordinator.globally_scored(
            nodes, b"_FT.AGGREGATE", asked, query_args(request)
        )
    replies = await coordinator.ask(nodes, 2, asked)
    error = first_error(replies)
    if error is not None:
        return error
    per_shard = [_documents([reply], distance_alias, request.addscores) for reply in replies]
    docs, _ = owned_once(per_shard, lambda d: d.key, owner_in(topology))
    if parsed.knn is not None:
        docs.sort(key=lambda d: (d.distance if d.distance is not None else float("inf"), d.key))
        docs = docs[: parsed.knn.k]
    else:
        docs.sort(key=lambda d: d.key)
    for i, doc in enumerate(docs):
        doc.doc_id = i + 1
    execution = Execution(plan, iter(docs))
    if not request.cursor:
        return aggregate_reply(client.protocol, execution, None)
    # the rows stay here, in this node's cursor registry: FT.CURSOR READ/DEL sent to this
    # node reads them as any cursor (store.commands.aggregate)
    registry = registry_for(coordinator.engine.indexes)
    count = request.cursor_count or 1000
    cursor = registry.add(index, execution, count, request.maxidle_ms)
    body = aggregate_reply(client.protocol, execution, count)
    if execution.done:
        registry.delete(cursor.id)
        return [body, 0]
    return [body, cursor.id]


def _documents(replies: list[Any], distance: bytes | None, scores: bool) -> list[SourceDoc]:
    """The shards' rows as source documents (their hash without the added names)."""
    hidden = {KEY_NAME}
    if distance is not None:
        hidden.add(distance)
    if scores:
        hidden.add(b"__score")
    docs = []
    for reply in replies:
        if isinstance(reply, ErrorReply):
            continue
        for row in reply[1:]:
            pairs = {row[i]: row[i + 1] for i in range(0, len(row) - 1, 2)}
            key = pairs.get(KEY_NAME)
            if not isinstance(key, bytes):
                continue
            fields = {k: v for k, v in pairs.items() if k not in hidden}
            docs.append(
                SourceDoc(
                    0,
                    key,
                    fields,
                    _number(pairs.get(distance)) if distance is not None else None,
                    _number(pairs.get(b"__score")) if scores else None,
                )
            )
    return docs


def _number(raw: Any) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
