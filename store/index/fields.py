"""The attribute indexes of one FT index (TAG, NUMERIC, TEXT, GEO) and filter evaluation.

A :class:`FieldIndexes` maps document *labels* (the non-negative ints the engine assigns to
keys, shared with the vector indexes) to the values of the index's TAG, NUMERIC and TEXT
fields, and answers :mod:`store.index.query` filter trees with label sets.

Contract with the engine (all calls under the engine lock; the class is not thread-safe):

* ``add(label, fields)`` is called for **every** document of the index, whatever fields it
  has, because negation (``-@tag:{x}``) is evaluated against all labels added here. It
  replaces what the label had. ``fields`` is the document hash (hash field name -> bytes),
  or a JSON document's projection (JSONPath -> :data:`FieldValue`).
* A document is indexed all or nothing, as RediSearch does: a NUMERIC field whose value does
  not parse (``"abc"``, ``""``, ``" 7"``, ``"nan"``, ``"0x10"``, ``"1e400"``) rejects the
  whole document (RediSearch counts it in ``hash_indexing_failures`` and drops it from every
  field, vectors included). ``check(fields)`` says so up front with RediSearch's message
  (``Invalid numeric value: 'abc'``); ``add`` raises :class:`DocumentRejected` and leaves
  the label removed. A GEO value that does not parse does the same
  (``Invalid geo string``, :mod:`store.index.geo_field`). Missing fields are fine.
* ``remove(label)`` forgets a label (unknown labels are ignored).

Value rules (RediSearch 2.10): a TAG value is split on the field's separator, each part
trimmed of ASCII whitespace, empty parts dropped, and ASCII lower-cased unless the field is
CASESENSITIVE (query values are folded the same way when evaluated). A NUMERIC value must be
a whole decimal number (``inf``/``-inf``/``infinity`` allowed). TEXT values are tokenised by
:func:`store.index.schema.tokenize_text` with the index's stop words; a field without
NOSTEM also indexes each token's ``+stem`` (:mod:`store.index.stemming`, in the index's
LANGUAGE) at the token's position; term queries match folded tokens exactly (the parser
adds the stem expansions), prefixes and other patterns expand over the field's terms
(:mod:`store.index.term_patterns`), phrases match consecutive tokens. NOINDEX fields are
not indexed. A filter on a field the index lacks, or of another type, matches nothing.

Text statistics for the scorers (:mod:`store.index.scoring`), kept as RediSearch 2.10 keeps
them so scores match its own: per document a :class:`DocStats` (RediSearch's document id,
which changes on every re-index and breaks score ties; its weighted length; its maximal
weighted term frequency, to which RediSearch adds one per VECTOR field the document has),
per term the number of documents holding it in any TEXT field, and the sum of all document
lengths ever indexed (RediSearch never subtracts a removed document's length, so neither do
we: its average document length is that sum over the current document count). A term
occurrence in a field of WEIGHT ``w`` counts ``max(1, int(w))``. Term frequencies and
positions are read from the stored token tuples when a document is scored, so they cost no
memory per posting.

``evaluate(node)`` returns a fresh ``set`` of labels the caller may keep or mutate, or
``None`` meaning "every label" (for ``MatchAll`` and anything equivalent), so the common
unfiltered KNN never materialises the label set. ``count(node)`` is a cheap upper-bound
estimate for the planner (exact for a single NUMERIC range or tag value).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, insort
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence, Sized
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from ..errors import DocumentRejected, QuerySyntaxError
from .doc_columns import DOC_ID, VECTORS, DocColumns
from .geo_field import INVALID_GEO, GeoPoints, parse_geo_value
from .phonetics import MIN_PHONETIC_LENGTH, is_phonetic, phonetic_term
from .postings import LabelList
from .proximity import positions_within
from .query import (
    And,
    FilterNode,
    GeoFilter,
    MatchAll,
    MatchNone,
    Not,
    NumericFilter,
    OptionalFilter,
    Or,
    TagFilter,
    TextFilter,
    VectorRange,
)
from .schema import LANGUAGES, FieldSpec, FieldType, IndexDefinition, tokenize_text
from .stemming import DEFAULT_LANGUAGE, index_stem, stem_weight
from .term_patterns import MAX_EXPANSIONS, MIN_PREFIX, ExpansionLimits, expand
from .token_counts import term_counts

__all__ = [
    "GAP",
    "MAX_EXPANSIONS",
    "MIN_PREFIX",
    "MULTI_TEXT_GAP",
    "DocStats",
    "DocumentRejected",
    "FieldIndexes",
    "FieldValue",
    "parse_numeric_value",
]

GAP = b""
"""A token position no term matches: the space between a JSON array's TEXT elements."""

MULTI_TEXT_GAP = 100
"""Positions from one JSON array element's last token to the next element's first
(RediSearch's ``MULTI_TEXT_SLOP``: a phrase or ``$slop`` query does not span elements)."""


_NUMERIC = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)", re.I)
_CHUNK = 512
_FILTER_RATIO = 8
_LABEL = itemgetter(1)


FieldValue = bytes | tuple[bytes, ...]
"""A document field's value as the indexes take it: a hash field's bytes, or the several
values of a JSON field (:mod:`store.index.json_fields`; array elements, each one tag or
number, never split on a separator a JSON TAG field lacks)."""


def parse_numeric_value(raw: bytes) -> float | None:
    """A NUMERIC field's value as RediSearch accepts it, or None if it would be refused."""
    if not _NUMERIC.fullmatch(raw):
        return None
    value = float(raw)
    if math.isinf(value) and b"inf" not in raw.lower():
        return None
    if value == 0.0 and any(c in b"123456789" for c in raw.lower().partition(b"e")[0]):
        return None  # underflow: strtod reports ERANGE and RediSearch refuses the value
    return value


