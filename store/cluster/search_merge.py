"""FT.SEARCH across shards: what each shard is asked, and how the replies become one.

The reference is one node holding every document (docs/cluster.md, "Search across
shards"). :func:`plan_search` rewrites the client's request for the shards;
:func:`merge_search` orders the shards' documents as that node would, then pages.

What a shard is asked (the client's arguments, with these changes):

* ``LIMIT 0 offset+num``: the page can come from any shard, so each gives its best
  ``offset+num``; a KNN query with SORTBY asks for all its ``K`` (the node keeps the K
  nearest of the cluster, then sorts them).
* ``WITHSCORES`` always (text results merge by score) and ``WITHSORTKEYS`` with SORTBY
  (the sort value: ``#number`` or ``$text``, RediSearch's spelling); dropped from the
  answer unless the client asked.
* The distances the merge orders by (the KNN score alias, a SORTBY on a VECTOR_RANGE
  ``$YIELD_DISTANCE_AS``) are requested in the content: NOCONTENT becomes ``RETURN n
  names``, a RETURN list gets them first (a node answers distance fields first anyway);
  the client then gets its own shape.

Order, as one node orders (its ties are broken by document id, i.e. insertion order; here
by key, which is the same whenever keys were written in key order, see docs/cluster.md):

* KNN: by distance then key, the first K kept (HNSW is approximate on every shard: FLAT
  indexes give exactly one node's answer); SORTBY then reorders those K as a node does.
* text without SORTBY: by score descending, then key. TFIDF and BM25 scores are computed
  with the cluster's corpus statistics (``_FT.STATS`` then ``_FT.SEARCH``: see
  :class:`store.cluster.search.SearchCoordinator`), so they are one node's.
* SORTBY a schema field: by sort value (numbers numerically, else bytewise), missing values
  last, ties by key, the direction applying to both.

``total`` is the sum of the shards' totals (a KNN query's capped at K). A key two shards
answer (during a slot migration) is kept once, from the owner of its slot, and counted
once if both returned it (a total can still count it twice when one shard's page left it
out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..commands import search_words as words
from ..errors import StoreError
from ..index.query.vector_range import distance_names
from ..index.schema import IndexDefinition
from ..index.search_args import MAX_SEARCH_RESULTS, SearchRequest, parse_ft_search
from ..index.sorting import field_sort_key
from ..replies import ErrorReply, SimpleString
from .slots import key_slot
from .topology import Topology

__all__ = [
    "SearchPlan",
    "as_mapping",
    "first_error",
    "merge_search",
    "owned_once",
    "owner_in",
    "plan_search",
    "search_options",
    "word",
]

TIMEOUT_WARNING = "Timeout limit was reached"
T = TypeVar("T")

# FT.SEARCH options and how many arguments follow each (None: a count, then that many)
_OPTION_ARGS: dict[bytes, int | None] = {
    b"LIMIT": 2,
    b"RETURN": None,
    b"PARAMS": None,
    b"INKEYS": None,
    b"INFIELDS": None,
    b"DIALECT": 1,
    b"TIMEOUT": 1,
    b"SLOP": 1,
    b"LANGUAGE": 1,
    b"SCORER": 1,
    b"EXPANDER": 1,
    b"PAYLOAD": 1,
    b"FORMAT": 1,
    b"FILTER": 3,
    b"GEOFILTER": 5,
}


def search_options(argv: Sequence[bytes]) -> list[tuple[bytes, list[bytes]]]:
    """``argv`` (after the query) as (KEYWORD, its arguments) pairs, as
    :func:`store.index.search_args.parse_ft_search` reads them; only for arguments that
    parser accepted."""
    out: list[tuple[bytes, list[bytes]]] = []
    i = 0
    while i < len(argv):
        word = argv[i].upper()
        i += 1
        if word == b"SORTBY":
            n = 2 if i + 1 < len(argv) and argv[i + 1].upper() in (b"ASC", b"DESC") else 1
        elif word in _OPTION_ARGS:
            count = _OPTION_ARGS[word]
            n = 1 + int(argv[i]) if count is None else count
        else:
            n = 0  # a flag
        out.append((word, list(argv[i : i + n])))
        i += n
    return out


@dataclass
class SearchPlan:
    """One FT.SEARCH as the shards run it; :func:`merge_search` reads it back."""

    request: SearchRequest
    shard_args: list[bytes]
    k: int | None = None  # a KNN query's K
    knn_alias: bytes | None = None
    by_distance: bytes | None = None  # SORTBY names a distance (KNN alias or a yield)
    added: set[bytes] = field(default_factory=set)  # content names asked for the merge only
    shard_content: bool = True  # the shards answer documents' fields


def plan_search(args: list[bytes], definition: IndexDefinition | None) -> SearchPlan | None:
    """The shards' request for ``FT.SEARCH index query ...``; None when the request is
    refused by the parser: the shards then get the client's arguments as they are and
    their (identical) error is the answer."""
    if len(args) < 3:
        return None
    try:
        request = parse_ft_search(args[2:])
        if definition is None:  # not here yet (a lagging replica): KNN and ranges parse alike
            parsed = request.parse_query()
        else:
            parsed = request.parse_query(
                definition.stopwords, definition.language, definition.phonetic_fields
            )
    except StoreError:
        return None
    plan = SearchPlan(request, [])
    distances = distance_names(parsed.filter)
    if parsed.knn is not None:
        plan.k = parsed.knn.k
        plan.knn_alias = parsed.knn.score_alias
        distances = [parsed.knn.score_alias, *distances]
    sortby = request.sortby
    if sortby is not None and sortby.field in distances:
        plan.by_distance = sortby.field
    need = [n for n in (plan.knn_alias, plan.by_distance) if n is not None]
    need = list(dict.fromkeys(need))
    offset, num = request.limit
    if plan.k is not None and sortby is not None:  # a shard's best K, whatever the order
        want = max(plan.k, offset + num) if num else 0
    else:
        want = offset + num if num else 0
    out = [args[0], args[1], args[2]]
    returned: list[bytes] | None = None
    for word, values in search_options(args[3:]):
        if word in (b"NOCONTENT", b"LIMIT", b"WITHSORTKEYS", b"WITHSCORES"):
            continue
        if word == b"RETURN":
            returned = values[1:]
            continue
        out += [word, *values]
    if request.nocontent:
        if need:
            plan.added = set(need)
            out += [b"RETURN", str(len(need)).encode(), *need]
        else:
            out.append(b"NOCONTENT")
            plan.shard_content = False
    elif returned is not None:
        names = {r.alias for r in request.return_fields or ()}
        extra = [n for n in need if n not in names]
        plan.added = set(extra)
        out += [b"RETURN", str(len(extra) + len(returned)).encode(), *extra, *returned]
    out.append(b"WITHSCORES")
    if sortby is not None:
        out.append(b"WITHSORTKEYS")
    out += [b"LIMIT", b"0", str(min(want, MAX_SEARCH_RESULTS)).encode()]
    plan.shard_args = out
    return plan


@dataclass
class _Doc:
    key: bytes
    score: Any
    payload: Any
    sortkey: Any
    fields: Any  # RESP2: flat list; RESP3: dict; None without content

    def field(self, name: bytes) -> bytes | None:
        if isinstance(self.fields, dict):
            value = self.fields.get(name)
            return value if isinstance(value, bytes) else None
        if isinstance(self.fields, list):
            for i in range(0, len(self.fields) - 1, 2):
                if self.fields[i] == name:
                    value = self.fields[i + 1]
                    return value if isinstance(value, bytes) else None
        return None

    def score_value(self) -> float:
        raw = self.score[0] if isinstance(self.score, list) else self.score
        try:
            return float(raw)
        except (TypeError, ValueError):
            return 0.0


def _docs(plan: SearchPlan, reply: Any, protocol: int) -> tuple[int, list[_Doc], list[Any]]:
    """(total, documents, warnings) of one shard's reply."""
    request = plan.request
    if protocol == 3:
        reply = as_mapping(reply)
        docs = []
        for raw in reply[b"results"]:
            entry = as_mapping(raw)
            docs.append(
                _Doc(
                    entry[b"id"],
                    entry.get(b"score"),
                    entry.get(b"payload"),
                    entry.get(b"sortkey"),
                    entry.get(b"extra_attributes"),
                )
            )
        return int(reply[b"total_results"]), docs, list(reply.get(b"warning") or [])
    total, rest = int(reply[0]), reply[1:]
    docs, i = [], 0
    while i < len(rest):
        key = rest[i]
        i += 1
        score = rest[i]
        i += 1
        payload = sortkey = fields = None
        if request.withpayloads:
            payload, i = rest[i], i + 1
        if request.sortby is not None:
            sortkey, i = rest[i], i + 1
        if plan.shard_content:
            fields, i = rest[i], i + 1
        docs.append(_Doc(key, score, payload, sortkey, fields))
    return total, docs, []


