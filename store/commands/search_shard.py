"""The internal commands a cluster coordinator sends a shard so text scores are global.

TFIDF and BM25 read corpus statistics (:mod:`store.index.corpus_stats`); a shard holding
part of the documents must score with the whole cluster's for a cross-shard search to
answer what one node holding everything answers. The coordinator
(:mod:`store.cluster.search`) runs two rounds:

* ``_FT.STATS index query [FT.SEARCH options]``: this shard's statistics for the query,
  ``[num_docs, total_length, [term, docs, ...], [field alias, tag value, docs, ...],
  [term, [field alias, ...], 0|1, ...]]``, every term and tag value the query's scorer
  looks up here (its expansions included), and whether each single term is held in the
  fields its query node searches.
* ``_FT.SEARCH index num_docs total_length nterms [term docs]... ntags [alias value
  docs]... npresent [term nfields alias... 0|1]... query [options]`` and
  ``_FT.AGGREGATE`` (the same header): FT.SEARCH and FT.AGGREGATE with the summed
  statistics in place of this index's.

Clients never need them (they are not in RediSearch): a client calling one gets what the
arguments say, scores computed with the statistics it passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import QuerySyntaxError
from ..index.corpus_stats import CorpusStats, cluster_wide, recording
from ..index.scoring import Scorer
from ..index.search_args import parse_ft_search
from ..numbers import parse_int64
from .aggregate import ft_aggregate
from .search import ft_search
from .table import command

if TYPE_CHECKING:
    from .context import ExecContext

__all__ = ["decode_stats", "encode_stats", "stats_of"]


@command("_FT.STATS", -3, "readonly lockfree", "search slow")
def ft_stats(ctx: ExecContext, args: list[bytes]) -> object:
    """This shard's corpus statistics for a query (module docstring)."""
    with ctx.lock:
        index = ctx.indexes.get(args[1], missing="{name}: no such index")
    request = parse_ft_search(args[2:])
    definition = index.definition
    parsed = request.parse_query(
        definition.stopwords, definition.language, definition.phonetic_fields
    )
    ranges = index.ranges(parsed.filter, ctx.keyspace.data, ctx.lock)
    with ctx.lock, recording() as found:
        # built for its lookups only: the recorder notes every count the scorer reads
        Scorer(
            index, parsed, request.scorer, slop=request.slop, inorder=request.inorder,
            ranges=ranges,
        )  # fmt: skip
        num_docs, total = len(index.fields), int(index.fields.total_length)
    terms: list[Any] = []
    for term, n in found.terms.items():
        terms += [term, n]
    tags: list[Any] = []
    for (alias, value), n in found.tags.items():
        tags += [alias, value, n]
    present: list[Any] = []
    for (aliases, term), held in found.present.items():
        present += [term, list(aliases), int(held)]
    return [num_docs, total, terms, tags, present]


@command("_FT.SEARCH", -7, "readonly lockfree", "search slow")
def ft_search_with_stats(ctx: ExecContext, args: list[bytes]) -> object:
    """FT.SEARCH scored with the statistics in the arguments (module docstring)."""
    stats, rest = decode_stats(args[2:])
    with cluster_wide(stats):
        return ft_search(ctx, [b"FT.SEARCH", args[1], *rest])


@command("_FT.AGGREGATE", -7, "readonly lockfree", "search slow")
def ft_aggregate_with_stats(ctx: ExecContext, args: list[bytes]) -> object:
    """FT.AGGREGATE scored with the statistics in the arguments (module docstring)."""
    stats, rest = decode_stats(args[2:])
    with cluster_wide(stats):
        return ft_aggregate(ctx, [b"FT.AGGREGATE", args[1], *rest])


def encode_stats(stats: CorpusStats) -> list[bytes]:
    """The statistics header of ``_FT.SEARCH`` / ``_FT.AGGREGATE``."""
    out = [str(stats.num_docs).encode(), str(stats.total_length).encode()]
    out.append(str(len(stats.terms)).encode())
    for term, n in stats.terms.items():
        out += [term, str(n).encode()]
    out.append(str(len(stats.tags)).encode())
    for (alias, value), n in stats.tags.items():
        out += [alias, value, str(n).encode()]
    out.append(str(len(stats.present)).encode())
    for (aliases, term), held in stats.present.items():
        out += [term, str(len(aliases)).encode(), *aliases, b"1" if held else b"0"]
    return out


def decode_stats(argv: list[bytes]) -> tuple[CorpusStats, list[bytes]]:
    """The statistics header at the start of ``argv``, and the arguments after it."""

    def number(i: int) -> int:
        if i >= len(argv):
            raise QuerySyntaxError("the statistics header is cut short")
        value = parse_int64(argv[i])
        if value is None or value < 0:
            raise QuerySyntaxError("the statistics header holds a non-count")
        return value

    num_docs, total = number(0), number(1)
    i = 2
    terms: dict[bytes, int] = {}
    for _ in range(number(i)):
        terms[argv[i + 1]] = number(i + 2)
        i += 2
    i += 1
    tags: dict[tuple[bytes, bytes], int] = {}
    for _ in range(number(i)):
        if i + 3 >= len(argv):
            raise QuerySyntaxError("the statistics header is cut short")
        tags[(argv[i + 1], argv[i + 2])] = number(i + 3)
        i += 3
    i += 1
    present: dict[tuple[tuple[bytes, ...], bytes], bool] = {}
    for _ in range(number(i)):
        if i + 2 >= len(argv):
            raise QuerySyntaxError("the statistics header is cut short")
        term, n = argv[i + 1], number(i + 2)
        if i + 3 + n >= len(argv):
            raise QuerySyntaxError("the statistics header is cut short")
        aliases = tuple(argv[i + 3 : i + 3 + n])
        present[(aliases, term)] = number(i + 3 + n) != 0
        i += 3 + n
    i += 1
    if i >= len(argv):
        raise QuerySyntaxError("No query string provided")
    return CorpusStats(num_docs, total, terms, tags, present), argv[i:]


def stats_of(reply: Any) -> CorpusStats:
    """A ``_FT.STATS`` reply as :class:`CorpusStats`."""
    num_docs, total, terms, tags, present = reply
    return CorpusStats(
        int(num_docs),
        int(total),
        {bytes(terms[i]): int(terms[i + 1]) for i in range(0, len(terms), 2)},
        {(bytes(tags[i]), bytes(tags[i + 1])): int(tags[i + 2]) for i in range(0, len(tags), 3)},
        {
            (tuple(bytes(a) for a in present[i + 1]), bytes(present[i])): bool(present[i + 2])
            for i in range(0, len(present), 3)
        },
    )
