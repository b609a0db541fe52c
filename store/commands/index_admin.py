"""Index management: FT.ALIASADD/ALIASUPDATE/ALIASDEL, FT.ALTER, FT.EXPLAIN(CLI),
FT.PROFILE, FT.TAGVALS, FT.CONFIG, and the refused FT.SYNUPDATE/SYNDUMP.

Replies and error texts are RediSearch 2.10's (checked against it in
tests/server/test_index_admin.py). Aliases and FT.ALTER are engine writes: logged,
replayed, replicated and kept in snapshots through the index manager
(:mod:`store.index.manager`), which also resolves aliases for every command that names an
index. Choices that differ from RediSearch:

* ``FT.ALTER`` rebuilds the index over the keyspace (``SKIPINITIALSCAN``: over the
  documents the index already had), synchronously, so the new field is searchable when
  the reply arrives; RediSearch rescans in the background.
* ``FT.PROFILE`` answers with the search (or aggregate) reply and a profile in
  RediSearch's shape; the iterator tree is memvec's query tree and the times are memvec's
  (milliseconds), so the numbers differ from RediSearch's, never the layout.
* ``FT.CONFIG SET`` changes ``MINPREFIX``, ``MAXEXPANSIONS`` and ``VSS_MAX_RESIZE`` (per
  server, not logged, as RediSearch's are not); any other parameter is refused unless set
  to the value memvec already has (:mod:`store.index.ft_config`).
* ``FT.SYNUPDATE``/``FT.SYNDUMP`` are refused with an error saying so: memvec's query
  parser does not expand synonyms, and storing groups that no query uses would answer
  differently from RediSearch without saying so.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import ArityError, IndexError_, QuerySyntaxError, StoreError
from ..index.explain import explain_lines
from ..index.ft_config import Parameter, lookup, parse_config_integer
from ..index.query import And, MatchAll, Not, NumericFilter, OptionalFilter, Or, TagFilter
from ..index.schema import FieldType, capacity_budget_bytes, check_capacity, parse_ft_create
from ..index.search_args import parse_ft_search
from ..numbers import format_double
from ..replies import OrderedSet, SimpleString
from . import search_words as words
from .table import COMMANDS, command

if TYPE_CHECKING:
    from .context import ExecContext


# -- aliases ------------------------------------------------------------------------------
@command("FT.ALIASADD", 3, "write", "search slow")
def ft_aliasadd(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """``FT.ALIASADD alias index``: ``alias`` names ``index`` wherever an index name goes."""
    ctx.indexes.alias_add(args[1], args[2])
    ctx.dirty = True
    return SimpleString("OK")


@command("FT.ALIASUPDATE", 3, "write", "search slow")
def ft_aliasupdate(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """``FT.ALIASUPDATE alias index``: add the alias, or move it to ``index``."""
    ctx.indexes.alias_add(args[1], args[2], update=True)
    ctx.dirty = True
    return SimpleString("OK")


@command("FT.ALIASDEL", 2, "write", "search slow")
def ft_aliasdel(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """``FT.ALIASDEL alias``: remove the alias (its index stays)."""
    ctx.indexes.alias_del(args[1])
    ctx.dirty = True
    return SimpleString("OK")


# -- FT.ALTER -----------------------------------------------------------------------------
@command("FT.ALTER", -5, "write denyoom", "search slow")
def ft_alter(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """``FT.ALTER index [SKIPINITIALSCAN] SCHEMA ADD field options...``: add fields (same
    syntax and errors as FT.CREATE's schema); existing documents are re-indexed
    (``SKIPINITIALSCAN``: only those already in the index)."""
    rest = args[2:]
    skip = bool(rest) and rest[0].upper() == b"SKIPINITIALSCAN"
    if skip:
        rest = rest[1:]
    if not rest or rest[0].upper() != b"SCHEMA":
        raise QuerySyntaxError("ALTER must be followed by SCHEMA")
    if len(rest) < 2 or rest[1].upper() != b"ADD":
        raise QuerySyntaxError("Unknown action passed to ALTER SCHEMA")
    if len(rest) < 3:
        raise QuerySyntaxError("No fields provided")
    if not ctx.replaying:  # a new VECTOR field meets FT.CREATE's limits (not on replay)
        old = ctx.indexes.get(args[1], missing="Unknown index name").definition
        budget = capacity_budget_bytes(ctx.maxmemory_bytes, ctx.indexes.vss_max_resize_bytes)
        for field in parse_ft_create([*old.to_args(), *rest[2:]]).fields[len(old.fields) :]:
            if field.vector is not None:
                check_capacity(field.vector, budget)
    ctx.indexes.alter(args[1], rest[2:], skip_scan=skip)
    ctx.dirty = True
    return SimpleString("OK")


# -- FT.EXPLAIN / FT.EXPLAINCLI -----------------------------------------------------------
def _explain(ctx: ExecContext, args: list[bytes]) -> list[str]:
    with ctx.lock:
        index = ctx.indexes.get(args[1], missing="{name}: no such index")
    request = parse_ft_search(args[2:])
    parsed = request.parse_query(
        index.definition.stopwords, index.definition.language, index.definition.phonetic_fields
    )
    param = ""
    if parsed.knn is not None:
        for name, value in request.params.items():
            if value == parsed.knn.vector:
                param = _text(name)
                break
    index.fields.check_patterns(parsed.filter)
    return explain_lines(parsed.filter, parsed.knn, param, index.fields.fold_tag)


@command("FT.EXPLAIN", -3, "readonly lockfree", "search slow")
def ft_explain(ctx: ExecContext, args: list[bytes]) -> bytes:
    """``FT.EXPLAIN index query [DIALECT n] [PARAMS ...]``: the query tree as one text."""
    return "".join(line + "\n" for line in _explain(ctx, args)).encode()


@command("FT.EXPLAINCLI", -3, "readonly lockfree", "search slow")
def ft_explaincli(ctx: ExecContext, args: list[bytes]) -> list[bytes]:
    """Like FT.EXPLAIN, one array element per line (and a final empty one)."""
    return [line.encode() for line in _explain(ctx, args)] + [b""]


# -- FT.PROFILE ---------------------------------------------------------------------------
@command("FT.PROFILE", -5, "readonly lockfree", "search slow")
def ft_profile(ctx: ExecContext, args: list[bytes]) -> object:
    """``FT.PROFILE index SEARCH|AGGREGATE [LIMITED] QUERY query args...``: the command's
    reply plus a profile (RESP2: a two-element array; RESP3: the reply map with a
    ``profile`` entry)."""
    kind = args[2].upper()
    if kind not in (b"SEARCH", b"AGGREGATE"):
        raise QuerySyntaxError("No `SEARCH` or `AGGREGATE` provided")
    rest = args[3:]
    limited = bool(rest) and rest[0].upper() == b"LIMITED"
    if limited:
        rest = rest[1:]
    if not rest or rest[0].upper() != b"QUERY":
        raise QuerySyntaxError("The QUERY keyword is expected")
    if len(rest) < 2:
        raise ArityError("wrong number of arguments for 'FT.PROFILE' command")
    name = "FT." + kind.decode()
    spec = COMMANDS.get(name)
    if spec is None or spec.handler is None:
        raise QuerySyntaxError(f"FT.PROFILE {kind.decode()} is not supported by memvec")
    inner = [name.encode(), args[1], *rest[1:]]
    started = time.perf_counter()
    if "lockfree" in spec.flags:
        reply = spec.handler(ctx, inner)
    else:
        with ctx.lock:
            reply = spec.handler(ctx, inner)
    elapsed_ms = (time.perf_counter() - started) * 1000
    total = _total(reply)
    iterators, knn = _iterators(ctx, args[1], rest[1:], total, limited)
    processors = [{b"Type": b"Index", b"Time": 0.0, b"Counter": total}]
    if knn:
        processors.append({b"Type": b"Metrics Applier", b"Time": 0.0, b"Counter": total})
    if kind == b"SEARCH":
        options = {a.upper() for a in rest[2:]}
        if b"SORTBY" not in options:  # sorting by a field needs no score
            processors.append({b"Type": b"Scorer", b"Time": 0.0, b"Counter": total})
        processors.append({b"Type": b"Sorter", b"Time": 0.0, b"Counter": total})
        if b"NOCONTENT" not in options:
            processors.append({b"Type": b"Loader", b"Time": 0.0, b"Counter": total})
    profile: dict[bytes, Any] = {
        b"Total profile time": elapsed_ms,
        b"Parsing time": 0.0,
        b"Pipeline creation time": 0.0,
        b"Warning": b"None",
        b"Iterators profile": [iterators],
        b"Result processors profile": processors,
    }
    worded = words.simple(profile)  # RediSearch's texts, in both protocols
    if ctx.protocol == 3 and isinstance(reply, dict):
        return {**reply, words.PROFILE: worded}
    flat: list[Any] = []
    for key, value in worded.items():
        if key == "Warning":
            flat.append([key])
        elif key in ("Iterators profile", "Result processors profile"):
            flat.append([key, *(_resp2(p) for p in value)])
        else:
            flat.append([key, _resp2(value)])
    return [reply, flat]


def _total(reply: object) -> int:
    if isinstance(reply, dict):
        value = reply.get(words.TOTAL_RESULTS, 0)
        return value if isinstance(value, int) else 0
    if isinstance(reply, list) and reply and isinstance(reply[0], int):
        return reply[0]
    return 0


def _iterators(
    ctx: ExecContext, name: bytes, search_args: list[bytes], total: int, limited: bool
) -> tuple[dict[bytes, Any], bool]:
    """The query's iterator tree (RediSearch's ``Iterators profile`` entry) and whether
    it has a KNN clause. Counters: the root's is the command's total; a child of an
    intersection reads what the intersection yields; any other node its own matches."""
    try:
        with ctx.lock:
            index = ctx.indexes.get(name)
        definition = index.definition
        parsed = parse_ft_search(search_args).parse_query(
            definition.stopwords, definition.language, definition.phonetic_fields
        )
    except StoreError:
        return {b"Type": b"UNKNOWN", b"Time": 0.0, b"Counter": total}, False
    if parsed.knn is not None:
        return {b"Type": b"VECTOR", b"Time": 0.0, b"Counter": total}, True

    def size(node: Any) -> int:
        labels = index.fields.evaluate(node)
        return index.num_docs if labels is None else len(labels)

    def union_children(children: list[Any]) -> list[Any] | bytes:
        if limited:  # LIMITED: a union of terms is summarised, as RediSearch does
            return b"The number of iterators in the union is %d" % len(children)
        return [walk(c, size(c)) for c in children]

    def walk(node: Any, counter: int) -> dict[bytes, Any]:
        entry: dict[bytes, Any]
        if isinstance(node, MatchAll):
            return {b"Type": b"WILDCARD", b"Time": 0.0, b"Counter": counter}
        if isinstance(node, TagFilter) and len(node.values) + len(node.prefixes) == 1:
            (term,) = node.values or {p + b"*" for p in node.prefixes}
            return {b"Type": b"TAG", b"Term": term, b"Time": 0.0, b"Counter": counter,
                    b"Size": size(node)}  # fmt: skip
        if isinstance(node, NumericFilter):
            return {b"Type": b"NUMERIC", b"Term": b"%g - %g" % (node.lo, node.hi),
                    b"Time": 0.0, b"Counter": counter, b"Size": size(node)}  # fmt: skip
        if isinstance(node, TagFilter):  # several values: a union of one iterator each
            children: list[Any] = [
                TagFilter(node.field, frozenset([v])) for v in sorted(node.values)
            ]
            children += [
                TagFilter(node.field, frozenset(), frozenset([p])) for p in sorted(node.prefixes)
            ]
            entry = {b"Type": b"UNION", b"Query type": b"TAG", b"Time": 0.0, b"Counter": counter}
            entry[b"Child iterators"] = union_children(children)
            return entry
        if isinstance(node, And):
            return {b"Type": b"INTERSECT", b"Time": 0.0, b"Counter": counter,
                    b"Child iterators": [walk(c, counter) for c in node.children]}  # fmt: skip
        if isinstance(node, Or):
            entry = {b"Type": b"UNION", b"Query type": b"UNION", b"Time": 0.0, b"Counter": counter}
            entry[b"Child iterators"] = [walk(c, size(c)) for c in node.children]
            return entry
        if isinstance(node, Not):
            return {b"Type": b"NOT", b"Time": 0.0, b"Counter": counter,
                    b"Child iterator": walk(node.child, size(node.child))}  # fmt: skip
        if isinstance(node, OptionalFilter):
            return {b"Type": b"OPTIONAL", b"Time": 0.0, b"Counter": counter,
                    b"Child iterator": walk(node.child, size(node.child))}  # fmt: skip
        return {b"Type": b"TEXT", b"Time": 0.0, b"Counter": counter}

    with ctx.lock:
        return walk(parsed.filter, total), False


def _resp2(value: Any) -> Any:
    """RESP2 form of a profile entry: maps flattened, doubles as RedisModule_ReplyWithDouble
    spells them in RESP2."""
    if isinstance(value, dict):
        out: list[Any] = []
        for k, v in value.items():
            if isinstance(v, list):
                out += [k, *(_resp2(x) for x in v)]
            else:
                out += [k, _resp2(v)]
        return out
    if isinstance(value, list):
        return [_resp2(v) for v in value]
    if isinstance(value, float):
        return format_double(value)
    return value


# -- FT.TAGVALS ---------------------------------------------------------------------------
@command("FT.TAGVALS", 3, "readonly", "search slow")
def ft_tagvals(ctx: ExecContext, args: list[bytes]) -> object:
    """``FT.TAGVALS index field``: the distinct values of a TAG field over the indexed
    documents, folded as the index stores them (lower case unless CASESENSITIVE),
    sorted (RESP3: a set in that order, as RediSearch 2.10 sends)."""
    index = ctx.indexes.get(args[1], missing="Unknown Index name")
    spec = index.definition.field_by_alias(args[2])
    if spec is None:
        raise IndexError_("No such field")
    if spec.type is not FieldType.TAG:
        raise IndexError_("Not a tag field")
    values: set[bytes] = set()
    if index.definition.on == "JSON":  # a JSON document's tags: as the index holds them
        for label in index.label_to_key:
            values.update(index.fields.tag_values(spec.alias, label))
        return _tag_reply(ctx, values)
    for key in index.key_to_label:
        doc = ctx.keyspace.data.get(key)
        raw = doc.get(spec.name) if isinstance(doc, dict) else None
        if raw is None:
            continue
        for part in raw.split(spec.separator):
            part = part.strip()
            if part:
                values.add(part if spec.case_sensitive else part.lower())
    return _tag_reply(ctx, values)


def _tag_reply(ctx: ExecContext, values: set[bytes]) -> object:
    ordered = sorted(values)
    return OrderedSet(ordered) if ctx.protocol == 3 else ordered


# -- FT.CONFIG ----------------------------------------------------------------------------
_LIMITS = {"MINPREFIX": "min_prefix", "MAXEXPANSIONS": "max_expansions"}
"""The parameters FT.CONFIG SET changes: the server's ``IndexManager.limits``."""