def _sortkey_value(doc: _Doc) -> tuple[float, bytes] | None:
    raw = doc.sortkey
    if not isinstance(raw, bytes) or not raw:
        return None
    return field_sort_key(raw[1:])[1:]


def _distance(doc: _Doc, name: bytes) -> float:
    raw = doc.field(name)
    try:
        return float(raw) if raw is not None else float("inf")
    except ValueError:
        return float("inf")


def _reorder(docs: list[_Doc], value: Any, ascending: bool) -> list[_Doc]:
    """A node's reordering of already ordered results by SORTBY (KNN hits, ranges):
    reversed for DESC, then stably sorted by value, documents without one last."""
    if not ascending:
        docs = docs[::-1]
    having = [d for d in docs if value(d) is not None]
    having.sort(key=value, reverse=not ascending)
    return having + [d for d in docs if value(d) is None]


def _order(plan: SearchPlan, docs: list[_Doc]) -> list[_Doc]:
    request = plan.request
    sortby = request.sortby
    if plan.k is not None:
        alias = plan.knn_alias or b""
        docs = sorted(docs, key=lambda d: (_distance(d, alias), d.key))[: plan.k]
        if sortby is None:
            return docs
        if plan.by_distance is not None:
            name = plan.by_distance
            return _reorder(docs, lambda d: _field_key(d, name), sortby.ascending)
        return _reorder(docs, _sortkey_value, sortby.ascending)
    if sortby is None:
        return sorted(docs, key=lambda d: (-d.score_value(), d.key))
    base = sorted(docs, key=lambda d: d.key)
    if plan.by_distance is not None:
        name = plan.by_distance
        return _reorder(base, lambda d: _field_key(d, name), sortby.ascending)
    having = [d for d in base if _sortkey_value(d) is not None]
    having.sort(key=lambda d: (_sortkey_value(d), d.key), reverse=not sortby.ascending)
    missing = [d for d in base if _sortkey_value(d) is None]
    return having + (missing if sortby.ascending else missing[::-1])


