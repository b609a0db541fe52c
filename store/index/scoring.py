"""Text scoring: RediSearch 2.10's scorers (``src/ext/default.c``) over memvec's filter trees.

:func:`text_scores` gives each matched document its score under one scorer; ``FT.SEARCH``
ranks by it (:func:`rank`), ``WITHSCORES`` returns it, ``EXPLAINSCORE`` returns the
explanation :func:`explain_scores` builds (RediSearch's texts and nesting).

How a score is made, as RediSearch makes it. The query tree becomes, per document, a tree of
*results* mirroring RediSearch's index iterators:

* a term (``hello``, ``@f:hello``) is a TERM result: frequency = the document's weighted
  occurrences of the term over all its TEXT fields (a field of WEIGHT ``w`` counts
  ``max(1, int(w))`` per occurrence), IDF from the term's document count, its positions;
* a phrase is an INTERSECTION of its terms, in order; ``a b`` an INTERSECTION of its parts
  sorted by their estimated result counts (RediSearch sorts them so, stably); ``a|b`` a
  UNION of the parts the document matches; ``pre*`` a UNION holding the first expansion the
  document matches (RediSearch stops at the first: "quick exit"), expansions in the order of
  the terms trie (byte order);
* a single TAG value is a TERM result with frequency 1 and the tag value's IDF; several
  values a UNION of those the document has; a NUMERIC range a NUMERIC result of
  frequency 1; a negation a VIRTUAL result of frequency 0; ``*`` a VIRTUAL result of
  frequency 1; ``INKEYS`` adds a VIRTUAL result of frequency 0 as RediSearch's id-list
  filter does (beside the children of a top-level intersection, else in a new one);
* a KNN query's document is a HYBRID result [METRIC (frequency 0), filter result], or the
  METRIC result alone when the filter is ``*``.

Scorers (``SCORER``; the names are case sensitive, as RediSearch's are):

* ``TFIDF`` (default): sum over terms of ``weight * tf * idf`` with
  ``idf = logb(1 + (N + 1) / df)`` (the binary exponent: an integer), divided by the
  document's maximal term frequency, then by the *slop* (RediSearch's
  ``IndexResult_MinOffsetDelta``: the integer square root of the sum of squared minimal
  distances between consecutive children's positions). Non-term results count
  ``weight * frequency``. ``TFIDF.DOCNORM`` divides by the document length instead.
* ``BM25`` (RediSearch's legacy, non-standard formula: the average document length stands
  where the document's own length over it should), divided by the slop.
* ``BM25STD``: ``idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len / avglen))`` with
  ``k1 = 1.2``, ``b = 0.5`` (RediSearch's values, in single precision where it computes in
  single precision) and ``idf = log(1 + (N - df + 0.5) / (df + 0.5))``.
* ``DISMAX``: frequencies, summed over intersections, maximum over unions.
* ``DOCSCORE``: the document score, always 1 (memvec has no per-document scores).
* ``HAMMING``: 0 (memvec documents carry no payload to compare with).

Index statistics follow RediSearch: ``N`` for TFIDF is the document count plus one
(RediSearch's document table size), for BM25STD the document count; the average document
length is :attr:`FieldIndexes.total_length` over the document count. A document with no
text and no vector has a maximal frequency of 0, so its TFIDF is ``inf`` (or ``nan``), as
on RediSearch. One difference: RediSearch counts a term's documents until its garbage
collector runs, so right after deletions its IDFs can lag; memvec's are always current.
The result trees are built by :mod:`store.index.score_tree`; the cases where RediSearch's
iterators produce other trees than these rules are listed in docs/compatibility.md ("Text
scoring").
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any

import numpy as np

from ..replies import SimpleString
from .corpus_stats import view as corpus_view
from .doc_columns import DOC_ID, LENGTH, MAX_FREQ
from .fields import DocStats, FieldIndexes
from .phonetics import is_phonetic
from .query import ParsedQuery
from .ranking import top_order
from .score_tree import (
    AGGREGATE,
    HYBRID,
    INTERSECT,
    TERM,
    UNION,
    VIRTUAL,
    ConstantBuild,
    DocText,
    Result,
    TermBuild,
    UnionOfConstants,
    build_root,
    slop,
)
from .stemming import is_stem
from .vector_range import RangeResults

if TYPE_CHECKING:
    from .search_index import SearchIndex

__all__ = [
    "DEFAULT_SCORER",
    "SCORERS",
    "Explanation",
    "Scorer",
    "explain_scores",
    "explanation_reply",
    "rank",
    "ranked_page",
    "text_scores",
]

DEFAULT_SCORER = b"TFIDF"
SCORERS = (b"TFIDF", b"TFIDF.DOCNORM", b"BM25", b"BM25STD", b"DISMAX", b"DOCSCORE", b"HAMMING")


_K1 = float(np.float32(1.2))
_K1_PLUS_1 = float(np.float32(1.2) + np.float32(1))
_B_STD = np.float32(0.5)


@dataclass(frozen=True, slots=True)
class Explanation:
    """One node of a score explanation: RediSearch's text and the nodes it sums up."""

    text: str
    children: tuple[Explanation, ...] = ()