class _SortedPairs:
    """(value, label) pairs kept sorted in chunks: O(log n + chunk) insert, delete, range."""

    def __init__(self) -> None:
        self._chunks: list[list[tuple[float, int]]] = []
        self._maxes: list[tuple[float, int]] = []

    def add(self, item: tuple[float, int]) -> None:
        if not self._chunks:
            self._chunks.append([item])
            self._maxes.append(item)
            return
        i = bisect_left(self._maxes, item)
        if i == len(self._maxes):
            i -= 1
            self._chunks[i].append(item)
            self._maxes[i] = item
        else:
            insort(self._chunks[i], item)
        chunk = self._chunks[i]
        if len(chunk) > 2 * _CHUNK:
            self._chunks[i : i + 1] = [chunk[:_CHUNK], chunk[_CHUNK:]]
            self._maxes[i : i + 1] = [chunk[_CHUNK - 1], chunk[-1]]

    def remove(self, item: tuple[float, int]) -> None:
        i = bisect_left(self._maxes, item)
        chunk = self._chunks[i]
        j = bisect_left(chunk, item)
        del chunk[j]
        if not chunk:
            del self._chunks[i]
            del self._maxes[i]
        elif j == len(chunk):
            self._maxes[i] = chunk[-1]

    def _slices(
        self, lo: tuple[float, float], hi: tuple[float, float]
    ) -> Iterator[tuple[list[tuple[float, int]], int, int]]:
        for ci in range(bisect_left(self._maxes, lo), len(self._chunks)):
            chunk = self._chunks[ci]
            start = bisect_left(chunk, lo)
            end = bisect_left(chunk, hi)
            if end > start:
                yield chunk, start, end
            if end < len(chunk):
                return

    def labels(self, lo: tuple[float, float], hi: tuple[float, float]) -> set[int]:
        out: set[int] = set()
        for chunk, start, end in self._slices(lo, hi):
            out.update(map(_LABEL, chunk[start:end]))
        return out

    def count(self, lo: tuple[float, float], hi: tuple[float, float]) -> int:
        return sum(end - start for _, start, end in self._slices(lo, hi))


def _range_keys(f: NumericFilter) -> tuple[tuple[float, float], tuple[float, float]]:
    if math.isnan(f.lo) or math.isnan(f.hi):  # a NaN bound (``$p`` = "nan") matches nothing
        return (math.inf, math.inf), (-math.inf, -math.inf)
    lo = (f.lo, -math.inf) if f.lo_inclusive else (f.lo, math.inf)
    hi = (f.hi, math.inf) if f.hi_inclusive else (f.hi, -math.inf)
    return lo, hi


class DocStats(NamedTuple):
    """What the scorers need of one document (RediSearch's ``RSDocumentMetadata``)."""

    doc_id: int
    """RediSearch's document id: 1, 2, ... in indexing order, new on every re-index."""
    length: int
    """Weighted number of TEXT tokens (stop words excluded)."""
    max_freq: int
    """Largest weighted term frequency, plus one per VECTOR field the document has."""
    vectors: int = 0
    """How many VECTOR fields the document has (each is an index record)."""


def field_weight(weight: float) -> int:
    """What one occurrence of a term counts in a field of this WEIGHT (RediSearch's
    ``MAX(1, (uint32_t)(float)weight)``)."""
    value = float(np.float32(weight)) if abs(weight) < 3.4e38 else math.inf
    if not math.isfinite(value) or abs(value) >= 2.0**63:
        return 1  # x86-64 converts through int64: out of range gives 0, then MAX(1, 0)
    return max(1, int(value) & 0xFFFFFFFF)


class _Postings:
    """An inverted index from terms to labels, with a sorted vocabulary for prefixes.

    A term's labels are a :class:`~store.index.postings.LabelList`, or the label itself
    while only one document holds the term (a term unique to a document, such as a number
    in its text, then costs no container: ~250 bytes less, and no shared ``(term,)``:
    ~100 bytes less)."""

    def __init__(self, limits: ExpansionLimits) -> None:
        self.limits = limits
        self.postings: dict[bytes, LabelList | int] = {}
        self.vocabulary: list[bytes] = []
        self._canonical: dict[bytes, tuple[bytes]] = {}
        """The shared ``(term,)`` of each term two or more documents hold."""

    def add(self, term: bytes, label: int) -> tuple[bytes]:
        """Post ``label`` under ``term``; returns the ``(term,)`` the document keeps: once
        two or more documents hold the term, the one every holder added since shares (a
        single-valued field then costs a document one pointer, and its tokens one copy of
        each term); while one document holds it, a tuple of the term as given."""
        held = self.postings.get(term)
        if held is None:
            self.postings[term] = label
            insort(self.vocabulary, term)
            return (term,)
        if isinstance(held, int):
            if held == label:
                return (term,)
            labels = self.postings[term] = LabelList()
            labels.add(min(held, label))
            labels.add(max(held, label))
            shared = self._canonical[term] = (term,)
            return shared
        held.add(label)
        return self._canonical[term]

    def discard(self, term: bytes, label: int) -> None:
        held = self.postings.get(term)
        if held is None:
            return
        if isinstance(held, int):
            if held != label:
                return
        else:
            held.discard(label)
            if len(held) == 1:
                self.postings[term] = held.tolist()[0]
                del self._canonical[term]
            if held:
                return
        del self.postings[term]
        self._canonical.pop(term, None)
        del self.vocabulary[bisect_left(self.vocabulary, term)]

    def get(self, term: bytes) -> Collection[int]:
        """The labels holding ``term`` (empty if none): ``len`` and ``in`` are cheap."""
        held = self.postings.get(term)
        if held is None:
            return ()
        return (held,) if isinstance(held, int) else held

    def with_prefix(self, prefix: bytes) -> Iterator[Collection[int]]:
        if len(prefix) < self.limits.min_prefix:
            return
        i = bisect_left(self.vocabulary, prefix)
        # RediSearch's MAXEXPANSIONS: the first terms in byte order
        end = i + self.limits.max_expansions
        while i < min(end, len(self.vocabulary)) and self.vocabulary[i].startswith(prefix):
            yield self.get(self.vocabulary[i])
            i += 1

    def union(self, terms: Iterable[bytes], prefixes: Iterable[bytes]) -> set[int]:
        out: set[int] = set()
        for term in terms:
            out.update(_listed(self.get(term)))
        for prefix in prefixes:
            for labels in self.with_prefix(prefix):
                out.update(_listed(labels))
        return out

    def sorted_labels(self, term: bytes) -> list[int]:
        """The labels holding ``term``, ascending (a fresh list)."""
        held = self.postings.get(term)
        if held is None:
            return []
        return [held] if isinstance(held, int) else held.sorted_list()

    def estimate(self, terms: Iterable[bytes], prefixes: Iterable[bytes]) -> int:
        total = sum(len(self.get(t)) for t in terms)
        for prefix in prefixes:
            total += sum(len(labels) for labels in self.with_prefix(prefix))
        return total