def _field_key(doc: _Doc, name: bytes) -> tuple[float, bytes] | None:
    raw = doc.field(name)
    return None if raw is None else field_sort_key(raw)[1:]


def _strip(fields: Any, names: set[bytes]) -> Any:
    if not names:
        return fields
    if isinstance(fields, dict):
        return {k: v for k, v in fields.items() if k not in names}
    out: list[Any] = []
    for i in range(0, len(fields) - 1, 2):
        if fields[i] not in names:
            out += [fields[i], fields[i + 1]]
    return out


def owned_once(
    found: Sequence[Sequence[T]], key: Callable[[T], bytes], owner: Callable[[bytes], int]
) -> tuple[list[T], int]:
    """The shards' items (``found[i]`` from shard i) with a key held by two shards (a slot
    being migrated: copied to its new owner, not yet deleted from the old) kept once, from
    the shard that owns its slot (the first one if neither does); and how many were
    dropped."""
    first: dict[bytes, int] = {}
    doubled: set[bytes] = set()
    for shard, items in enumerate(found):
        for item in items:
            k = key(item)
            if k in first:
                doubled.add(k)
            else:
                first[k] = shard
    if not doubled:
        return [item for items in found for item in items], 0
    out, dropped = [], 0
    for shard, items in enumerate(found):
        for item in items:
            k = key(item)
            if k in doubled:
                keeper = owner(k)
                holders = [i for i, its in enumerate(found) if any(key(x) == k for x in its)]
                if shard != (keeper if keeper in holders else holders[0]):
                    dropped += 1
                    continue
            out.append(item)
    return out, dropped