def _current(ctx: ExecContext, p: Parameter) -> Parameter:
    if p.name == "VSS_MAX_RESIZE":
        return p._replace(value=str(ctx.indexes.vss_max_resize_bytes).encode())
    attr = _LIMITS.get(p.name)
    if attr is None:
        return p
    return p._replace(value=str(getattr(ctx.indexes.limits, attr)).encode())


@command("FT.CONFIG", -2, "readonly", "search slow")
def ft_config(ctx: ExecContext, args: list[bytes]) -> object:
    """``FT.CONFIG GET|HELP name|*`` lists RediSearch's parameters with memvec's values;
    ``FT.CONFIG SET`` is refused but for the value memvec has (:mod:`store.index.ft_config`)."""
    action = args[1].upper()
    if action not in (b"GET", b"SET", b"HELP"):
        return SimpleString("No such configuration action")
    if len(args) < 3:
        raise ArityError("wrong number of arguments for 'FT.CONFIG' command")
    found = lookup(args[2])
    resp3 = ctx.protocol == 3
    if action == b"SET":
        if len(args) < 4:
            raise QuerySyntaxError("Expected an argument, but none provided")
        if not found:
            raise QuerySyntaxError("Invalid option")
        p = found[0]
        if p.name in _LIMITS or p.name == "VSS_MAX_RESIZE":
            if p.name == "VSS_MAX_RESIZE":  # an unsigned int in RediSearch: modulo 2^32
                ctx.indexes.vss_max_resize_bytes = parse_config_integer(args[3], 0) % (1 << 32)
            else:
                setattr(ctx.indexes.limits, _LIMITS[p.name], parse_config_integer(args[3], 1))
            # RediSearch's reply, verbatim, to arguments past the value (which it did set)
            return SimpleString("EXCESSARGS" if len(args) > 4 else "OK")
        if p.value is not None and args[3].lower() == p.value.lower():
            return SimpleString("OK")  # the value memvec already runs with
        value = "(unset)" if p.value is None else p.value.decode()
        raise QuerySyntaxError(
            f"FT.CONFIG SET is not supported by memvec: {p.name} is fixed at {value}"
        )
    found = [_current(ctx, p) for p in found]
    # names and descriptions are status replies (``+MINPREFIX``) in RediSearch; values bulk
    if action == b"GET":
        if resp3:
            return {SimpleString(p.name): p.value for p in found}
        return [[SimpleString(p.name), p.value] for p in found]
    described = SimpleString("Description"), SimpleString("Value")
    if resp3:
        return {
            SimpleString(p.name): {
                described[0]: SimpleString(p.description),
                described[1]: p.value,
            }
            for p in found
        }
    return [
        [SimpleString(p.name), described[0], SimpleString(p.description), described[1], p.value]
        for p in found
    ]


# -- synonyms: refused --------------------------------------------------------------------
def _no_synonyms(ctx: ExecContext, args: list[bytes]) -> object:
    raise QuerySyntaxError(
        f"{args[0].decode('utf-8', 'replace').upper()} is not supported by memvec: "
        "queries are not expanded with synonyms"
    )


command("FT.SYNUPDATE", -4, "write", "search slow")(_no_synonyms)
command("FT.SYNDUMP", 2, "readonly", "search slow")(_no_synonyms)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")