def _listed(labels: Collection[int]) -> Iterable[int]:
    return labels.tolist() if isinstance(labels, LabelList) else labels


class FieldIndexes:
    """TAG, NUMERIC and TEXT indexes of one FT index, keyed by the query name (alias)."""

    def __init__(self, definition: IndexDefinition, limits: ExpansionLimits | None = None) -> None:
        self.definition = definition
        self.limits = limits or ExpansionLimits()
        """MINPREFIX / MAXEXPANSIONS for prefix and pattern queries (shared per server)."""
        self._stopwords = definition.stopwords
        indexed = [f for f in definition.fields if not f.no_index]
        self._tag_fields = [f for f in indexed if f.type is FieldType.TAG]
        self._numeric_fields = [f for f in indexed if f.type is FieldType.NUMERIC]
        self._text_fields = [f for f in indexed if f.type is FieldType.TEXT]
        # a NOINDEX GEO value is still parsed: RediSearch fails the document for it too
        self._geo_fields = [f for f in definition.fields if f.type is FieldType.GEO]
        self._geo: dict[bytes, GeoPoints] = {
            f.alias: GeoPoints() for f in self._geo_fields if not f.no_index
        }
        self._labels = LabelList()  # every label added (compact: module postings)
        self._tags: dict[bytes, _Postings] = {
            f.alias: _Postings(self.limits) for f in self._tag_fields
        }
        self._tag_spec: dict[bytes, FieldSpec] = {f.alias: f for f in self._tag_fields}
        # per field, per label: what the label holds there (to unindex it, and to test
        # candidates); one dict per field rather than one per label keeps a document's
        # overhead at a dict entry per field it has
        self._tag_values: dict[bytes, dict[int, tuple[bytes, ...]]] = {
            f.alias: {} for f in self._tag_fields
        }
        self._numbers: dict[bytes, _SortedPairs] = {
            f.alias: _SortedPairs() for f in self._numeric_fields
        }
        self._number_values: dict[bytes, dict[int, float | tuple[float, ...]]] = {
            f.alias: {} for f in self._numeric_fields
        }
        self._texts: dict[bytes, _Postings] = {
            f.alias: _Postings(self.limits) for f in self._text_fields
        }
        self._text_tokens: dict[bytes, dict[int, tuple[bytes, ...]]] = {
            f.alias: {} for f in self._text_fields
        }
        self._vector_names = {f.name for f in definition.fields if f.type is FieldType.VECTOR}
        self._weights = {f.alias: field_weight(f.weight) for f in self._text_fields}
        self._stem_weights = {f.alias: stem_weight(f.weight) for f in self._text_fields}
        self.language = (definition.language or DEFAULT_LANGUAGE).lower()
        self._language_field = definition.language_field
        self._doc_language: dict[int, bytes] = {}
        """A document's own LANGUAGE_FIELD language, where valid and not the index's."""
        """The index's LANGUAGE: how TEXT tokens are stemmed (:mod:`store.index.stemming`)."""
        self._stemmed = {f.alias for f in self._text_fields if not f.no_stem}
        self._phonetic = {f.alias for f in self._text_fields if f.phonetic is not None}
        self._suffix_trie = {f.alias for f in self._text_fields if f.with_suffix_trie}
        self._text_order = tuple(self._texts)
        self._stats = DocColumns()
        """Per label its DocStats, as a row of columns (:mod:`store.index.doc_columns`)."""
        self._term_docs: dict[bytes, int] | None = {} if len(self._text_fields) > 1 else None
        """How many documents hold each term in any TEXT field, kept only when there are
        several (with one, its postings say it: a dict entry less per term)."""
        self._next_doc_id = 1
        self.total_length = 0
        """Sum of the lengths of every document ever indexed (see the module docstring)."""
        self.num_records = 0
        """Index records as RediSearch counts them: (term, document), (tag value,
        document), numeric values, vectors."""
        self._bytes = 0

    # -- writes ---------------------------------------------------------------------------
    def check(self, fields: Mapping[bytes, FieldValue]) -> str | None:
        """RediSearch's message if ``fields`` would be rejected, else None. Changes nothing."""
        for spec in self._numeric_fields:
            raw = fields.get(spec.name)
            for part in () if raw is None else raw if isinstance(raw, tuple) else (raw,):
                if parse_numeric_value(part) is None:
                    return f"Invalid numeric value: '{part.decode('utf-8', 'replace')}'"
        for spec in self._geo_fields:
            if self._geo_points(fields, spec) is None:
                return INVALID_GEO
        return None

    @staticmethod
    def _geo_points(
        fields: Mapping[bytes, FieldValue], spec: FieldSpec
    ) -> list[tuple[float, float]] | None:
        """A GEO field's points (empty when absent), or None if one does not parse."""
        raw = fields.get(spec.name)
        points = []
        for part in () if raw is None else raw if isinstance(raw, tuple) else (raw,):
            point = parse_geo_value(part)
            if point is None:
                return None
            points.append(point)
        return points

    def add(self, label: int, fields: Mapping[bytes, FieldValue]) -> None:
        """Index ``label`` from its hash ``fields``, replacing what it had (see module doc)."""
        numbers: list[tuple[bytes, float]] = []
        held: dict[bytes, float | tuple[float, ...]] = {}
        for spec in self._numeric_fields:
            raw = fields.get(spec.name)
            if raw is None:
                continue
            parsed = []
            for part in raw if isinstance(raw, tuple) else (raw,):
                value = parse_numeric_value(part)
                if value is None:
                    self.remove(label)
                    raise DocumentRejected(
                        f"Invalid numeric value: '{part.decode('utf-8', 'replace')}'",
                        field=spec.name,
                    )
                parsed.append(value)
            if parsed:
                numbers += [(spec.alias, value) for value in parsed]
                held[spec.alias] = parsed[0] if len(parsed) == 1 else tuple(parsed)
        geo_points = []
        for spec in self._geo_fields:
            points = self._geo_points(fields, spec)
            if points is None:
                self.remove(label)
                raise DocumentRejected(INVALID_GEO, field=spec.name)
            if spec.alias in self._geo:
                geo_points.append((spec.alias, points))
        self.remove(label)
        for alias, points in geo_points:
            added = self._geo[alias].add(label, points)
            self.num_records += added
            self._bytes += 250 * added  # sorted entry, decoded floats, score, label slot
        self._labels.add(label)
        for alias, one_or_more in held.items():
            self._number_values[alias][label] = one_or_more
        for alias, value in numbers:
            self._numbers[alias].add((value, label))
        tags = []
        for spec in self._tag_fields:
            raw = fields.get(spec.name)
            if raw is not None:
                values = _split_tags(raw, spec)
                if values:
                    postings = self._tags[spec.alias]
                    shared = [postings.add(tag, label) for tag in values]
                    values = shared[0] if len(shared) == 1 else tuple(t for (t,) in shared)
                    self._tag_values[spec.alias][label] = values
                    tags.append(values)
        texts = []
        language = self._language_of(fields)
        if language != self.language:
            self._doc_language[label] = language
        for spec in self._text_fields:
            raw = fields.get(spec.name)
            if raw is not None:
                tokens = _text_tokens(raw, self._stopwords)
                if tokens:
                    postings = self._texts[spec.alias]
                    canonical = {t: postings.add(t, label)[0] for t in set(tokens) - {GAP}}
                    tokens = tuple(canonical.get(token, GAP) for token in tokens)
                    self._text_tokens[spec.alias][label] = tokens
                    texts.append(tokens)
                    stems = self._derived_of(spec.alias, tokens, language)
                    for stem in stems:
                        postings.add(stem, label)
                    if stems:
                        texts.append(stems)
        stats = self._doc_stats(label, fields)
        self._stats.put(label, stats)
        self._next_doc_id += 1
        terms = {t for tokens in texts for t in tokens} - {GAP}
        term_docs = self._term_docs
        if term_docs is not None:
            for term in terms:
                term_docs[term] = term_docs.get(term, 0) + 1
        self.num_records += len(numbers) + sum(len(v) for v in tags) + len(terms)
        self.num_records += stats.vectors
        self._bytes += _cost(numbers, tags, texts)

    def reindex_unchanged(self, label: int) -> bool:
        """What ``add(label, fields)`` does when ``fields`` are exactly those ``label`` was
        last added with: the postings stay, the document takes the next document id and
        its length counts once more in :attr:`total_length` (RediSearch re-indexes a
        rewritten document under a new id and never subtracts the old length). False,
        changing nothing, if ``label`` is not indexed (the caller then calls ``add``)."""
        held = self._stats.get(label)
        if held is None:
            return False
        stats = DocStats(*held)
        self._stats.put(label, stats._replace(doc_id=self._next_doc_id))
        self._next_doc_id += 1
        self.total_length += stats.length
        return True

    def _doc_stats(self, label: int, fields: Mapping[bytes, FieldValue]) -> DocStats:
        """RediSearch's forward-index walk: fields in schema order, a VECTOR field bumps the
        running maximum frequency by one (``vectorPreprocessor``), a TEXT token raises it
        to the token's running weighted frequency."""
        freqs: dict[bytes, int] = {}
        length = max_freq = vectors = 0
        language = self._doc_language.get(label, self.language)
        for spec in self.definition.fields:
            if spec.name in self._vector_names:
                held_vector = fields.get(spec.name)
                if held_vector is not None:
                    max_freq += 1
                    # a JSON multi-vector field: one FT.INFO record per vector, as the peer
                    vectors += len(held_vector) if isinstance(held_vector, tuple) else 1
                continue
            tokens = self._text_tokens.get(spec.alias)
            if tokens is None or spec.no_index:
                continue
            held = tokens.get(label, ())
            w = self._weights[spec.alias]
            stemmed = spec.alias in self._stemmed
            phonetic = spec.alias in self._phonetic
            ws = self._stem_weights[spec.alias]
            for t in held:
                if not t:  # GAP
                    continue
                f = freqs[t] = freqs.get(t, 0) + w
                if f > max_freq:
                    max_freq = f
                stem = index_stem(t, language) if stemmed else None
                if stem is not None:
                    f = freqs[stem] = freqs.get(stem, 0) + ws
                    if f > max_freq:
                        max_freq = f
                sound = phonetic_term(t) if phonetic and len(t) >= MIN_PHONETIC_LENGTH else None
                if sound is not None:
                    f = freqs[sound] = freqs.get(sound, 0) + w
                    if f > max_freq:
                        max_freq = f
            length += w * (len(held) - held.count(GAP))
        self.total_length += length
        return DocStats(self._next_doc_id, length, max_freq, vectors)

    def remove(self, label: int) -> None:
        """Forget ``label`` everywhere; unknown labels are ignored."""
        if label not in self._labels:
            return
        self._labels.discard(label)
        for points in self._geo.values():
            dropped = points.remove(label)
            self.num_records -= dropped
            self._bytes -= 250 * dropped
        numbers = []
        for alias, held in self._number_values.items():
            one_or_more = held.pop(label, None)
            if one_or_more is None:
                continue
            for value in one_or_more if isinstance(one_or_more, tuple) else (one_or_more,):
                numbers.append(value)
                self._numbers[alias].remove((value, label))
        tags = []
        for alias, held_tags in self._tag_values.items():
            values = held_tags.pop(label, None)
            if values is not None:
                tags.append(values)
                for v in values:
                    self._tags[alias].discard(v, label)
        texts = []
        for alias, held_tokens in self._text_tokens.items():
            tokens = held_tokens.pop(label, None)
            if tokens is not None:
                texts.append(tokens)
                for token in set(tokens) - {GAP}:
                    self._texts[alias].discard(token, label)
                stems = self._derived_of(alias, tokens, self._doc_language.get(label))
                for stem in stems:
                    self._texts[alias].discard(stem, label)
                if stems:
                    texts.append(stems)
        self._doc_language.pop(label, None)
        stats = self._stats.pop(label)
        if stats is not None:
            self.num_records -= stats[VECTORS]
        terms = {t for tokens in texts for t in tokens} - {GAP}
        term_docs = self._term_docs
        if term_docs is not None:
            for term in terms:
                left = term_docs[term] - 1
                if left:
                    term_docs[term] = left
                else:
                    del term_docs[term]
        self.num_records -= len(numbers) + sum(len(v) for v in tags) + len(terms)
        self._bytes -= _cost(numbers, tags, texts)

    def _language_of(self, fields: Mapping[bytes, FieldValue]) -> bytes:
        """The language a document is stemmed in: its LANGUAGE_FIELD's value where that
        names a language RediSearch knows (any case), else the index's."""
        if self._language_field is None:
            return self.language
        raw = fields.get(self._language_field)
        if isinstance(raw, bytes) and raw.lower() in LANGUAGES:
            return raw.lower()
        return self.language

    def _derived_of(
        self, alias: bytes, tokens: tuple[bytes, ...], language: bytes | None = None
    ) -> tuple[bytes, ...]:
        """The distinct ``+stem`` and ``<CODE`` (phonetic) terms field ``alias`` indexes
        beside ``tokens`` (stems in ``language``, the index's by default)."""
        words = set(tokens) - {GAP}
        found: set[bytes | None] = set()
        if alias in self._stemmed:
            lang = language or self.language
            found.update(index_stem(t, lang) for t in words)
        if alias in self._phonetic:
            found.update(phonetic_term(t) for t in words if len(t) >= MIN_PHONETIC_LENGTH)
        return tuple(sorted(t for t in found if t is not None))

    # -- reads ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, label: object) -> bool:
        return label in self._labels

    # -- text statistics (see the module docstring) ---------------------------------------
    def doc_stats(self, label: int) -> DocStats:
        """The scorers' view of an indexed ``label`` (KeyError if it is not indexed)."""
        held = self._stats.get(label)
        if held is None:
            raise KeyError(label)
        return DocStats(*held)

    def doc_ids(self, labels: Sequence[int]) -> list[int]:
        """``doc_stats(label).doc_id`` of each of ``labels``, in order, without building the
        tuples (KeyError for a label not indexed)."""
        rows = self._stats.rows(labels)
        if len(rows) and rows.min() < 0:
            raise KeyError(next(label for label, row in zip(labels, rows, strict=True) if row < 0))
        return self._stats.table[rows, DOC_ID].tolist()

    def stat_columns(self, labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """``labels``' statistics at once: ``(held, table)``, where ``held`` is a boolean
        array saying which of ``labels`` are indexed and ``table`` has one row per held
        label, in order, with the columns of :mod:`store.index.doc_columns`
        (``DOC_ID``, ``LENGTH``, ``MAX_FREQ``, ``VECTORS``). Arrays the caller owns."""
        rows = self._stats.rows(labels)
        held = rows >= 0
        return held, self._stats.table[rows[held] if not held.all() else rows]

    def term_frequencies(self, labels: Sequence[int], term: bytes) -> np.ndarray:
        """Each of ``labels``' weighted count of the token ``term`` over its TEXT fields, in
        order (an ``int64`` array): the frequency :class:`~store.index.score_tree.DocText`
        gives a plain term."""
        out = np.zeros(len(labels), dtype=np.int64)
        for alias in self._text_order:
            out += self._weights[alias] * term_counts(self._text_tokens[alias], labels, term)
        return out

    def term_doc_count(self, term: bytes) -> int:
        """How many documents hold ``term`` in any TEXT field."""
        if self._term_docs is not None:
            return self._term_docs.get(term, 0)
        return sum(len(postings.get(term)) for postings in self._texts.values())

    @property
    def max_doc_id(self) -> int:
        """The last document id given out (RediSearch's ``maxDocId``)."""
        return self._next_doc_id - 1

    @property
    def num_terms(self) -> int:
        """Distinct terms over every TEXT field."""
        if self._term_docs is not None:
            return len(self._term_docs)
        return sum(len(postings.postings) for postings in self._texts.values())

    def text_fields(self) -> tuple[bytes, ...]:
        """The indexed TEXT fields' query names, in schema order (token positions run on
        across them in this order)."""
        return self._text_order

    def tokens(self, alias: bytes, label: int) -> tuple[bytes, ...]:
        """The terms ``label`` holds in TEXT field ``alias``, in order (stop words out)."""
        return self._text_tokens[alias].get(label, ())

    def weight(self, alias: bytes) -> int:
        """What one occurrence counts in TEXT field ``alias`` (:func:`field_weight`)."""
        return self._weights[alias]

    def derived_occurrences(self, alias: bytes, label: int, term: bytes) -> list[int]:
        """0-based indexes of ``label``'s tokens in TEXT field ``alias`` that index the
        derived ``term`` (a ``+stem`` or ``<CODE``); empty where the field has none."""
        tokens = self._text_tokens[alias].get(label, ())
        if is_phonetic(term):
            if alias not in self._phonetic:
                return []
            return [
                i
                for i, t in enumerate(tokens)
                if len(t) >= MIN_PHONETIC_LENGTH and phonetic_term(t) == term
            ]
        if alias not in self._stemmed:
            return []
        language = self._doc_language.get(label, self.language)
        return [i for i, t in enumerate(tokens) if t and index_stem(t, language) == term]

    def derived_weight(self, alias: bytes, term: bytes) -> int:
        """What one occurrence of the derived ``term`` counts in TEXT field ``alias``: a
        stem's reduced weight, a phonetic code's full one."""
        return self._weights[alias] if is_phonetic(term) else self._stem_weights[alias]

    def pattern_terms(self, alias: bytes, node: TextFilter) -> list[bytes]:
        """The terms of TEXT field ``alias`` a prefix or pattern ``node`` expands to, in
        byte order (:mod:`store.index.term_patterns`)."""
        postings = self._texts.get(alias)
        if postings is None:
            return []
        if node.prefix:
            return self.terms_with_prefix(alias, node.terms[0])
        return expand(postings.vocabulary, node.pattern, node.terms[0], node.distance, self.limits)

    def field_has_term(self, alias: bytes, term: bytes) -> bool:
        """Whether any document holds ``term`` in TEXT field ``alias``."""
        postings = self._texts.get(alias)
        return postings is not None and term in postings.postings

    def has_term(self, alias: bytes, term: bytes, label: int) -> bool:
        """Whether ``label`` holds ``term`` in TEXT field ``alias``."""
        postings = self._texts.get(alias)
        return postings is not None and label in postings.get(term)

    def terms_with_prefix(self, alias: bytes, prefix: bytes) -> list[bytes]:
        """The terms of TEXT field ``alias`` a ``prefix*`` query expands to, sorted."""
        postings = self._texts.get(alias)
        if postings is None or len(prefix) < self.limits.min_prefix:
            return []
        vocabulary = postings.vocabulary
        out = []
        i = bisect_left(vocabulary, prefix)
        end = min(i + self.limits.max_expansions, len(vocabulary))
        while i < end and vocabulary[i].startswith(prefix):
            out.append(vocabulary[i])
            i += 1
        return out

    def tag_doc_count(self, alias: bytes, value: bytes) -> int:
        """How many documents hold the (already folded) tag ``value`` in field ``alias``."""
        postings = self._tags.get(alias)
        return 0 if postings is None else len(postings.get(value))

    def tag_labels(self, alias: bytes, value: bytes) -> list[int]:
        """The labels holding the (already folded) tag ``value`` in field ``alias``,
        ascending (a fresh list)."""
        postings = self._tags.get(alias)
        return [] if postings is None else postings.sorted_labels(value)

    def tag_values(self, alias: bytes, label: int) -> tuple[bytes, ...]:
        """The folded tag values ``label`` holds in TAG field ``alias``."""
        return self._tag_values.get(alias, {}).get(label, ())

    def tags_with_prefix(self, alias: bytes, prefix: bytes) -> list[bytes]:
        """The tag values of field ``alias`` starting with (folded) ``prefix``, sorted."""
        postings = self._tags.get(alias)
        if postings is None or len(prefix) < self.limits.min_prefix:
            return []
        i = bisect_left(postings.vocabulary, prefix)
        end = min(i + self.limits.max_expansions, len(postings.vocabulary))
        out = []
        while i < end and postings.vocabulary[i].startswith(prefix):
            out.append(postings.vocabulary[i])
            i += 1
        return out

    def tags_matching(self, alias: bytes, kind: str, text: bytes) -> list[bytes]:
        """The tag values of field ``alias`` a ``suffix``/``contains``/``wildcard`` pattern
        (folded as the field folds) expands to, in byte order, at most MAX_EXPANSIONS."""
        postings = self._tags.get(alias)
        if postings is None:
            return []
        return expand(postings.vocabulary, kind, self.fold_tag(alias, text), 0, self.limits)

    def fold_tag(self, alias: bytes, value: bytes) -> bytes:
        """A tag query value folded as field ``alias`` stores its values."""
        spec = self._tag_spec.get(alias)
        return value if spec is None else _fold_tag(value, spec)

    def all_labels(self) -> set[int]:
        """A copy of every label added and not removed."""
        return set(self._labels.tolist())

    def memory_bytes(self) -> int:
        """An estimate of the Python memory held, kept up to date by add/remove.

        Calibrated with tracemalloc at 100k documents (tag + numeric + 8-word text: 230 MB
        measured, 222 MB estimated, before the ~13 MB of per-document text statistics were
        added and costed at 130 bytes each); see ``_cost``.
        """
        vocab = sum(len(p.postings) for p in (*self._tags.values(), *self._texts.values()))
        return self._bytes + 250 * vocab

    def ordered(self, node: FilterNode) -> list[int] | None:
        """The labels ``node`` matches in ascending order, when ``node`` is one TAG value
        (``@field:{value}``): read from its posting in order, with no set to build and sort
        (a tag search's page: 100 of 330 µs at 2,000 matches). None for any other node:
        :meth:`evaluate` answers those. The labels are those :meth:`evaluate` gives."""
        if not isinstance(node, TagFilter) or len(node.values) != 1:
            return None
        if node.prefixes or node.patterns:
            return None
        (value,) = node.values
        return self.tag_labels(node.field, self.fold_tag(node.field, value))

    def evaluate(self, node: FilterNode) -> set[int] | None:
        """The labels ``node`` matches: a fresh set, or None for "every label"."""
        if isinstance(node, MatchAll | OptionalFilter):
            return None
        if isinstance(node, MatchNone):
            return set()
        if isinstance(node, TagFilter):
            postings = self._tags.get(node.field)
            if postings is None:
                return set()
            spec = self._tag_spec[node.field]
            values = [_fold_tag(v, spec) for v in node.values]
            prefixes = [_fold_tag(p, spec) for p in node.prefixes]
            for kind, text in node.patterns:
                values += self.tags_matching(node.field, kind, text)
            return postings.union(values, prefixes)
        if isinstance(node, NumericFilter):
            pairs = self._numbers.get(node.field)
            return set() if pairs is None else pairs.labels(*_range_keys(node))
        if isinstance(node, TextFilter):
            return self._text(node)
        if isinstance(node, GeoFilter):
            geo = self._geo.get(node.field)
            return set() if geo is None else geo.within(node)
        if isinstance(node, Not):
            child = self.evaluate(node.child)
            return set() if child is None else self.all_labels() - child
        if isinstance(node, Or):
            out: set[int] = set()
            for c in node.children:
                labels = self.evaluate(c)
                if labels is None:
                    return None
                out |= labels
            return out
        if isinstance(node, And):
            return self._intersect(node.children)
        raise TypeError(f"not a filter node: {node!r}")

    def membership(self, node: FilterNode) -> Callable[[int], bool] | None:
        """:meth:`_predicate` of ``node`` where it is cheap to build and answers each label
        from that label's own entries: a TAG node of plain values and patterns, a TEXT node
        of one term (with its expansions) or a phrase, and unions and intersections of
        those. None for any other node (evaluate it).

        For a few questions (a page of KNN hits scored): each answer costs a few posting
        lookups, where :meth:`evaluate` builds the whole label set."""
        return self._predicate(node) if _answers_per_label(node) else None

    def _intersect(self, children: tuple[FilterNode, ...]) -> set[int] | None:
        """Evaluate the smallest child, then filter it: by set operations while the other
        children are comparable in size, label by label once they are much larger."""
        positive = sorted((c for c in children if not isinstance(c, Not)), key=self.count)
        negative = [c.child for c in children if isinstance(c, Not)]
        result: set[int] | None = None
        for child in positive:
            if result is not None and self.count(child) > _FILTER_RATIO * len(result):
                keep = self._predicate(child)
                result = {label for label in result if keep(label)}
            else:
                labels = self.evaluate(child)
                if labels is None:
                    continue
                result = labels if result is None else result & labels
            if not result:
                return result
        for excluded in negative:
            if result is not None and self.count(excluded) > _FILTER_RATIO * len(result):
                drop = self._predicate(excluded)
                result = {label for label in result if not drop(label)}
                continue
            labels = self.evaluate(excluded)
            if labels is None:
                return set()
            result = (self.all_labels() - labels) if result is None else result - labels
        return result

    def _predicate(self, node: FilterNode) -> Callable[[int], bool]:
        """``node`` as a test of one label, for filtering a small candidate set."""
        if isinstance(node, MatchAll | OptionalFilter):
            return lambda label: True
        if isinstance(node, MatchNone):
            return lambda label: False
        if isinstance(node, TagFilter):
            spec = self._tag_spec.get(node.field)
            if spec is None:
                return lambda label: False
            values = {_fold_tag(v, spec) for v in node.values}
            for kind, text in node.patterns:
                values.update(self.tags_matching(node.field, kind, text))
            for prefix in node.prefixes:  # expanded, so MAXEXPANSIONS holds here too
                values.update(self.tags_with_prefix(node.field, _fold_tag(prefix, spec)))
            tags = self._tag_values.get(node.field, {})

            def has_tag(label: int) -> bool:
                return any(v in values for v in tags.get(label, ()))

            return has_tag
        if isinstance(node, NumericFilter):
            numbers, contains = self._number_values.get(node.field, {}), node.contains

            def in_range(label: int) -> bool:
                value = numbers.get(label)
                if isinstance(value, tuple):  # a JSON array: any of its numbers
                    return any(contains(v) for v in value)
                return value is not None and contains(value)

            return in_range
        if isinstance(node, TextFilter):
            if node.prefix or node.pattern:  # the expansion is the work: evaluate it once
                return self._text(node).__contains__
            # the postings _text unions: the term and its expansions (stems, phonetic
            # codes), each phrase term (a stem term, which no token tuple holds, included)
            aliases = self._text_aliases(node)
            if len(node.terms) == 1:
                terms = (node.terms[0], *node.expansions)
                lists = [self._texts[a].get(t) for a in aliases for t in terms]
                return lambda label: any(label in held for held in lists)
            per_term = [[self._texts[a].get(t) for a in aliases] for t in node.terms]

            def in_phrase(label: int) -> bool:
                return all(any(label in held for held in lists) for lists in per_term) and (
                    self._has_phrase(label, node, aliases)
                )

            return in_phrase
        if isinstance(node, GeoFilter):
            geo = self._geo.get(node.field)
            if geo is None:
                return lambda label: False
            return lambda label: geo.contains(node, label)
        if isinstance(node, Not):
            inner = self._predicate(node.child)
            return lambda label: not inner(label)
        if isinstance(node, VectorRange):  # store.index.vector_range evaluates these
            raise TypeError(f"not an attribute filter node: {node!r}")
        parts = [self._predicate(c) for c in node.children]
        if isinstance(node, And):
            return lambda label: all(p(label) for p in parts)
        return lambda label: any(p(label) for p in parts)

    def check_patterns(self, node: FilterNode) -> None:
        """Raise RediSearch's error for a pattern the index refuses anywhere in ``node``
        (FT.EXPLAIN checks without evaluating)."""
        if isinstance(node, TextFilter) and node.pattern:
            self._check_suffix_support(node)
        elif isinstance(node, And | Or):
            for child in node.children:
                self.check_patterns(child)
        elif isinstance(node, Not | OptionalFilter):
            self.check_patterns(node.child)

    def _check_suffix_support(self, node: TextFilter) -> None:
        """RediSearch's refusal: once a TEXT field has WITHSUFFIXTRIE, a suffix, contains
        or wildcard query naming fields must name only such fields."""
        if not self._suffix_trie or node.fields is None or node.pattern == "fuzzy":
            return
        named = [f for f in node.fields if f in self._texts]
        if any(f not in self._suffix_trie for f in named):
            raise QuerySyntaxError("Contains query on fields without WITHSUFFIXTRIE support")

    def _text(self, node: TextFilter) -> set[int]:
        aliases = self._text_aliases(node)
        out: set[int] = set()
        if node.pattern:
            self._check_suffix_support(node)
            for alias in aliases:
                out |= self._texts[alias].union(self.pattern_terms(alias, node), ())
            return out
        if node.prefix or len(node.terms) == 1:
            for alias in aliases:
                postings = self._texts[alias]
                if node.prefix:
                    out |= postings.union((), node.terms)
                else:
                    out |= postings.union((node.terms[0], *node.expansions), ())
            return out
        candidates: set[int] | None = None
        for term in node.terms:
            having: set[int] = set()
            for alias in aliases:
                having |= self._texts[alias].union((term,), ())
            candidates = having if candidates is None else candidates & having
        return {label for label in candidates or () if self._has_phrase(label, node, aliases)}

    def _text_aliases(self, node: TextFilter) -> list[bytes]:
        if node.fields is None:
            return list(self._texts)
        return [f for f in node.fields if f in self._texts]

    def _has_phrase(self, label: int, node: TextFilter, aliases: list[bytes]) -> bool:
        """RediSearch's exact phrase: every term in one of ``aliases``, and positions
        (counted across all TEXT fields in schema order, whatever field holds them) in
        order with no gap (:func:`store.index.proximity.positions_within`, slop 0)."""
        texts = self._text_tokens
        where: dict[bytes, list[int]] = {term: [] for term in node.terms}
        fields_of: dict[bytes, set[bytes]] = {term: set() for term in node.terms}
        pos = 0
        for alias in self._texts:
            for token in texts[alias].get(label, ()):
                pos += 1
                held = where.get(token)
                if held is not None:
                    held.append(pos)
                    fields_of[token].add(alias)
        wanted = set(aliases)
        if any(not fields_of[term] & wanted for term in node.terms):
            return False
        return positions_within([where[term] for term in node.terms], 0, True)

    def count(self, node: FilterNode) -> int:
        """A cheap upper-bound estimate of ``len(evaluate(node))`` for query planning."""
        total = len(self._labels)
        if isinstance(node, MatchAll | OptionalFilter):
            return total
        if isinstance(node, MatchNone):
            return 0
        if isinstance(node, TagFilter):
            postings = self._tags.get(node.field)
            if postings is None:
                return 0
            spec = self._tag_spec[node.field]
            values = [_fold_tag(v, spec) for v in node.values]
            prefixes = [_fold_tag(p, spec) for p in node.prefixes]
            for kind, text in node.patterns:
                values += self.tags_matching(node.field, kind, text)
            return min(total, postings.estimate(values, prefixes))
        if isinstance(node, NumericFilter):
            pairs = self._numbers.get(node.field)
            return 0 if pairs is None else pairs.count(*_range_keys(node))
        if isinstance(node, TextFilter):
            aliases = self._text_aliases(node)
            if node.prefix:
                n = sum(self._texts[a].estimate((), node.terms) for a in aliases)
            elif node.pattern:
                n = len(self._text(node))
            elif node.expansions:
                terms = (node.terms[0], *node.expansions)
                n = sum(self._texts[a].estimate(terms, ()) for a in aliases)
            else:
                n = min(sum(len(self._texts[a].get(t)) for a in aliases) for t in node.terms)
            return min(total, n)
        if isinstance(node, GeoFilter):
            geo = self._geo.get(node.field)
            return 0 if geo is None else geo.estimate(node)
        if isinstance(node, Not):
            child = node.child
            exact = isinstance(child, NumericFilter) or (
                isinstance(child, TagFilter) and len(child.values) == 1 and not child.prefixes
            )
            return total - self.count(child) if exact else total
        if isinstance(node, Or):
            return min(total, sum(self.count(c) for c in node.children))
        if isinstance(node, And):
            return min((self.count(c) for c in node.children), default=total)
        raise TypeError(f"not a filter node: {node!r}")


def _cost(numbers: Sized, tags: list[tuple[bytes, ...]], texts: list[tuple[bytes, ...]]) -> int:
    """Bytes one document's entries hold (label slot, per-field entries, postings, values)."""
    return (
        160  # label slot and DocStats (one packed int in a dict, ~100 bytes)
        + 84 * len(numbers)
        # per value or token: its slot in the document's tuple and ~10 bytes of posting
        # (a LabelList label, store/index/postings.py)
        + sum(110 + 20 * len(v) for v in tags)
        + sum(110 + 20 * len(t) for t in texts)
    )


def _answers_per_label(node: FilterNode) -> bool:
    """Whether :meth:`FieldIndexes.membership` takes ``node`` (its docstring)."""
    if isinstance(node, TagFilter):
        return not node.prefixes
    if isinstance(node, TextFilter):
        return not (node.prefix or node.pattern)
    if isinstance(node, Or | And):
        return bool(node.children) and all(_answers_per_label(c) for c in node.children)
    return False


def _fold_tag(value: bytes, spec: FieldSpec) -> bytes:
    return value if spec.case_sensitive else value.lower()


def _text_tokens(raw: FieldValue, stopwords: frozenset[bytes]) -> tuple[bytes, ...]:
    """A TEXT value's tokens; a JSON array's elements are :data:`MULTI_TEXT_GAP` positions
    apart (:data:`GAP` fills the space between them)."""
    if not isinstance(raw, tuple):
        return tuple(tokenize_text(raw, stopwords))
    out: list[bytes] = []
    for element in raw:
        tokens = tokenize_text(element, stopwords)
        if tokens:
            if out:
                out.extend((GAP,) * (MULTI_TEXT_GAP - 1))
            out.extend(tokens)
    return tuple(out)


def _split_tags(raw: bytes | tuple[bytes, ...], spec: FieldSpec) -> tuple[bytes, ...]:
    values = raw if isinstance(raw, tuple) else (raw,)
    sep = spec.separator
    parts = (p.strip() for v in values for p in (v.split(sep) if sep else (v,)))
    return tuple(dict.fromkeys(_fold_tag(p, spec) for p in parts if p))