def explanation_reply(node: Explanation) -> Any:
    """The reply RediSearch sends for a node: its text, or ``[text, [children...]]``."""
    if not node.children:
        return SimpleString(node.text)
    return [SimpleString(node.text), [explanation_reply(c) for c in node.children]]


def _div(a: float, b: float) -> float:
    """IEEE division (C's), where Python would raise on a zero divisor."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a)


@dataclass(slots=True)
class _Stats:
    num_docs: int
    avg_len: float
    min_score: float = 0.0
    """RediSearch's ``minScore``: TFIDF and BM25 score 0 below it (see :class:`Scorer`)."""


# -- the scorers ------------------------------------------------------------------------

_Explain = Explanation | None


def _tfidf_rec(r: Result, explain: bool) -> tuple[float, _Explain]:
    if r.kind == TERM:
        res = r.weight * float(r.freq) * r.idf
        text = f"(TFIDF {res:.2f} = Weight {r.weight:.2f} * TF {r.freq} * IDF {r.idf:.2f})"
        return res, Explanation(text) if explain else None
    if r.kind & AGGREGATE:
        total = 0.0
        notes = []
        for c in r.children:
            value, note = _tfidf_rec(c, explain)
            total += value
            notes.append(note)
        node = None
        if explain:
            text = f"(Weight {r.weight:.2f} * total children TFIDF {total:.2f})"
            node = Explanation(text, tuple(n for n in notes if n is not None))
        return r.weight * total, node
    res = r.weight * float(r.freq)
    text = f"(TFIDF {res:.2f} = Weight {r.weight:.2f} * Frequency {r.freq})"
    return res, Explanation(text) if explain else None


