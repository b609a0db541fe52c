"""The corpus statistics text scorers read, and the cluster-wide values that replace them.

TFIDF, TFIDF.DOCNORM, BM25 and BM25STD read statistics of the whole index besides the
document scored: the document count ``N``, the total text length (BM25's average document
length) and, per query term or tag value, how many documents hold it (``df``, the IDF).
On one node those come from the index (:class:`store.index.fields.FieldIndexes`). Across
shards each shard holds a part of the corpus, so its own statistics would score its
documents differently from one node holding everything; the coordinator
(:mod:`store.cluster.search`) therefore asks every shard first for the statistics of the
query (``_FT.STATS``: :func:`recording` lists every term and tag value the scorer looks
up), sums them, and sends them with the search (``_FT.SEARCH``: :func:`cluster_wide`),
so each shard scores with the cluster's numbers.

Contract: :func:`view` is what the scorers read (``store.index.score_tree`` and
``store.index.scoring`` call nothing else for these numbers). Inside ``cluster_wide(s)``
it answers ``s``'s values (a term or tag value ``s`` does not name, e.g. written between
the two rounds, keeps this index's count); inside ``recording()`` it answers the index's
own and notes each lookup. Both are context variables: set for one command's execution
in the thread running it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fields import FieldIndexes

__all__ = [
    "CORPUS_SCORERS",
    "CorpusStats",
    "Recorder",
    "StatsView",
    "cluster_wide",
    "recording",
    "view",
]

CORPUS_SCORERS = frozenset({None, b"TFIDF", b"TFIDF.DOCNORM", b"BM25", b"BM25STD"})
"""The scorers that read corpus statistics (None: TFIDF, the default scorer)."""


@dataclass(frozen=True)
class CorpusStats:
    """Statistics of a corpus: ``terms[term]`` and ``tags[(field alias, value)]`` are
    document counts; ``present[(aliases, term)]`` whether any document holds a single
    query term in the fields its query node searches (a term none holds opens no iterator
    on RediSearch and a union drops it, so this too must be the cluster's)."""

    num_docs: int
    total_length: int
    terms: Mapping[bytes, int] = field(default_factory=dict)
    tags: Mapping[tuple[bytes, bytes], int] = field(default_factory=dict)
    # (the searched fields' aliases, term): whether a document holds the term in them
    present: Mapping[tuple[tuple[bytes, ...], bytes], bool] = field(default_factory=dict)

    @staticmethod
    def summed(parts: list[CorpusStats]) -> CorpusStats:
        """The statistics of the union of disjoint corpora (the shards')."""
        terms: dict[bytes, int] = {}
        tags: dict[tuple[bytes, bytes], int] = {}
        present: dict[tuple[tuple[bytes, ...], bytes], bool] = {}
        for part in parts:
            for term, n in part.terms.items():
                terms[term] = terms.get(term, 0) + n
            for tag, n in part.tags.items():
                tags[tag] = tags.get(tag, 0) + n
            for key, held in part.present.items():
                present[key] = present.get(key, False) or held
        return CorpusStats(
            sum(p.num_docs for p in parts),
            sum(p.total_length for p in parts),
            terms,
            tags,
            present,
        )


class Recorder:
    """The lookups made while recording: the statistics ``_FT.STATS`` answers."""

    def __init__(self) -> None:
        self.terms: dict[bytes, int] = {}
        self.tags: dict[tuple[bytes, bytes], int] = {}
        self.present: dict[tuple[tuple[bytes, ...], bytes], bool] = {}


_OVERRIDE: contextvars.ContextVar[CorpusStats | None] = contextvars.ContextVar(
    "memvec_corpus_stats", default=None
)
_RECORDER: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "memvec_corpus_recorder", default=None
)


@contextlib.contextmanager
def cluster_wide(stats: CorpusStats) -> Iterator[None]:
    """Scorers in this block read ``stats`` instead of the index's own."""
    token = _OVERRIDE.set(stats)
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


@contextlib.contextmanager
def recording() -> Iterator[Recorder]:
    """Scorers in this block read the index's own statistics and note every lookup."""
    recorder = Recorder()
    token = _RECORDER.set(recorder)
    try:
        yield recorder
    finally:
        _RECORDER.reset(token)


class StatsView:
    """The statistics of one index as the scorers of the current context see them."""

    __slots__ = ("_fields", "_override", "_recorder")

    def __init__(self, fields: FieldIndexes) -> None:
        self._fields = fields
        self._override = _OVERRIDE.get()
        self._recorder = _RECORDER.get()

    @property
    def num_docs(self) -> int:
        if self._override is not None:
            return self._override.num_docs
        return len(self._fields)

    @property
    def total_length(self) -> int:
        if self._override is not None:
            return self._override.total_length
        return int(self._fields.total_length)

    def term_docs(self, term: bytes) -> int:
        if self._override is not None:
            known = self._override.terms.get(term)
            if known is not None:
                return known
        n = self._fields.term_doc_count(term)
        if self._recorder is not None:
            self._recorder.terms[term] = n
        return n

    def tag_docs(self, alias: bytes, value: bytes) -> int:
        if self._override is not None:
            known = self._override.tags.get((alias, value))
            if known is not None:
                return known
        n = self._fields.tag_doc_count(alias, value)
        if self._recorder is not None:
            self._recorder.tags[(alias, value)] = n
        return n

    def term_present(self, aliases: list[bytes], term: bytes) -> bool:
        """Whether a document holds ``term`` in one of the fields ``aliases``."""
        key = (tuple(aliases), term)
        if self._override is not None:
            known = self._override.present.get(key)
            if known is not None:
                return known
        held = any(self._fields.field_has_term(a, term) for a in aliases)
        if self._recorder is not None:
            self._recorder.present[key] = held
        return held


def view(fields: FieldIndexes) -> StatsView:
    """The statistics the current context's scorers read for ``fields``' index."""
    return StatsView(fields)