def owner_in(topology: Topology) -> Callable[[bytes], int]:
    """``key -> index in topology.shards of the shard owning its slot`` (-1: none)."""
    owners = topology.owners
    return lambda key: owners[key_slot(key)]


def merge_search(
    plan: SearchPlan,
    replies: Sequence[Any],
    protocol: int,
    owner: Callable[[bytes], int] = lambda key: -1,
) -> Any:
    """One reply from the shards' replies (in shard order); the first error wins.
    ``owner(key)`` is the index of the shard owning ``key``'s slot (:func:`owned_once`)."""
    for reply in replies:
        if isinstance(reply, ErrorReply):
            return reply
    totals, per_shard, warnings = 0, [], []
    for reply in replies:
        total, found, warned = _docs(plan, reply, protocol)
        totals += total
        per_shard.append(found)
        warnings += warned
    docs, dropped = owned_once(per_shard, lambda d: d.key, owner)
    totals -= dropped
    request = plan.request
    if plan.k is not None:
        totals = min(totals, plan.k)
    offset, num = request.limit
    page = _order(plan, docs)[offset : offset + num] if num else []
    if protocol == 3:
        results = []
        for d in page:
            entry: dict[str, Any] = {words.ID: d.key}
            if request.withscores:
                entry[words.SCORE] = d.score
            if request.withpayloads:
                entry[words.PAYLOAD] = d.payload
            if request.withsortkeys:
                entry[words.SORTKEY] = d.sortkey
            if not request.nocontent:
                entry[words.EXTRA_ATTRIBUTES] = _strip(d.fields, plan.added)
            entry[words.VALUES] = []
            results.append(entry)
        return {
            words.ATTRIBUTES: [],
            words.TOTAL_RESULTS: totals,
            words.FORMAT: words.STRING,
            words.RESULTS: results,
            words.WARNING: [SimpleString(TIMEOUT_WARNING)] if warnings else [],
        }
    out: list[Any] = [totals]
    for d in page:
        out.append(d.key)
        if request.withscores:
            out.append(d.score)
        if request.withpayloads:
            out.append(d.payload)
        if request.withsortkeys:
            out.append(d.sortkey)
        if not request.nocontent:
            out.append(_strip(d.fields, plan.added))
    return out


def first_error(replies: Sequence[Any]) -> ErrorReply | None:
    return next((r for r in replies if isinstance(r, ErrorReply)), None)


def word(key: Any) -> Any:
    """A reply map's key as bytes: a shard spells the words of search replies as simple
    strings (str, ``store.commands.search_words``), a memvec before that as bulk strings."""
    return key.encode("utf-8", "surrogateescape") if isinstance(key, str) else key


def as_mapping(reply: Any) -> dict[Any, Any]:
    """A RESP2 flat ``[k, v, ...]`` reply or a RESP3 map, as a mapping whose text keys are
    bytes (:func:`word`)."""
    if isinstance(reply, dict):
        return {word(k): v for k, v in reply.items()}
    return {word(reply[i]): reply[i + 1] for i in range(0, len(reply) - 1, 2)}