def _tfidf(
    r: Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    norm = doc.length if docnorm else doc.max_freq
    raw, child = _tfidf_rec(r, explain)
    score = _div(raw, norm)
    if score < stats.min_score:
        text = f"TFIDF score of {score:.2f} is smaller than minimum score {stats.min_score:.2f}"
        return 0.0, Explanation(text, (child,) if child else ()) if explain else None
    divisor = slop(r)
    score /= divisor
    if not explain:
        return score, None
    text = (
        f"Final TFIDF : words TFIDF {raw:.2f} * document score 1.00 / norm {norm} / slop {divisor}"
    )
    return score, Explanation(text, (child,) if child else ())


def _bm25_rec(r: Result, stats: _Stats, explain: bool) -> tuple[float, _Explain]:
    f = float(r.freq)
    avg = stats.avg_len
    if r.kind == TERM:
        ret = r.idf * f / (f + _K1 * (0.5 + 0.5 * avg))
        text = (
            f"({ret:.2f} = IDF {r.idf:.2f} * F {r.freq} / (F {r.freq} + k1 1.2 * "
            f"(1 - b 0.5 + b 0.5 * Average Len {avg:.2f})))"
        )
        return ret, Explanation(text) if explain else None
    if r.kind & AGGREGATE:
        total = 0.0
        notes = []
        for c in r.children:
            value, note = _bm25_rec(c, stats, explain)
            total += value
            notes.append(note)
        node = None
        if explain:
            text = f"(Weight {r.weight:.2f} * children BM25 {total:.2f})"
            node = Explanation(text, tuple(n for n in notes if n is not None))
        return total * r.weight, node
    if f:
        ret = r.weight * f / (f + _K1 * (0.5 + 0.5 * avg))
        text = (
            f"({ret:.2f} = Weight {r.weight:.2f} * F {r.freq} / (F {r.freq} + k1 1.2 * "
            f"(1 - b 0.5 + b 0.5 * Average Len {avg:.2f})))"
        )
        return ret, Explanation(text) if explain else None
    return 0.0, Explanation("Frequency 0 -> value 0") if explain else None


def _bm25(
    r: Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    raw, child = _bm25_rec(r, stats, explain)
    if raw < stats.min_score:
        # RediSearch prints the score where the minimum belongs; so do we
        text = f"BM25 score of {raw:.2f} is smaller than minimum score {raw:.2f}"
        return 0.0, Explanation(text, (child,) if child else ()) if explain else None
    divisor = slop(r)
    score = raw / divisor
    if not explain:
        return score, None
    text = f"Final BM25 : words BM25 {raw:.2f} * document score 1.00 / slop {divisor}"
    return score, Explanation(text, (child,) if child else ())


def _bm25std_term(
    idf: float, f: float, doc: DocStats, stats: _Stats, explain: bool, term: str
) -> tuple[float, _Explain]:
    avg = stats.avg_len
    ratio = _div(float(_B_STD * np.float32(doc.length)), avg)
    ret = idf * f * _K1_PLUS_1 / (f + _K1 * (0.5 + ratio))
    if not explain:
        return ret, None
    text = (
        f"{term}: ({ret:.2f} = IDF {idf:.2f} * (F {f:.2f} * (k1 1.2 + 1)) / (F {f:.2f} + k1 "
        f"1.2 * (1 - b 0.5 + b 0.5 * Doc Len {doc.length} / Average Doc Len {avg:.2f})))"
    )
    return ret, Explanation(text)


def _bm25std_rec(r: Result, doc: DocStats, stats: _Stats, explain: bool) -> tuple[float, _Explain]:
    f = float(r.freq)
    if r.kind == TERM:
        term = r.term.decode("utf-8", "replace")
        return _bm25std_term(r.bm25_idf, f, doc, stats, explain, term)
    if r.kind & AGGREGATE:
        total = 0.0
        notes = []
        for c in r.children:
            value, note = _bm25std_rec(c, doc, stats, explain)
            total += value
            notes.append(note)
        node = None
        if explain:
            text = f"(Weight {r.weight:.2f} * children BM25 {total:.2f})"
            node = Explanation(text, tuple(n for n in notes if n is not None))
        return total * r.weight, node
    if r.kind == VIRTUAL and f and r.weight:
        value, node = _bm25std_term(1.0, 1.0, doc, stats, explain, "*")
        return r.weight * value, node
    return 0.0, Explanation("Irrelevant token -> score is 0") if explain else None


def _bm25std(
    r: Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    raw, child = _bm25std_rec(r, doc, stats, explain)
    if not explain:
        return raw, None
    text = f"Final BM25 : words BM25 {raw:.2f} * document score 1.00"
    return raw, Explanation(text, (child,) if child else ())


def _dismax_rec(r: Result, explain: bool) -> tuple[float, _Explain]:
    if r.kind == HYBRID:
        return _dismax_rec(r.children[1], explain)
    ret = 0.0
    node = None
    if r.kind in (INTERSECT, UNION):
        notes = []
        for c in r.children:
            value, note = _dismax_rec(c, explain)
            ret = ret + value if r.kind == INTERSECT else max(ret, value)
            notes.append(note)
        if explain:
            text = f"{r.weight * ret:.2f} = Weight {r.weight:.2f} * children DISMAX {ret:.2f}"
            node = Explanation(text, tuple(n for n in notes if n is not None))
    else:
        ret = float(r.freq)
        if explain:
            text = f"DISMAX {r.weight * ret:.2f} = Weight {r.weight:.2f} * Frequency {r.freq}"
            node = Explanation(text)
    return r.weight * ret, node


def _dismax(
    r: Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    return _dismax_rec(r, explain)


def _docscore(
    r: Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    return 1.0, Explanation("Document's score is 1.00") if explain else None


def _hamming(
    r: Result, doc: DocStats, stats: _Stats, explain: bool, docnorm: bool
) -> tuple[float, _Explain]:
    return 0.0, Explanation("Payloads provided to scorer vary in length") if explain else None


_Scorer = Callable[[Result, DocStats, _Stats, bool, bool], tuple[float, _Explain]]
_SCORERS: dict[bytes, tuple[_Scorer, bool]] = {
    b"TFIDF": (_tfidf, False),
    b"TFIDF.DOCNORM": (_tfidf, True),
    b"BM25": (_bm25, False),
    b"BM25STD": (_bm25std, False),
    b"DISMAX": (_dismax, False),
    b"DOCSCORE": (_docscore, False),
    b"HAMMING": (_hamming, False),
}


# -- entry points ------------------------------------------------------------------------


class Scorer:
    """One query's scorer over one index, a document at a time (RediSearch's RPScorer).

    ``scorer(label, min_score)`` is the label's score (and explanation when built with
    ``explain``), or None when the index no longer holds it. ``min_score`` is
    RediSearch's running minimum: TFIDF, TFIDF.DOCNORM and BM25 give 0 to a document
    below it (before the slop division), which is visible when SORTBY keeps documents
    whose score is below its heap's (see :mod:`store.index.sorting`). Raises ValueError
    for an unknown scorer name. Use under the engine lock.
    """

    def __init__(
        self,
        index: SearchIndex,
        parsed: ParsedQuery,
        scorer: bytes | None = None,
        *,
        inkeys: int | None = None,
        explain: bool = False,
        slop: int | None = None,
        inorder: bool = False,
        ranges: RangeResults | None = None,
    ) -> None:
        name = DEFAULT_SCORER if scorer is None else scorer
        try:
            self._func, self._docnorm = _SCORERS[name]
        except KeyError:
            raise ValueError(f"No such scorer {name.decode('utf-8', 'replace')}") from None
        self._fields = fields = index.fields
        corpus = corpus_view(fields)  # the index's, or the cluster's (corpus_stats)
        num_docs = corpus.num_docs
        self._stats = _Stats(num_docs, corpus.total_length / num_docs if num_docs else 0.0)
        self._build = build_root(fields, parsed, inkeys, slop=slop, inorder=inorder, ranges=ranges)
        self._explain = explain

    def __call__(self, label: int, min_score: float = 0.0) -> tuple[float, _Explain] | None:
        fields = self._fields
        if label not in fields:
            return None
        result = self._build(label, DocText(fields, label))
        if result is None:
            return None
        self._stats.min_score = min_score
        return self._func(
            result, fields.doc_stats(label), self._stats, self._explain, self._docnorm
        )


SMALL_PAGE = 64
"""Up to this many labels :func:`_constant_columns` reads and scores them in a Python loop:
its ~20 numpy calls cost ~60-80 us whatever their size, the loop ~1.5 us a label (a KNN's
ten hits, ranked by score, are scored on every query)."""


@dataclass(slots=True)
class ScoredColumns:
    """Scores of many documents at once (what :func:`_constant_columns` gives): the
    labels scored, in the order given, with their scores and document ids (numpy arrays
    for more than :data:`SMALL_PAGE` labels, else lists)."""

    labels: list[int]
    scores: np.ndarray | list[float]
    """float64, one per label."""
    doc_ids: np.ndarray | list[int]
    """int64, one per label."""

    def as_dict(self) -> dict[int, float]:
        """``label -> score`` (Python floats), as :func:`text_scores` answers."""
        scores = self.scores.tolist() if isinstance(self.scores, np.ndarray) else self.scores
        return dict(zip(self.labels, scores, strict=True))


def _constant_columns(
    score: Scorer, labels: Sequence[int], deadline: Callable[[], bool] | None
) -> ScoredColumns | None:
    """What :func:`text_scores` gives, computed from each document's statistics, when the
    query's result tree depends on nothing else; None for any other query (and when the
    scorer explains). Two such queries:

    * without text (:class:`ConstantBuild`: tags, numbers, negations, ``*``): every
      document gets the same tree;
    * one plain term alone (:class:`TermBuild`; not a stem or phonetic code): the tree is
      one TERM result whose only per-document value is the term's frequency, the weighted
      count of its tokens over the TEXT fields (what :meth:`DocText.term` adds up); its
      positions matter to no scorer (:func:`slop` of a lone term is 1).

    A scorer reads only a document's length and maximum frequency, so each distinct
    (frequency, length, maximum frequency) is scored once, and the statistics of all the
    labels are read as columns (:meth:`FieldIndexes.stat_columns`): a tag matching 2,000
    documents takes a few scorer calls and a few numpy passes, not 2,000 result trees.

    ``deadline`` is polled where :func:`_score_all` polls it (before the 256th label,
    then every 256), before the scoring: the labels up to the first poll that says time
    is up are the ones scored, as there. Labels no longer indexed are left out."""
    build = score._build
    if score._explain:
        return None
    if type(build) is UnionOfConstants:
        return _union_columns(score, build, labels, deadline)
    if type(build) is ConstantBuild:
        result: Result | None = build.result
        term = b""
    elif type(build) is TermBuild and not (is_stem(build.template.term)
                                           or is_phonetic(build.template.term)):  # fmt: skip
        result, term = None, build.template.term
    else:
        return None
    fields = score._fields
    scored, table = _indexed_columns(fields, labels, _scored_count(labels, deadline))
    if len(scored) <= SMALL_PAGE:
        rows = table.tolist()
        freqs = fields.term_frequencies(scored, term).tolist() if result is None else None
        triples = [
            (0 if freqs is None else freqs[i], row[LENGTH], row[MAX_FREQ])
            for i, row in enumerate(rows)
        ]
        values = dict.fromkeys(triples, 0.0)
        for triple, value in zip(values, _score_triples(score, result, list(values)), strict=True):
            values[triple] = value
        return ScoredColumns(scored, [values[t] for t in triples], [row[DOC_ID] for row in rows])
    if result is None:
        freqs_array = fields.term_frequencies(scored, term)
    else:
        freqs_array = np.zeros(len(scored), dtype=np.int64)
    distinct, inverse = _distinct_triples(freqs_array, table[:, LENGTH], table[:, MAX_FREQ])
    values_array = np.array(_score_triples(score, result, distinct), dtype=np.float64)
    return ScoredColumns(scored, values_array[inverse], table[:, DOC_ID])


def _scored_count(labels: Sequence[int], deadline: Callable[[], bool] | None) -> int:
    """How many of ``labels`` are scored: all, or those before the poll of ``deadline``
    that says time is up (polled before the 256th label, then every 256, where
    :func:`_score_all` polls it)."""
    n = len(labels)
    if deadline is not None:
        for start in range(255, n, 256):
            if deadline():
                return start
    return n


def _indexed_columns(
    fields: FieldIndexes, labels: Sequence[int], n: int
) -> tuple[list[int], np.ndarray]:
    """The first ``n`` of ``labels`` that are still indexed, and their statistics' rows
    (:meth:`FieldIndexes.stat_columns`), in order."""
    scored = labels if isinstance(labels, list) and n == len(labels) else list(labels[:n])
    held, table = fields.stat_columns(scored)
    if not held.all():
        scored = list(itertools.compress(scored, held.tolist()))
    return scored, table


def _union_columns(
    score: Scorer,
    build: UnionOfConstants,
    labels: Sequence[int],
    deadline: Callable[[], bool] | None,
) -> ScoredColumns | None:
    """:func:`_constant_columns` for a union of TAG values (:class:`UnionOfConstants`): a
    document's result is the UNION of the values it holds, so each distinct (values held,
    length, max frequency) is scored once. Which values each label holds is read from
    their postings as columns. None (the per-document path) for up to
    :data:`SMALL_PAGE` labels, or more values than a packed key holds. ``deadline`` is
    polled as :func:`_constant_columns` polls it."""
    parts = build.parts
    if len(parts) >= _PACKED_BITS:
        return None
    n = _scored_count(labels, deadline)
    if n <= SMALL_PAGE:
        return None
    fields = score._fields
    scored, table = _indexed_columns(fields, labels, n)
    ids = np.asarray(scored, dtype=np.int64)
    held_values = np.zeros(len(ids), dtype=np.int64)  # bit i: holds parts[i]'s value
    for i, (_, _, (alias, value)) in enumerate(parts):
        posting = np.asarray(fields.tag_labels(alias, value), dtype=np.int64)
        held_values |= np.isin(ids, posting).astype(np.int64) << i
    matched = held_values != 0
    if not matched.all():  # (holds none of the values: not a match; the union gives None)
        scored = list(itertools.compress(scored, matched.tolist()))
        table, held_values = table[matched], held_values[matched]
    distinct, inverse = _distinct_triples(held_values, table[:, LENGTH], table[:, MAX_FREQ])
    values = _score_rows(
        score,
        (
            (Result(UNION, weight=build.weight,
                    children=[r for i, (_, r, _) in enumerate(parts) if bits >> i & 1]),
             length, max_freq)
            for bits, length, max_freq in distinct
        ),
    )  # fmt: skip
    return ScoredColumns(scored, np.array(values, dtype=np.float64)[inverse], table[:, DOC_ID])


def _score_triples(
    score: Scorer, result: Result | None, triples: Sequence[Sequence[int]]
) -> list[float]:
    """The score of each (frequency, length, max frequency): of ``result`` for a constant
    query, else of the TERM result of ``score``'s one-term build at that frequency."""
    build = score._build
    rows = []
    for freq, length, max_freq in triples:
        r = result
        if r is None:
            assert type(build) is TermBuild
            t = build.template
            r = Result(TERM, freq=freq, weight=build.weight, term=t.term, idf=t.idf,
                       bm25_idf=t.bm25_idf)  # fmt: skip
        rows.append((r, length, max_freq))
    return _score_rows(score, rows)


def _score_rows(score: Scorer, rows: Iterable[tuple[Result, int, int]]) -> list[float]:
    """The score of each ``(result, length, max frequency)``: ``score``'s scorer on that
    result tree for a document of those statistics (the column paths' one scoring step)."""
    stats, func, docnorm = score._stats, score._func, score._docnorm
    stats.min_score = 0.0
    return [
        func(r, DocStats(0, length, max_freq), stats, False, docnorm)[0]
        for r, length, max_freq in rows
    ]


_PACKED_BITS = 21


def _distinct_triples(
    a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> tuple[list[list[int]], np.ndarray]:
    """The distinct ``(a[i], b[i], c[i])`` of three int64 arrays, and for each ``i`` the
    position of its triple among them. Packed into one int64 key when every value fits
    in 21 bits (always, for real documents): a 1-D ``np.unique`` is ~20 times faster than
    ``np.unique(axis=0)``, which sorts rows as opaque bytes."""
    if not len(a):
        return [], np.zeros(0, dtype=np.intp)
    low = min(int(a.min()), int(b.min()), int(c.min()))
    high = max(int(a.max()), int(b.max()), int(c.max()))
    if low < 0 or high >= 1 << _PACKED_BITS:
        rows, inverse = np.unique(np.stack((a, b, c), axis=1), axis=0, return_inverse=True)
        return rows.tolist(), inverse.reshape(-1)
    keys, inverse = np.unique(a << 2 * _PACKED_BITS | b << _PACKED_BITS | c, return_inverse=True)
    mask = (1 << _PACKED_BITS) - 1
    rows = np.stack((keys >> 2 * _PACKED_BITS, keys >> _PACKED_BITS & mask, keys & mask), axis=1)
    return rows.tolist(), inverse.reshape(-1)


def _score_all(
    score: Scorer, labels: Iterable[int], deadline: Callable[[], bool] | None
) -> dict[int, tuple[float, _Explain]]:
    out: dict[int, tuple[float, _Explain]] = {}
    for n, label in enumerate(labels):
        if deadline is not None and n % 256 == 255 and deadline():
            break
        scored = score(label)
        if scored is not None:
            out[label] = scored
    return out


def text_scores(
    index: SearchIndex,
    parsed: ParsedQuery,
    labels: Iterable[int],
    scorer: bytes | None = None,
    *,
    inkeys: int | None = None,
    deadline: Callable[[], bool] | None = None,
    slop: int | None = None,
    inorder: bool = False,
    ranges: RangeResults | None = None,
) -> dict[int, float]:
    """Each of ``labels``' score under ``scorer`` (None: TFIDF, RediSearch 2.10's default).

    ``labels`` are documents ``parsed.filter`` matched (the caller evaluated it); a label
    the index no longer holds, or one the filter does not match, is left out. ``inkeys``
    is the number of documents an ``INKEYS`` list named (it shapes the score tree as on
    RediSearch). ``slop`` and ``inorder`` (FT.SEARCH SLOP / INORDER) leave out documents
    whose terms are too far apart or out of order. ``deadline``, polled every 256
    documents, stops scoring early when it returns True: the labels scored so far are
    returned. ``ranges`` holds the answers of the query's VECTOR_RANGE leaves (needed when
    it has any: :meth:`SearchIndex.ranges`). Raises ValueError for an unknown scorer.
    Call under the engine lock (it reads the attribute indexes).
    """
    scoring = Scorer(index, parsed, scorer, inkeys=inkeys, slop=slop, inorder=inorder,
                     ranges=ranges)  # fmt: skip
    labels = labels if isinstance(labels, list) else list(labels)
    fast = _constant_columns(scoring, labels, deadline)
    if fast is not None:
        return fast.as_dict()
    return {label: s for label, (s, _) in _score_all(scoring, labels, deadline).items()}


def ranked_page(
    index: SearchIndex,
    parsed: ParsedQuery,
    labels: Iterable[int],
    scorer: bytes | None = None,
    *,
    limit: int | None,
    inkeys: int | None = None,
    deadline: Callable[[], bool] | None = None,
    slop: int | None = None,
    inorder: bool = False,
    ranges: RangeResults | None = None,
) -> tuple[list[int], dict[int, float], int]:
    """An FT.SEARCH page without SORTBY: ``rank(index, scores, limit)`` of
    ``scores = text_scores(index, parsed, labels, scorer, ...)`` (same arguments), the
    scores of those labels (at least), and ``len(scores)``, the reply's total.

    The queries :func:`_constant_columns` scores are ranked in numpy
    (:func:`store.index.ranking.top_order`) without a score dict of every match."""
    scoring = Scorer(index, parsed, scorer, inkeys=inkeys, slop=slop, inorder=inorder,
                     ranges=ranges)  # fmt: skip
    labels = labels if isinstance(labels, list) else list(labels)
    fast = _constant_columns(scoring, labels, deadline)
    if fast is None:
        scores = {label: s for label, (s, _) in _score_all(scoring, labels, deadline).items()}
        return rank(index, scores, limit=limit), scores, len(scores)
    if isinstance(fast.scores, np.ndarray) and isinstance(fast.doc_ids, np.ndarray):
        picked = top_order(fast.scores, fast.doc_ids, limit)
        if picked is not None:
            order = [fast.labels[i] for i in picked.tolist()]
            page_scores = dict(zip(order, fast.scores[picked].tolist(), strict=True))
            return order, page_scores, len(fast.labels)
    scores = fast.as_dict()  # a small page, or NaN scores: rank's Python order
    return rank(index, scores, limit=limit), scores, len(scores)


def explain_scores(
    index: SearchIndex,
    parsed: ParsedQuery,
    labels: Iterable[int],
    scorer: bytes | None = None,
    *,
    inkeys: int | None = None,
    deadline: Callable[[], bool] | None = None,
    slop: int | None = None,
    inorder: bool = False,
    ranges: RangeResults | None = None,
) -> dict[int, tuple[float, Explanation]]:
    """:func:`text_scores` with RediSearch's EXPLAINSCORE explanation of each score."""
    scoring = Scorer(index, parsed, scorer, inkeys=inkeys, explain=True, slop=slop,
                     inorder=inorder, ranges=ranges)  # fmt: skip
    scored = _score_all(scoring, labels, deadline)
    return {
        label: (score, note if note is not None else Explanation(""))
        for label, (score, note) in scored.items()
    }


def rank(index: SearchIndex, scores: dict[int, float], limit: int | None = None) -> list[int]:
    """Labels best first as RediSearch ranks them: higher score first, ties (and NaN,
    which compares equal to everything) to the lower document id. With ``limit``, only
    the first ``limit`` labels (the rest are not ordered)."""
    labels = list(scores)
    doc_ids = index.fields.doc_ids(labels)
    if not any(map(math.isnan, scores.values())):
        negated = [-score for score in scores.values()]
        keys = list(zip(negated, doc_ids, labels, strict=True))
        if limit is not None and limit < len(scores):
            return [label for _, _, label in heapq.nsmallest(limit, keys)]
        return [label for _, _, label in sorted(keys)]

    def better(a: tuple[float, int, int], b: tuple[float, int, int]) -> int:
        if a[0] < b[0]:
            return 1
        if a[0] > b[0]:
            return -1
        return -1 if a[1] < b[1] else 1

    keyed = list(zip(scores.values(), doc_ids, labels, strict=True))
    keyed.sort(key=cmp_to_key(better))
    return [label for _, _, label in keyed]
