"""One FT index: which keys it covers, their labels, vector and attribute indexes, search.

A :class:`SearchIndex` is driven by the index manager under the engine lock: ``update`` is
called for every change of a key under one of its prefixes, before the write is
acknowledged, so the primary always shows a client its own writes. Searches take the
engine lock only to evaluate filters and read documents; the ANN walk runs outside it so
searches use every core (hnswlib releases the GIL; the vector index has its own RW lock).
:meth:`SearchIndex.document` is what the index reads from a key: a hash (ON HASH), or a
JSON document's projection (ON JSON, :mod:`store.index.json_fields`), whose VECTOR field
may hold several vectors (:mod:`store.index.multi_vector`).

Planning a KNN query with a filter: the attribute indexes give the exact set of matching
labels first. If that set is small, or the query says ``HYBRID_POLICY ADHOC_BF``, the
query is answered exactly over that subset from the hashes' blobs: for an HNSW field
``<= BRUTE_FORCE_MAX`` labels or under ``BRUTE_FORCE_FRACTION`` of the index. The blobs
are read through the references :attr:`SearchIndex._indexed` keeps (one lookup per label
instead of three: between queries the subset is out of cache, and each lookup's misses
counted; docs/decisions/0036). A FLAT field answers a filter itself
(:class:`~store.index.flat.FlatIndex`): a set under 20% from its rows where they lie
(plan ``filtered-rows``), a larger one from the pass over every vector that concurrent
queries share, the set picking (docs/decisions/0035, 0036).
An HNSW field is walked without the filter for enough nearest that the set's k nearest
are among them (:mod:`store.index.hybrid_batches`, RediSearch's ``BATCHES``;
``BATCH_SIZE`` sets the first walk's size); only when those walks find too few is the
graph walked with the set as a predicate (and hnswlib's own fallback to an exact scan
when the predicate starves the walk). The batches keep the index's recall at its
breadth, as a query without a filter; the small-subset path is exact. Every ANN path
searches at the query's ``EF_RUNTIME``, else the field's, else
:func:`~store.index.hnsw.default_ef` for the query's k and the index's size (recall@k
>= 0.99 of exact search on real embeddings; docs/decisions/0003-default-search-breadth.md).
An exact scan of the whole unfiltered index is never chosen: it is ~36x slower than HNSW
at that breadth already at 10k vectors (same record).

Deferred vector inserts: between :meth:`SearchIndex.defer_vectors` and
:meth:`SearchIndex.flush_vectors` (one engine-lock hold, e.g. a pipeline of HSETs) the
vectors of updated documents are collected, the last one per document winning, and
inserted as one batch per field, which the HNSW index builds on every core. Everything
else (labels, attribute indexes) changes at once; nobody can search between the two calls.

Rewrites: an ON HASH index keeps, per label, references to the values it last indexed of
the fields it reads (the schema's and LANGUAGE_FIELD; the hash's own objects, so ~100
bytes per document and no copies). A write that leaves all of them byte-identical (a
re-sent document) only gives the document a new document id, as RediSearch's re-index
does (:meth:`FieldIndexes.reindex_unchanged`); a VECTOR field whose blob is byte-identical
is not re-inserted into its graph. Byte equality is the exact rule: ``-0.0`` and ``0.0``
differ in bytes, so such a write re-inserts an equal vector (harmless); NaN never reaches
an index. A write through any path (HSET, HINCRBY, RESTORE, replay) compares the same way.
A removed key keeps its label for a while (``_dormant``, bounded): re-created with the
same vector bytes, it takes the label and its graph slot back instead of a fresh insert
(:meth:`SearchIndex._label_for`), and otherwise a fresh label as before.

Batches (for a caller combining writes from several connections): hold the engine lock,
call :meth:`defer_vectors` (``IndexManager.deferred_vectors()`` does it for every index;
``Engine.submit_many`` wraps a run of key writes in it), apply the writes, then
:meth:`flush_vectors` inserts each field's collected vectors with one
``VectorIndex.add_batch``, which HNSW builds on ``build_threads`` cores from 8 vectors up.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ..datatypes.json_doc import JsonDoc
from ..errors import DocumentRejected, IndexError_, QuerySyntaxError
from ..numbers import parse_float64
from .fields import FieldIndexes, FieldValue, parse_numeric_value
from .flat import FlatIndex
from .geo_field import parse_geo_value
from .hash_blobs import hash_blobs
from .hnsw import HnswIndex
from .hybrid_batches import filtered_batches
from .json_fields import project
from .multi_vector import SubVectors
from .query import FilterNode, KnnClause, MatchAll, ParsedQuery, VectorRange
from .query.vector_range import vector_params_error
from .schema import FieldSpec, FieldType, IndexDefinition
from .term_patterns import ExpansionLimits
from .vecsim_arith import blob_distances, nearest_blob_distances, sorted_hits
from .vector import Metric, VectorIndex, all_finite, distances, prepare, smallest_k
from .vector_range import RangeResults, range_leaves
from .vector_range import evaluate as evaluate_ranges
from .vector_types import HALF_TYPES, decode, element_bytes, float64_distances, unit_in_type

ALONE_SCANS_KEPT = 1024
"""Query texts an index remembers as scanning a filter's rows alone (:meth:`SearchIndex.
note_plan`), each of at most :data:`ALONE_SCAN_TEXT_MAX` bytes."""
ALONE_SCAN_TEXT_MAX = 4096

# Exact scan of the filtered subset when it has at most this many documents, or is under
# this fraction of the index (up to BRUTE_FORCE_CEILING). The scan reads the raw vectors
# from the documents themselves (no second copy in memory; gathered in C, hash_blobs) and
# computes VecSim's arithmetic only for those a fast screen cannot rule out of the k nearest
# (nearest_blob_distances): ~0.4 ms per 2,000 candidates at DIM 384, most of it the
# gather's memory reads (docs/decisions/0026-filtered-knn-and-the-resp-codec-in-c.md); a
# filtered HNSW walk costs 2-20 ms when few candidates pass (docs/decisions/0001-ann-engine.md),
# so selective filters are both exact and faster.
BRUTE_FORCE_MAX = 2000
BRUTE_FORCE_FRACTION = 0.05
BRUTE_FORCE_CEILING = 50_000

# Removed keys whose labels are kept for a re-creation: at least this many (~100 bytes each)
DORMANT_MIN = 1024

_UNKNOWN = object()
"""A field value :meth:`SearchIndex.adopt_indexed` does not know: equal to no value."""


_BY_DISTANCE_THEN_LABEL = operator.itemgetter(1, 0)  # of (label, distance) pairs


class SearchHit(NamedTuple):
    """One FT.SEARCH result: the key, its KNN distance (KNN queries), its text score
    (:func:`store.index.scoring.text_scores`; None when not computed). A tuple, so a page of
    hits is built without a Python ``__init__`` call per hit (``tuple.__new__``)."""

    key: bytes
    distance: float | None = None
    score: float | None = None
    yields: Mapping[bytes, float] | None = None
    """Distances named by VECTOR_RANGE ``$YIELD_DISTANCE_AS``, in query order (None: no
    VECTOR_RANGE yields any)."""


@dataclass
class SearchOutcome:
    total: int
    hits: list[SearchHit]
    plan: str = ""


@dataclass
class FieldFailures:
    """One field's indexing failures (FT.INFO ``field statistics``)."""

    count: int = 0
    last_error: str = "N/A"
    last_key: bytes = b"N/A"


@dataclass
class IndexStats:
    hash_indexing_failures: int = 0
    last_indexing_error: str = "N/A"
    last_indexing_error_key: bytes = b"N/A"
    number_of_uses: int = 0
    plans: dict[str, int] = field(default_factory=dict)
    field_failures: dict[bytes, FieldFailures] = field(default_factory=dict)


def make_vector_index(spec: Any) -> VectorIndex:
    """The FLAT or HNSW index of a VECTOR field. A 16-bit COSINE field's index measures IP:
    its vectors arrive as unit vectors rounded to the type (:func:`unit_in_type`)."""
    metric = Metric.parse(spec.distance_metric)
    if spec.type in HALF_TYPES and spec.distance_metric == "COSINE":
        metric = Metric.parse("IP")
    if spec.algorithm == "HNSW":
        return HnswIndex(
            spec.dim,
            metric,
            m=spec.m,
            ef_construction=spec.ef_construction,
            ef_runtime=spec.ef_runtime,
            initial_cap=spec.initial_cap or 1024,
        )
    return FlatIndex(spec.dim, metric)


class SearchIndex:
    def __init__(self, definition: IndexDefinition, limits: ExpansionLimits | None = None) -> None:
        self.definition = definition
        self.key_to_label: dict[bytes, int] = {}
        self.label_to_key: dict[int, bytes] = {}
        self.next_label = 0
        self.fields = FieldIndexes(definition, limits)
        self.vector_fields = [f for f in definition.fields if f.type is FieldType.VECTOR]
        # lookups fixed with the definition (FT.ALTER builds another SearchIndex): the
        # VECTOR schemas by name (the first so named wins), and _exact_field's answers with
        # their metric, by every name and alias a query may use
        self._vector_specs = {f.name: f for f in reversed(self.vector_fields)}
        self._exact_fields: dict[bytes, tuple[FieldSpec, Metric] | None] = {}
        for f in self.vector_fields:
            if f.vector is None:
                continue
            exact = self._exact_field_of(f)
            found = None if exact is None else (f, Metric.parse(f.vector.distance_metric))
            for name in (f.name, f.alias):  # the first field so named answers
                self._exact_fields.setdefault(name, found)
        self.vectors: dict[bytes, VectorIndex] = {
            f.name: make_vector_index(f.vector) for f in self.vector_fields
        }
        self.stats = IndexStats()
        self.stats_lock = threading.Lock()
        self._pending: dict[bytes, dict[int, npt.NDArray[np.float32]]] | None = None
        names = [f.name for f in definition.fields]
        if definition.language_field is not None:
            names.append(definition.language_field)
        self._watched = tuple(dict.fromkeys(names))
        """The hash fields whose values this index reads (module docstring, rewrites)."""
        self._watched_at = {name: i for i, name in enumerate(self._watched)}
        self._dormant: dict[bytes, int] = {}
        """Removed keys and their labels, oldest first, so a re-created document can take
        its label (and graph slot) back (:meth:`_label_for`; bounded by
        ``DORMANT_MIN`` or half the indexed documents)."""
        self._indexed: dict[int, tuple[Any, ...]] = {}
        """Per label of an ON HASH index, its values of :attr:`_watched` as last indexed
        (references to the hash's own value objects: no copies)."""
        self.subs = SubVectors()
        """Documents with several vectors in a field (:mod:`store.index.multi_vector`)."""
        self.alone_scans: set[bytes] = set()
        """FT.SEARCH query texts whose last KNN scanned a FLAT field's filtered rows alone
        (plan ``filtered-rows``, :meth:`note_plan`): the server keeps them off the scan
        pool (:meth:`IndexManager.long_scans`)."""
        self.json_vectors: dict[bytes, dict[int, FieldValue]] = {}
        """ON JSON: each vector field's FLOAT32 blob per label, kept for the exact KNN
        scan of a filtered subset (a hash holds its blob; a JSON document holds a list of
        numbers that costs ~100 us to convert per candidate)."""

    @property
    def name(self) -> str:
        return self.definition.name

    def covers(self, key: bytes) -> bool:
        prefixes = self.definition.prefixes
        return not prefixes or any(key.startswith(p) for p in prefixes)

    # -- writes (engine lock held) --------------------------------------------------------
    def check(self, key: bytes, new_fields: dict[bytes, bytes]) -> None:
        """Raise, changing nothing, if ``new_fields`` cannot be indexed (a bad vector blob,
        a numeric value or GEO point that does not parse): the check of a ``STRICT`` index."""
        for f in self.vector_fields:
            blob = new_fields.get(f.name)
            assert f.vector is not None
            if blob is None:
                continue
            field = f.name.decode("utf-8", "replace")
            vtype = self.stored_type(f)
            if len(blob) != self.stored_size(f):
                raise IndexError_(
                    f"Could not add vector with blob size {len(blob)} (expected size "
                    f"{self.stored_size(f)}) to field '{field}' of index '{self.name}': send "
                    f"DIM={f.vector.dim} little-endian {vtype} values"
                )
            if not all_finite(self.stored_vector(f, blob)):
                raise IndexError_(
                    f"Could not add vector to field '{field}' of index '{self.name}': it "
                    f"holds NaN or infinite values; send finite {vtype} values"
                )
        for f in self.definition.fields_of(FieldType.NUMERIC):
            raw = None if f.no_index else new_fields.get(f.name)
            if raw is not None and parse_numeric_value(raw) is None:
                raise IndexError_(f"Invalid numeric value: '{raw.decode('utf-8', 'replace')}'")
        for f in self.definition.fields_of(FieldType.GEO):
            raw = new_fields.get(f.name)
            if raw is not None and parse_geo_value(raw) is None:
                raise IndexError_(
                    f"Invalid geo string: '{raw.decode('utf-8', 'replace')}' (send \"lon,lat\")"
                )

    def stored_type(self, f: FieldSpec) -> str:
        """The element type of ``f``'s vectors as documents hold them: the field's ``TYPE``
        in a hash, FLOAT32 once projected from a JSON document."""
        assert f.vector is not None
        return "FLOAT32" if self.definition.on == "JSON" else f.vector.type

    def stored_size(self, f: FieldSpec) -> int:
        """Bytes of one of ``f``'s vectors as documents hold them (see :meth:`stored_type`)."""
        assert f.vector is not None
        return f.vector.dim * element_bytes(self.stored_type(f))

    def stored_vector(self, f: FieldSpec, blob: bytes) -> npt.NDArray[np.float32]:
        """A document's vector blob of field ``f`` as FLOAT32 (its size already checked);
        a 16-bit COSINE field's as its rounded unit vector (:func:`make_vector_index`)."""
        return self._as_indexed(f, decode(blob, self.stored_type(f)))

    @staticmethod
    def _as_indexed(f: FieldSpec, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        assert f.vector is not None
        if f.vector.type in HALF_TYPES and f.vector.distance_metric == "COSINE":
            return unit_in_type(vector, f.vector.type)
        return vector

    def document(
        self, value: Any, only: list[FieldSpec] | None = None
    ) -> Mapping[bytes, FieldValue] | None:
        """The fields this index reads from a key's value: a hash for an ON HASH index, a
        JSON document's projection (:func:`~store.index.json_fields.project`) for ON JSON,
        None for a value of another type (not a document of this index); ``only``: read
        just these fields of a JSON document. Raises
        :class:`DocumentRejected` for a JSON document the index cannot take."""
        if self.definition.on == "JSON":
            return project(self.definition, value, only) if isinstance(value, JsonDoc) else None
        return value if isinstance(value, dict) else None

    def update(self, key: bytes, value: Any, without: frozenset[bytes] = frozenset()) -> None:
        """Re-index ``key`` from its current value (a document of the index's type, or
        anything else = remove), ignoring the fields named in ``without``."""
        try:
            value = self.document(value)
            if value is not None and without:
                value = {name: v for name, v in value.items() if name not in without}
        except DocumentRejected as exc:
            # RediSearch counts a JSON document's type errors for the index only (its
            # FT.INFO field statistics stay at 0)
            self._failure(key, str(exc))
            self.remove(key)
            return
        if value is None or not self._indexable(key, value):
            self.remove(key)
            return
        label = self.key_to_label.get(key)
        seen = self._seen(value)
        previous: tuple[FieldValue | None, ...] | None = None
        revived: frozenset[bytes] = frozenset()
        if label is None:
            label, revived = self._label_for(key, value)
            self.key_to_label[key] = label
            self.label_to_key[label] = key
        else:
            previous = self._indexed.get(label)
            if seen is not None and previous == seen and self.fields.reindex_unchanged(label):
                return  # every field this index reads is byte-identical: only a new doc id
        try:
            for f in self.vector_fields:
                vindex = self.vectors[f.name]
                blob = value.get(f.name)
                pending = None if self._pending is None else self._pending[f.name]
                if f.name in revived:
                    continue
                if (
                    isinstance(blob, bytes)
                    and blob == self._previous_blob(f.name, label, previous)
                    and (label in vindex or (pending is not None and label in pending))
                ):
                    # the same bytes as the vector indexed (or about to be): an HNSW
                    # re-insert costs about eight fresh inserts
                    continue
                if pending is not None:
                    pending.pop(label, None)
                for sub in self.subs.drop(f.name, label):
                    vindex.remove(sub)
                    if pending is not None:
                        pending.pop(sub, None)
                if isinstance(blob, tuple):  # several vectors (a JSON multi-vector field)
                    extra = blob[1:]
                    blob = blob[0]
                    for sub, more in zip(
                        self.subs.allocate(f.name, label, len(extra)), extra, strict=True
                    ):
                        if pending is not None:
                            pending[sub] = self.stored_vector(f, more)
                        else:
                            vindex.add(sub, self.stored_vector(f, more))
                if not isinstance(blob, bytes):  # absent
                    vindex.remove(label)
                    continue
                vector = self.stored_vector(f, blob)
                if pending is not None:
                    pending[label] = vector
                    continue
                vindex.add(label, vector)
            self.fields.add(label, value)
            self.keep_json_vectors(label, value)
            if seen is not None:
                self._indexed[label] = seen
        except (ValueError, IndexError_) as exc:
            self._failure(key, str(exc), getattr(exc, "field", None))
            self.remove(key)

    def _label_for(
        self, key: bytes, document: Mapping[bytes, FieldValue]
    ) -> tuple[int, frozenset[bytes]]:
        """The label a key that is not indexed takes, and the vector fields already in
        place for it: its label from before it was removed, if every vector it has comes
        back from its vector indexes unchanged (:meth:`VectorIndex.revive`: a deleted and
        re-created document costs no graph insert), else a fresh label."""
        label = self._dormant.pop(key, None)
        if label is not None:
            blobs = [(f, document.get(f.name)) for f in self.vector_fields]
            if all(isinstance(blob, bytes) or blob is None for _, blob in blobs):
                revived: list[bytes] = []
                for f, blob in blobs:
                    if blob is None:
                        continue
                    assert isinstance(blob, bytes)
                    try:
                        back = self.vectors[f.name].revive(label, self.stored_vector(f, blob))
                    except ValueError:  # a vector no index takes: update() counts it
                        back = False
                    if not back:
                        break
                    revived.append(f.name)
                else:
                    return label, frozenset(revived)
                for name in revived:  # all or nothing
                    self.vectors[name].remove(label)
        label = self.next_label
        self.next_label += 1
        return label, frozenset()

    def _seen(self, document: Mapping[bytes, FieldValue]) -> tuple[FieldValue | None, ...] | None:
        """What :attr:`_indexed` keeps of a document: its values of the fields this index
        reads, as references to the hash's own objects; None for a JSON document (its
        projection is built anew on every read, so keeping it would cost a copy)."""
        if self.definition.on == "JSON":
            return None
        get = document.get
        return tuple([get(name) for name in self._watched])

    def _previous_blob(
        self, name: bytes, label: int, previous: tuple[FieldValue | None, ...] | None
    ) -> FieldValue | None:
        """The blob vector field ``name`` of ``label`` was last indexed from, if known."""
        if previous is not None:
            return previous[self._watched_at[name]]
        kept = self.json_vectors.get(name, {}).get(label)
        return kept if isinstance(kept, bytes) else None

    def relink_vectors(self, label: int, document: Mapping[bytes, FieldValue]) -> None:
        """After a restore: have each HNSW graph reference ``document``'s own FLOAT32 blob
        for ``label`` instead of the copy the snapshot gave it, where the two are equal
        (:meth:`HnswIndex.relink`), so a document's vector is held once."""
        if self.definition.on == "JSON":
            return
        for f in self.vector_fields:
            vindex = self.vectors[f.name]
            blob = document.get(f.name)
            if (
                isinstance(vindex, HnswIndex)
                and type(blob) is bytes
                and self.stored_type(f) == "FLOAT32"
                and not self.subs.has(f.name)
            ):
                vindex.relink(label, blob)

    def note_indexed(self, label: int, document: Mapping[bytes, FieldValue]) -> None:
        """Record that ``label`` is indexed from ``document`` (a snapshot restore indexes
        the attribute indexes itself and loads the graphs), so an unchanged rewrite of it
        takes the fast path of :meth:`update`."""
        seen = self._seen(document)
        if seen is not None:
            self._indexed[label] = seen

    def adopt_indexed(self, old: SearchIndex) -> None:
        """Carry ``old``'s record of indexed values over to this index, which replaces it
        with the same labels and vector indexes (``FT.ALTER``): a vector whose bytes did
        not change is then not re-inserted. A field ``old`` did not read is marked
        unknown, so no document takes the whole-document fast path on it."""
        source = [old._watched_at.get(name) for name in self._watched]
        for label, seen in old._indexed.items():
            self._indexed[label] = tuple(_UNKNOWN if at is None else seen[at] for at in source)

    def _indexable(self, key: bytes, value: Mapping[bytes, FieldValue]) -> bool:
        for f in self.vector_fields:
            blob = value.get(f.name)
            assert f.vector is not None
            if isinstance(blob, bytes) and len(blob) != self.stored_size(f):
                self._failure(
                    key,
                    f"Could not add vector with blob size {len(blob)} "
                    f"(expected size {self.stored_size(f)})",
                    f.name,
                )
                return False
        for f in self.definition.fields_of(FieldType.NUMERIC):
            raw = None if f.no_index else value.get(f.name)
            if isinstance(raw, bytes) and parse_numeric_value(raw) is None:
                self._failure(
                    key, f"Invalid numeric value: '{raw.decode('utf-8', 'replace')}'", f.name
                )
                return False
        return True

    def count_failure(self, key: bytes, message: str) -> None:
        """Count a document failure found outside indexing (:meth:`_failure`)."""
        self._failure(key, message)

    def _failure(self, key: bytes, message: str, field_name: bytes | None = None) -> None:
        """Count a document the index could not take (FT.INFO ``Index Errors``, and the
        field's ``field statistics`` when the field is known)."""
        self.stats.hash_indexing_failures += 1
        self.stats.last_indexing_error = message
        self.stats.last_indexing_error_key = key
        if field_name is not None:
            per_field = self.stats.field_failures.setdefault(field_name, FieldFailures())
            per_field.count += 1
            per_field.last_error = message
            per_field.last_key = key

    def keep_json_vectors(self, label: int, document: Mapping[bytes, FieldValue]) -> None:
        """Record ``label``'s vector blobs (ON JSON only; see :attr:`json_vectors`)."""
        if self.definition.on != "JSON":
            return
        for f in self.vector_fields:
            blob = document.get(f.name)
            held = self.json_vectors.setdefault(f.name, {})
            if blob is not None:
                held[label] = blob
            else:
                held.pop(label, None)

    def remove(self, key: bytes) -> None:
        label = self.key_to_label.pop(key, None)
        if label is None:
            return
        del self.label_to_key[label]
        self._indexed.pop(label, None)
        self._dormant[key] = label
        if len(self._dormant) > max(DORMANT_MIN, len(self.key_to_label) // 2):
            del self._dormant[next(iter(self._dormant))]  # the oldest

        for name, vindex in self.vectors.items():
            subs = self.subs.drop(name, label)
            if self._pending is not None:
                for held in (label, *subs):
                    self._pending[name].pop(held, None)
            for held in (label, *subs):
                vindex.remove(held)
        self.fields.remove(label)
        for kept in self.json_vectors.values():
            kept.pop(label, None)

    def defer_vectors(self) -> None:
        """Collect vector inserts until :meth:`flush_vectors` (module docstring)."""
        if self._pending is None:
            self._pending = {name: {} for name in self.vectors}

    def flush_vectors(self) -> None:
        """Insert the collected vectors, one batch per field; a no-op when not deferring."""
        pending, self._pending = self._pending, None
        for name, adds in (pending or {}).items():
            if not adds:
                continue
            vindex = self.vectors[name]
            labels = list(adds)
            try:
                rows = [adds[label] for label in labels]
                if isinstance(vindex, HnswIndex):  # the graph references the hashes' blobs
                    sources = [r.base if type(r.base) is bytes else None for r in rows]
                    vindex.add_batch(labels, np.stack(rows), sources=sources)
                else:
                    vindex.add_batch(labels, np.stack(rows))
            except ValueError:  # check() lets no bad vector through; keep the good ones anyway
                for label in labels:
                    try:
                        vindex.add(label, adds[label])
                    except ValueError as exc:
                        key = self.label_to_key.get(label)
                        if key is not None:
                            self._failure(key, str(exc), name)
                            self.remove(key)

    def clear(self) -> None:
        for key in list(self.key_to_label):
            self.remove(key)

    def backfill(self, items: Iterable[tuple[bytes, Any]]) -> None:
        for key, value in items:
            if self.covers(key):
                self.update(key, value)

    @property
    def num_docs(self) -> int:
        return len(self.key_to_label)

    def memory_bytes(self) -> int:
        return (
            sum(v.memory_bytes() for v in self.vectors.values())
            + self.fields.memory_bytes()
            + 120 * len(self.key_to_label)
            + sum(
                len(self.json_vectors.get(f.name, ())) * (f.vector.dim * 4 + 100)
                for f in self.vector_fields
                if f.vector is not None
            )
        )

    # -- search ---------------------------------------------------------------------------
    def vector_field(self, name: bytes) -> tuple[bytes, VectorIndex]:
        for f in self.vector_fields:
            if name in (f.name, f.alias):
                return f.name, self.vectors[f.name]
        raise QuerySyntaxError(
            f"Unknown field `{name.decode('utf-8', 'replace')}` at offset 0 near "
            f"`{name.decode('utf-8', 'replace')}`: it is not a VECTOR field of index '{self.name}'"
        )

    def plan_filter(
        self, parsed: ParsedQuery, lock: Any, ranges: RangeResults | None = None
    ) -> Any:
        """Evaluate the filter part under ``lock``; returns a label set or None (all).

        ``ranges`` holds the answers of the query's VECTOR_RANGE leaves (:meth:`ranges`).
        """
        if isinstance(parsed.filter, MatchAll):
            return None
        with lock:
            if ranges is not None and ranges.hits:
                labels = evaluate_ranges(
                    parsed.filter, self.fields, lambda: set(self.label_to_key), ranges
                )
                return None if labels is None else set(labels)  # memoised sets: a copy
            return self.fields.evaluate(parsed.filter)  # a fresh set already

    def ordered_filter(self, parsed: ParsedQuery, lock: Any) -> list[int] | None:
        """:meth:`plan_filter`'s labels in ascending order when the filter is one TAG value
        (:meth:`FieldIndexes.ordered`: no set built, none sorted); None for any other
        filter, which :meth:`plan_filter` then evaluates. Takes ``lock``."""
        with lock:
            return self.fields.ordered(parsed.filter)

    def ranges(
        self, node: FilterNode, data: dict[bytes, Any] | None = None, lock: Any = None
    ) -> RangeResults | None:
        """Run every VECTOR_RANGE leaf of ``node``; None if none. The engine lock is
        needed only with ``data`` and ``lock`` given: a FLOAT64 or FLOAT32 hash field's
        leaves are then decided and measured as RediSearch measures (:meth:`exact`)."""
        leaves = range_leaves(node)
        if not leaves:
            return None
        names = [leaf.yield_as for leaf, _ in leaves if leaf.yield_as is not None]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise QuerySyntaxError(
                    f"Property `{name.decode('utf-8', 'replace')}` specified more than once"
                )
        results = RangeResults()
        for leaf, negated in leaves:
            if leaf not in results.hits:
                hits = self.range(leaf)
                spec = self._exact_field(leaf.field)
                if spec is not None and data is not None and lock is not None:
                    exact = self.exact(spec, [label for label, _ in hits], leaf.vector,
                                       data, lock)  # fmt: skip
                    hits = [(label, d) for label, d in exact.items() if d <= leaf.radius]
                results.hits[leaf] = dict(hits)
            if leaf.yield_as is not None and not negated:
                results.yielding.append(leaf)
        return results

    def range(self, leaf: VectorRange) -> list[tuple[int, float]]:
        """``(label, distance)`` of the documents within the leaf's radius.

        A leaf naming no VECTOR field of this index matches nothing (RediSearch does the
        same). Errors are RediSearch's: a blob of the wrong size, ``$EPSILON`` on a FLAT
        field or not a positive number, a distance name that is a schema field.
        """
        if leaf.yield_as is not None and any(
            leaf.yield_as in (f.name, f.alias) for f in self.definition.fields
        ):
            raise QuerySyntaxError(
                f"Property `{leaf.yield_as.decode('utf-8', 'replace')}` already exists in schema"
            )
        found = [f for f in self.vector_fields if leaf.field in (f.name, f.alias)]
        if not found:
            return []
        vindex = self.vectors[found[0].name]
        epsilon = None
        if leaf.epsilon is not None:
            if vindex.kind != "HNSW":
                raise vector_params_error("Invalid option")
            epsilon = parse_float64(leaf.epsilon)
            if epsilon is None or not epsilon > 0:
                raise vector_params_error("Invalid value was given")
        query = self._query_vector(leaf.vector, vindex, found[0])
        radius = leaf.radius
        if self.stored_type(found[0]) == "FLOAT64":
            # a margin for FLOAT32 rounding: :meth:`ranges` decides in double precision
            radius += abs(radius) * 1e-5 + 1e-6
        hits = vindex.range(query, radius, epsilon=epsilon)
        return self.subs.collapse(hits) if self.subs.has(found[0].name) else hits

    def _query_vector(
        self, blob: bytes, vindex: VectorIndex, spec: FieldSpec
    ) -> npt.NDArray[np.float32]:
        """The query blob (values of the field's ``TYPE``) as FLOAT32."""
        assert spec.vector is not None
        size = spec.vector.blob_size
        if len(blob) != size:
            raise QuerySyntaxError(
                f"Error parsing vector similarity query: query vector blob size ({len(blob)}) "
                f"does not match index's expected size ({size})."
            )
        query = self._as_indexed(spec, decode(blob, spec.vector.type))
        if not all_finite(query):
            raise QuerySyntaxError(
                "Error parsing vector similarity query: the query vector holds NaN or "
                "infinite values; send finite FLOAT32 values"
            )
        return query

    def knn(
        self,
        knn: KnnClause,
        allowed: set[int] | None,
        data: dict[bytes, Any],
        lock: Any,
        *,
        distances_read: bool = True,
    ) -> tuple[list[tuple[int, float]], str]:
        """The KNN part. Takes ``lock`` only to read candidate vectors from ``data``.
        Distances of a FLOAT64 or FLOAT32 hash field are recomputed as RediSearch computes
        them (:meth:`exact`) and the hits ordered by them. A caller that will not read the
        distances (``distances_read=False``: NOCONTENT, or a RETURN without the distance)
        gets the index's own where they are too far apart for the recomputation to reorder
        them (:func:`order_is_certain`): the same hits in the same order, without the cost."""
        pairs, plan = self._knn(knn, allowed, data, lock)
        return self._reported(knn.field, knn.vector, pairs, data, lock, distances_read), plan

    def knn_target(self, knn: KnnClause) -> tuple[bytes, VectorIndex, FieldSpec] | None:
        """The VECTOR field ``knn`` searches: its name, vector index and spec; None when
        ``knn.field`` is not a VECTOR field of this index (then nothing matches, as in
        RediSearch). Raises RediSearch's errors: a distance name that is a schema field,
        an attribute the field's algorithm does not take."""
        if any(knn.score_alias in (f.name, f.alias) for f in self.definition.fields):
            raise QuerySyntaxError(
                f"Property `{knn.score_alias.decode('utf-8', 'replace')}` already exists in schema"
            )
        if not any(knn.field in (f.name, f.alias) for f in self.vector_fields):
            return None
        field_name, vindex = self.vector_field(knn.field)
        if vindex.kind != "HNSW" and (knn.ef_runtime is not None or knn.epsilon is not None):
            raise vector_params_error("Invalid option")
        if knn.epsilon is not None:
            raise vector_params_error("range query attributes were sent for a non-range query")
        return field_name, vindex, self._vector_spec(field_name)

    def nearest(
        self,
        field_name: bytes,
        field: bytes,
        blob: bytes,
        k: int,
        ef_runtime: int | None,
        data: dict[bytes, Any],
        lock: Any,
        *,
        distances_read: bool,
        walked: list[tuple[int, float]] | None = None,
    ) -> list[tuple[int, float]]:
        """``knn(KnnClause(k, field, blob, ef_runtime), None, data, lock,
        distances_read=distances_read)[0]`` for ``field`` (as a query names it) whose
        :meth:`knn_target` is the VECTOR field ``field_name``, and ``k`` > 0: the same hits
        in the same order, without the clause's checks (a kept plan made them;
        :mod:`store.commands.knn_plans`). A FLOAT32 field's blob goes to the vector index
        as it is (:meth:`VectorIndex.search_blob`), where the index can read it so.
        ``walked``: the pairs of the walk :meth:`nearest_later` queued for this search,
        when they number the hits it expected; they answer instead of a search now."""
        pairs = walked
        if pairs is None:
            vindex, spec = self.vectors[field_name], self._vector_spec(field_name)
            if self._reads_blob(field_name, spec):
                pairs = vindex.search_blob(blob, k, ef_runtime)
            if pairs is None:
                query = self._query_vector(blob, vindex, spec)
                pairs = self._search(field_name, vindex, query, k, ef_runtime, None)
        return self._reported(field, blob, pairs, data, lock, distances_read)

    def nearest_later(
        self,
        field_name: bytes,
        blob: bytes,
        k: int,
        ef_runtime: int | None,
        walker: Any,
        token: object,
    ) -> int | None:
        """The walk of :meth:`nearest` queued on ``walker``'s threads
        (:meth:`VectorIndex.search_blob_later`): the hits to expect, or None (nothing
        queued: the caller calls :meth:`nearest`). ``walker.take()`` gives back ``token``
        with the walk's pairs, which :meth:`nearest` takes as ``walked``."""
        if not self._reads_blob(field_name, self._vector_spec(field_name)):
            return None
        return self.vectors[field_name].search_blob_later(blob, k, ef_runtime, walker, token)

    def orders_blob_walks(self, field_name: bytes, field: bytes) -> bool:
        """Whether a kept plan's search of ``field`` (as a query names it; VECTOR field
        ``field_name``) may walk the query blob where it lies with its hits ordered by
        (distance, label), the reported distances recomputed where that order is not
        certain (``nearest(..., walked=...)``): a FLOAT32 field with one vector a
        document whose reported distances :meth:`exact` computes (docs/decisions/0045)."""
        return field in self._exact_fields and self._reads_blob(
            field_name, self._vector_spec(field_name)
        )

    def _reads_blob(self, field_name: bytes, spec: FieldSpec) -> bool:
        """Whether VECTOR field ``field_name``'s query blob goes to its vector index as it
        is: a FLOAT32 field with one vector a document."""
        assert spec.vector is not None  # a VECTOR field's
        return spec.vector.type == "FLOAT32" and not self.subs.has(field_name)

    def _vector_spec(self, field_name: bytes) -> FieldSpec:
        """The schema of VECTOR field ``field_name`` (its name, not an alias)."""
        return self._vector_specs[field_name]

    def _reported(
        self,
        field: bytes,
        blob: bytes,
        pairs: list[tuple[int, float]],
        data: dict[bytes, Any],
        lock: Any,
        distances_read: bool,
    ) -> list[tuple[int, float]]:
        """The hits of a search of ``field`` for ``blob`` with the distances and order
        :meth:`knn` reports (see there)."""
        exact_field = self._exact_fields.get(field)
        if exact_field is not None and pairs:
            spec, metric = exact_field
            assert spec.vector is not None
            ordered, certain = sorted_hits(pairs, metric, spec.vector.dim)
            if certain and not distances_read:
                return ordered
            exact = self.exact(spec, [label for label, _ in pairs], blob, data, lock)
            pairs = sorted(((label, exact.get(label, d)) for label, d in pairs),
                           key=_BY_DISTANCE_THEN_LABEL)  # fmt: skip
        return pairs

    def _exact_field(self, name: bytes) -> FieldSpec | None:
        """The vector field ``name`` whose reported distances :meth:`exact` computes: a
        FLOAT64 or FLOAT32 field of an ON HASH index, a ``TYPE FLOAT32`` one ON JSON; else
        None."""
        exact = self._exact_fields.get(name)
        return None if exact is None else exact[0]

    def _exact_field_of(self, f: FieldSpec) -> FieldSpec | None:
        """``f`` (a field with a vector spec) if :meth:`exact` computes its reported
        distances (see :meth:`_exact_field`)."""
        assert f.vector is not None
        if self.definition.on == "JSON":
            return f if f.vector.type == "FLOAT32" else None
        return f if self.stored_type(f) in ("FLOAT64", "FLOAT32") else None

    def exact(
        self, f: FieldSpec, labels: list[int], query: bytes, data: dict[bytes, Any], lock: Any
    ) -> dict[int, float]:
        """The distances RediSearch reports from ``labels``' vectors in field ``f`` to the
        ``query`` blob, computed from the documents' blobs: FLOAT64 in double precision
        (memvec's indexes hold FLOAT32: see :mod:`store.index.vector_types`), FLOAT32 with
        VecSim's order of additions (:mod:`store.index.vecsim_arith`: the index's own
        arithmetic differs in the last digits between HNSW and FLAT). ON JSON the vectors
        kept in :attr:`json_vectors` are read, and a document with several vectors gets its
        nearest one's distance, as RediSearch's multi-value indexes report. A label whose
        document no longer holds a vector of the right size is left out. Takes ``lock`` to
        read the documents."""
        assert f.vector is not None
        size = self.stored_size(f)
        found: list[int] = []
        blobs: list[bytes] = []
        with lock:
            if self.definition.on != "JSON":
                found, blobs = hash_blobs(labels, self.label_to_key, data, f.name, size)
            else:
                kept = self.json_vectors.get(f.name, {})
                for label in labels:
                    one = kept.get(label)
                    for blob in one if isinstance(one, tuple) else (one,):
                        if isinstance(blob, bytes) and len(blob) == size:
                            found.append(label)
                            blobs.append(blob)
        if not found:
            return {}
        if self.stored_type(f) == "FLOAT32":
            metric = Metric.parse(f.vector.distance_metric)
            dists32 = blob_distances(blobs, query, f.vector.dim, metric)
            nearest: dict[int, float] = {}
            for label, d in zip(found, dists32, strict=True):
                if label not in nearest or d < nearest[label]:
                    nearest[label] = d
            return nearest
        stored = np.frombuffer(b"".join(blobs), dtype="<f8").reshape(len(found), f.vector.dim)
        dists = float64_distances(
            stored, np.frombuffer(query, dtype="<f8"), f.vector.distance_metric
        )
        return dict(zip(found, dists.tolist(), strict=True))

    def _knn(
        self, knn: KnnClause, allowed: set[int] | None, data: dict[bytes, Any], lock: Any
    ) -> tuple[list[tuple[int, float]], str]:
        """The KNN part as the FLOAT32 indexes answer it.

        As RediSearch's: a distance name that is a schema field is refused; a field that
        is not a VECTOR field of the index matches nothing."""
        target = self.knn_target(knn)
        if target is None:
            return [], "empty"
        field_name, vindex, spec = target
        query = self._query_vector(knn.vector, vindex, spec)
        k = knn.k
        if k == 0:
            return [], "empty"
        if allowed is None:
            return self._search(field_name, vindex, query, k, knn.ef_runtime, None), "ann"
        # a FLAT field scans a small set's rows itself (FlatIndex.search)
        few = not isinstance(vindex, FlatIndex) and (
            len(allowed) <= BRUTE_FORCE_MAX
            or (
                len(allowed) <= BRUTE_FORCE_CEILING
                and len(allowed) / max(1, len(vindex)) < BRUTE_FORCE_FRACTION
            )
        )
        small = knn.hybrid_policy == b"ADHOC_BF" or (knn.hybrid_policy != b"BATCHES" and few)
        if not small:
            if isinstance(vindex, HnswIndex):
                found = self._batches(field_name, vindex, query, knn, allowed)
                if found is not None:
                    return found, "filtered-batches"
            # a FLAT field's small set: its rows alone (FlatIndex.scans_alone)
            alone = (
                isinstance(vindex, FlatIndex)
                and not self.subs.has(field_name)
                and vindex.scans_alone(allowed.__contains__)
            )
            return (
                self._search(field_name, vindex, query, k, knn.ef_runtime, allowed),
                "filtered-rows" if alone else "filtered-ann",
            )
        size = self.stored_size(spec)
        labels: list[int] = []
        blobs: list[bytes] = []
        with lock:
            if self.definition.on == "HASH":  # the hashes' own field: no document view
                # through the values this index last read (the hashes' own objects): one
                # lookup per label instead of three (store.index.hash_blobs)
                at = self._watched_at.get(field_name, -1)
                labels, blobs = hash_blobs(
                    allowed, self.label_to_key, data, field_name, size, self._indexed, at
                )
            else:
                self._json_subset(spec, allowed, data, labels, blobs)
        if not labels:
            return [], "exact-subset"
        # a hash holds one vector per field (each label of the set once); a JSON
        # multi-vector document holds several
        distinct = self.definition.on == "HASH" or len(set(labels)) == len(labels)
        if self.stored_type(spec) == "FLOAT32":
            # RediSearch's own arithmetic, as its brute force over a filtered subset ranks:
            # the hits' reported distances are these (exact), and no matrix is built
            blob_query, dim = query.astype("<f4").tobytes(), vindex.dim
            if distinct:  # only the k nearest are read: the rest are screened out cheaply
                positions, near = nearest_blob_distances(blobs, blob_query, dim, vindex.metric, k)
                labels = [labels[at] for at in positions]
            else:
                near = blob_distances(blobs, blob_query, dim, vindex.metric)
            dists = np.asarray(near, dtype=np.float32)
        else:
            matrix = decode(b"".join(blobs), self.stored_type(spec))
            matrix = matrix.reshape(len(labels), vindex.dim)
            first = matrix[0]  # one view: a fresh ``matrix[0]`` is never the same object
            if self._as_indexed(spec, first) is not first:  # rows rescaled one by one
                matrix = np.stack([self._as_indexed(spec, row) for row in matrix])
            dists = distances(prepare(matrix, vindex.metric), query, vindex.metric)
        if not distinct:  # multi-vector documents: each at its nearest
            return self.subs.collapse(zip(labels, dists.tolist(), strict=True))[:k], "exact-subset"
        return smallest_k(np.asarray(labels, dtype=np.int64), dists, k), "exact-subset"

    def _json_subset(
        self,
        spec: FieldSpec,
        allowed: set[int],
        data: dict[bytes, Any],
        labels: list[int],
        blobs: list[bytes],
    ) -> None:
        """Append the vector blobs of field ``spec`` of the ``allowed`` JSON documents to
        ``blobs``, each document's label to ``labels`` once per vector (a multi-value path
        holds several). Under the engine lock."""
        field_name, size = spec.name, self.stored_size(spec)
        kept = self.json_vectors.get(field_name, {})
        for label in allowed:
            if label in kept:
                held = kept[label]
                for blob in held if isinstance(held, tuple) else (held,):
                    labels.append(label)
                    blobs.append(blob)
                continue
            key = self.label_to_key.get(label)
            if key is None:  # no document: never the one stored at the empty key
                continue
            value = data.get(key)
            try:  # a JSON document: only the vector field is read
                doc = self.document(value, only=[spec])
            except DocumentRejected:
                continue
            vec = None if doc is None else doc.get(field_name)
            if isinstance(vec, bytes) and len(vec) == size:
                labels.append(label)
                blobs.append(vec)

    def _batches(
        self,
        field_name: bytes,
        vindex: HnswIndex,
        query: npt.NDArray[np.float32],
        knn: KnnClause,
        allowed: set[int],
    ) -> list[tuple[int, float]] | None:
        """A filtered KNN as plain walks the filter picks from
        (:func:`~store.index.hybrid_batches.filtered_batches`), by document; None when the
        walks found too few and the predicate walk must answer."""
        k = knn.k

        def search(size: int, ef: int) -> list[tuple[int, float]]:
            return vindex.search(query, size, ef_runtime=ef)

        if self.subs.has(field_name):  # hits are vectors: kept by document, then collapsed
            doc = self.subs.doc

            def keep(hits: list[tuple[int, float]]) -> list[tuple[int, float]]:
                return self.subs.collapse(hit for hit in hits if doc(hit[0]) in allowed)

        else:

            def keep(hits: list[tuple[int, float]]) -> list[tuple[int, float]]:
                return [hit for hit in hits if hit[0] in allowed]

        return filtered_batches(
            search,
            keep,
            k=k,
            vectors=len(vindex),
            passing=len(allowed),
            ef=vindex.search_ef(k, knn.ef_runtime),
            batch_size=knn.batch_size,
        )

    def _search(
        self,
        field_name: bytes,
        vindex: VectorIndex,
        query: npt.NDArray[np.float32],
        k: int,
        ef_runtime: int | None,
        allowed: set[int] | None,
    ) -> list[tuple[int, float]]:
        """The vector index's search, by document: with multi-vector documents in the
        field, a wider search until ``k`` distinct documents (or every vector) are seen."""
        if not self.subs.has(field_name):
            accept = None if allowed is None else allowed.__contains__
            return vindex.search(query, k, ef_runtime=ef_runtime, allowed=accept)
        doc = self.subs.doc

        def accept_doc(label: int) -> bool:
            return allowed is None or doc(label) in allowed

        want = k
        while True:
            hits = vindex.search(
                query, want, ef_runtime=ef_runtime, allowed=None if allowed is None else accept_doc
            )
            found = self.subs.collapse(hits)
            if len(found) >= k or len(hits) < want or want >= len(vindex):
                return found[:k]
            want *= 4

    def note_plan(self, query: bytes, plan: str) -> None:
        """Record the plan the KNN of FT.SEARCH ``query`` took: a ``filtered-rows`` text
        joins :attr:`alone_scans` (at most :data:`ALONE_SCANS_KEPT` texts, forgotten all
        at once past that; a text over :data:`ALONE_SCAN_TEXT_MAX` bytes is not kept), any
        other plan takes the text out."""
        kept = self.alone_scans
        if plan != "filtered-rows":
            kept.discard(query)
        elif len(query) <= ALONE_SCAN_TEXT_MAX and query not in kept:
            if len(kept) >= ALONE_SCANS_KEPT:
                kept.clear()
            kept.add(query)

    def count_plan(self, plan: str) -> None:
        with self.stats_lock:
            self.stats.number_of_uses += 1
            self.stats.plans[plan] = self.stats.plans.get(plan, 0) + 1

    # -- snapshot state -------------------------------------------------------------------
    def dump_state(self) -> dict[str, Any]:
        return {
            "definition": self.definition.to_args(),
            "key_to_label": self.key_to_label,
            "next_label": self.next_label,
            "sub_vectors": self.subs.state(),
        }
