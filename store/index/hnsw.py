"""``HnswIndex``: approximate vector search on hnswlib, RediSearch's ``HNSW``.

Why hnswlib: ``docs/decisions/0001-ann-engine.md``. The graph is hnswlib's, in one of two
forms: a :class:`~store.index.blob_graph.BlobGraph` (``store.index.hnsw_graph``, compiled
against hnswlib's headers at install) whose slots reference the vectors' ``bytes`` objects,
so a document's FLOAT32 vector is held once, by its hash (decision 0042); or, where that
module did not build or a snapshot of format 1 is loaded, hnswlib's own ``Index``, which
copies every vector. This module adds what hnswlib leaves to its caller:

* **Capacity** grows by doubling (``resize_index``) before an insert would overflow, so an
  insert never fails for lack of room. ``initial_cap`` is preallocated only up to
  ``PREALLOCATE_MAX`` slots: memory follows the vectors actually added (and so counts
  against maxmemory as they arrive), and an ``INITIAL_CAP 10000000`` costs nothing up front.
* **Churn** reuses slots: the graph is built with ``allow_replace_deleted``, a removal marks
  the element deleted, and an insert of a new label takes a deleted slot before a fresh one.
  The slot count therefore never exceeds the peak number of live labels. A slot reused
  that way costs ~4 fresh inserts (hnswlib repairs the old element's neighbourhood), so a
  removed label that comes back with the very vector its slot still holds is revived
  instead (:meth:`HnswIndex.revive`: its delete mark cleared, no graph work).
* **Labels**: hnswlib 0.8 corrupts its label table if a label whose slot is marked deleted is
  inserted with ``replace_deleted=True`` (the label can land in a second slot, and reusing
  the first later erases the live mapping). So a removed label that is added again is first
  revived in its own slot (``unmark_deleted``) and updated in place; only a label hnswlib no
  longer knows takes the replace path. The labels removed since (a superset of those still
  holding a slot) are tracked, so a fresh label never pays for a failed ``unmark_deleted``.
* **Parallel builds**: ``add_batch`` inserts with ``build_threads`` threads (hnswlib's own
  parallel insert; default: every core, up to 4) once a batch has ``PARALLEL_MIN_BATCH``
  vectors; smaller batches and ``add`` insert on the calling thread.
* **Concurrency**: hnswlib is not safe for a search running during an insert, and its
  ``ef`` is index-wide state. A :class:`~store.index.rwlock.RWLock` makes writes exclusive
  and lets searches run in parallel (hnswlib releases the GIL in ``knn_query``) with every
  other search that uses the same effective ``ef``; searches with another ``ef`` wait for
  those to finish.
* **Default breadth**: an index created without ``ef_runtime`` (``None``) searches at
  :func:`default_ef` ``(k, n)``, a breadth measured to keep recall@k >= 0.99 of exact
  search on real sentence embeddings as the index grows (``docs/decisions/
  0003-default-search-breadth.md``), instead of RediSearch's fixed 10 (recall@10 ~0.81 at
  10k such vectors). An explicit ``ef_runtime``, at construction or per search, is used
  exactly as given, as RediSearch does.
* **Short results**: hnswlib raises when it finds fewer than ``k`` elements (a selective
  ``allowed`` filter, or a graph split by deletions). The search then falls back to an exact
  scan of the allowed live labels, so a filter never silently loses results.
* **Range queries** (``VECTOR_RANGE``): hnswlib has no range walk. :meth:`HnswIndex.range`
  asks for the ``k`` nearest with ``k`` growing fourfold from 32 until the furthest one
  found lies beyond ``radius * (1 + epsilon)`` (RediSearch's ``EPSILON``, default 0.01,
  the factor by which its own range walk widens its boundary), then keeps those within
  ``radius``. A larger epsilon therefore searches further, as in RediSearch. Recall of the
  result set against exact search is tested on real MiniLM embeddings
  (``tests/store/test_range_query.py``, >= 0.99).
* **Vectors for exact scans** (``search_labels``, ``get``, the fallback above) come by
  default from the graph: a ``BlobGraph`` gives its ``bytes`` objects (a view, no copy);
  hnswlib's own ``get_items`` copies through Python lists, ~12-25 us per vector at DIM
  384 (1,000 candidates ~20-27 ms). ``keep_vectors=True`` keeps a side
  :class:`~store.index.flat.FlatIndex` instead: exact scans ~40x faster than through
  hnswlib's ``get_items`` (1,000 candidates ~0.6 ms) for ``4 * DIM`` more bytes per
  vector. Memory decides the default.

File format (:meth:`HnswIndex.save`), little-endian, one file so it can be published
atomically::

    offset        size      field
    0             6         magic b"MVHNSW"
    6             2         u16 format version (1 or 2, see the graph below)
    8             1         u8 metric: 0 COSINE, 1 L2, 2 IP
    9             3         zero padding
    12            4         u32 DIM
    16            4         u32 M
    20            4         u32 EF_CONSTRUCTION
    24            4         u32 EF_RUNTIME (the default of the index; 0: none was set, the
                            index searches at default_ef(k, n))
    28            8         u64 n, the number of live labels
    36            8*n       i64 live labels, ascending
    36+8n         8         u64 g, the length of the graph
    44+8n         g         the graph: format 1, exactly as hnswlib ``save_index`` writes
                            it (deleted elements keep their delete mark, so loading restores
                            deletions); format 2 (a ``BlobGraph``), u64 h, h bytes of
                            hnswlib's file of 16-byte records, u64 s, then every slot's
                            4*DIM bytes of values in slot order (a deleted slot's too: walks
                            still pass through it)
    44+8n+g       4         u32 CRC32C of every byte before it
"""

from __future__ import annotations

import math
import os
import struct
import sys
import tempfile
from collections.abc import Hashable, Sequence
from typing import Any, BinaryIO, Self

import crc32c
import hnswlib
import numpy as np
import numpy.typing as npt

from store.files import atomic_write
from store.index import blob_graph
from store.index.blob_graph import BlobGraph, values_of
from store.index.flat import FlatIndex
from store.index.rwlock import ANY_GROUP, RWLock
from store.index.vector import (
    DEFAULT_EPSILON,
    Allowed,
    Hit,
    Metric,
    VectorIndex,
    blob_finite,
    check_label,
    check_vector,
    distances,
    smallest_k,
)

__all__ = ["HnswIndex", "default_ef"]

MAGIC = b"MVHNSW"
FORMAT_VERSION = 1
"""Files whose graph is hnswlib's own (its wheel's ``save_index``)."""
BLOB_FORMAT_VERSION = 2
"""Files whose graph is a :class:`~store.index.blob_graph.BlobGraph`'s (graph, then every
slot's values)."""
HEADER = struct.Struct("<6sHB3xIIIIQ")
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_METRIC_CODES = {Metric.COSINE: 0, Metric.L2: 1, Metric.IP: 2}
_SPACES = {Metric.COSINE: "cosine", Metric.L2: "l2", Metric.IP: "ip"}
_COPY_CHUNK = 1 << 20
_SIDE_FILL_BATCH = 4096
DEFAULT_BUILD_THREADS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_MIN_BATCH = 8
PREALLOCATE_MAX = 1024
# default_ef's terms, fitted in docs/decisions/0003-default-search-breadth.md
DEFAULT_EF_BASE = 100
DEFAULT_EF_SIZE = 10_000
DEFAULT_EF_PER_DOUBLING = 40
DEFAULT_EF_PER_K = 2
# range(): the first k searched, its growth factor, and the share of the index at which an
# exact scan replaces the walk (hnswlib at k ~ n/4 costs more than scanning every vector)
RANGE_FIRST_K = 32
RANGE_GROWTH = 4
RANGE_EXACT_FRACTION = 0.25

# Sizes of hnswlib's C++ bookkeeping, for memory_bytes(): a std::mutex, an unordered_map
# node with its bucket, a Python int in the live set, hnswlib's 65536 label-op mutexes.
_MUTEX_BYTES = 40
_MAP_ENTRY_BYTES = 40
_PY_INT_BYTES = 32
_LABEL_OP_LOCKS_BYTES = 65536 * _MUTEX_BYTES


def default_ef(k: int, n: int) -> int:
    """The search breadth for ``k`` results among ``n`` vectors when nobody chose one.

    Measured, not guessed (``docs/decisions/0003-default-search-breadth.md``): on
    all-MiniLM-L6-v2 embeddings with M 16 and EF_CONSTRUCTION 200, the smallest breadth
    reaching recall@k >= 0.99 of exact search grows with the index (for k <= 10: ~100 at
    10k-20k vectors, ~150-200 at 50k-100k) and with ``k`` (k = 50: 150 at 10k, 300 at
    100k). ``100 + 40 * log2(n / 10k) + 2k`` (the size term never below 100) covers every
    measured case with some margin.
    """
    doublings = max(0.0, math.log2(max(n, 1) / DEFAULT_EF_SIZE))
    return math.ceil(DEFAULT_EF_BASE + DEFAULT_EF_PER_DOUBLING * doublings) + DEFAULT_EF_PER_K * k


class HnswIndex(VectorIndex):
    """Approximate index on an hnswlib graph; see the module docstring for the guarantees.

    ``m`` and ``ef_construction`` default to RediSearch's ``M`` and ``EF_CONSTRUCTION``.
    ``ef_runtime`` ``None`` (the default) means nobody chose a breadth: each search uses
    :func:`default_ef` for its ``k`` and the index's size; an int is used for every search
    that gives none, exactly as RediSearch's ``EF_RUNTIME``. Searches use ``query_threads``
    hnswlib threads (one: parallelism comes from concurrent searches) and ``add_batch``
    uses ``build_threads``. ``seed`` fixes hnswlib's level generator, so a single-threaded build
    of the same inserts gives the same graph. ``keep_vectors`` trades memory for fast exact
    scans (module docstring).
    """

    kind = "HNSW"

    def __init__(
        self,
        dim: int,
        metric: Metric,
        *,
        m: int = 16,
        ef_construction: int = 200,
        ef_runtime: int | None = None,
        initial_cap: int = 1024,
        query_threads: int = 1,
        build_threads: int = DEFAULT_BUILD_THREADS,
        seed: int = 100,
        keep_vectors: bool = False,
    ) -> None:
        super().__init__(dim, metric)
        if isinstance(initial_cap, bool) or not isinstance(initial_cap, int) or initial_cap < 1:
            raise ValueError(f"initial_cap must be an integer >= 1, got {initial_cap!r}")
        self._configure(
            m, ef_construction, ef_runtime, query_threads, build_threads, keep_vectors, initial_cap
        )
        self._index.init_index(
            max_elements=min(initial_cap, PREALLOCATE_MAX),
            M=m,
            ef_construction=ef_construction,
            random_seed=seed,
            allow_replace_deleted=True,
        )
        self._index.set_ef(ef_runtime or 10)

    def _configure(
        self,
        m: int,
        ef_construction: int,
        ef_runtime: int | None,
        query_threads: int,
        build_threads: int,
        keep_vectors: bool,
        initial_cap: int,
        blobs: bool = True,
    ) -> None:
        for name, value, low in (
            ("m", m, 2),
            ("ef_construction", ef_construction, 1),
            ("ef_runtime", 1 if ef_runtime is None else ef_runtime, 1),
            ("query_threads", query_threads, 1),
            ("build_threads", build_threads, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self._m = m
        self._ef_construction = ef_construction
        self._ef_runtime = ef_runtime
        self._query_threads = query_threads
        self._build_threads = build_threads
        self._index: Any = (
            BlobGraph(_SPACES[self._metric], self._dim)
            if blob_graph.AVAILABLE and blobs
            else hnswlib.Index(space=_SPACES[self._metric], dim=self._dim)
        )
        self._live: set[int] = set()
        self._removed: set[int] = set()
        self._side = (
            FlatIndex(self._dim, self._metric, initial_cap=min(initial_cap, PREALLOCATE_MAX))
            if keep_vectors
            else None
        )
        self._lock = RWLock(on_group_change=self._set_ef)

    @property
    def m(self) -> int:
        return self._m

    @property
    def ef_construction(self) -> int:
        return self._ef_construction

    @property
    def ef_runtime(self) -> int | None:
        """The breadth used when ``search`` is given none; ``None``: :func:`default_ef`."""
        return self._ef_runtime

    @ef_runtime.setter
    def ef_runtime(self, value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"ef_runtime must be an integer >= 1 or None, got {value!r}")
        self._ef_runtime = value

    def search_ef(self, k: int, ef_runtime: int | None = None) -> int:
        """The breadth a search for ``k`` results runs at: ``ef_runtime`` if given, else the
        index's ``ef_runtime``, else :func:`default_ef` at the current size. hnswlib
        itself never searches narrower than ``k``."""
        ef = self._ef_runtime if ef_runtime is None else ef_runtime
        if ef is None:
            return default_ef(k, len(self._live))
        if isinstance(ef, bool) or not isinstance(ef, int) or ef < 1:
            raise ValueError(f"ef_runtime must be an integer >= 1, got {ef!r}")
        return ef

    @property
    def keep_vectors(self) -> bool:
        """Whether a side float32 copy serves exact scans (see the module docstring)."""
        return self._side is not None

    @property
    def capacity(self) -> int:
        """Elements the graph has room for before it grows (hnswlib ``max_elements``)."""
        return int(self._index.get_max_elements())

    @property
    def slot_count(self) -> int:
        """Slots in use, live or marked deleted (hnswlib ``element_count``)."""
        return int(self._index.element_count)

    def add(self, label: int, vector: npt.NDArray[np.float32]) -> None:
        label = check_label(label)
        vector = check_vector(vector, self._dim)
        with self._lock.write():
            if label in self._live or self._revive(label):
                self._index.add_items(vector, [label], num_threads=1)
            else:
                self._reserve(1)
                self._index.add_items(vector, [label], num_threads=1, replace_deleted=True)
            self._live.add(label)
            if self._side is not None:
                self._side.add(label, vector)

    def add_batch(
        self,
        labels: Sequence[int] | npt.NDArray[np.integer],
        vectors: npt.NDArray[np.float32],
        *,
        sources: Sequence[bytes | None] | None = None,
    ) -> None:
        """:meth:`VectorIndex.add_batch`; ``sources[i]``, when given and not None, is a
        ``bytes`` object holding row ``i``'s float32 values (a document's blob), which the
        graph then references instead of copying the row (:mod:`store.index.blob_graph`;
        ignored by hnswlib's own graph)."""
        checked = self._check_batch(labels, vectors)
        blobs = isinstance(self._index, BlobGraph) and sources is not None
        with self._lock.write():
            in_place: list[int] = []
            fresh: list[int] = []
            for label in checked:
                (in_place if label in self._live or self._revive(label) else fresh).append(label)
            threads = self._build_threads if len(checked) >= PARALLEL_MIN_BATCH else 1
            for group, replace in ((in_place, False), (fresh, True)):
                if not group:
                    continue
                if replace:
                    self._reserve(len(group))
                rows = [checked[label] for label in group]
                extra = {"sources": [sources[row] for row in rows]} if blobs else {}  # type: ignore[index]
                self._index.add_items(
                    vectors[rows],
                    np.asarray(group, dtype=np.uint64),
                    num_threads=threads,
                    replace_deleted=replace,
                    **extra,
                )
                self._live.update(group)
            if self._side is not None:
                self._side.add_batch(labels, vectors)

    def revive(self, label: int, vector: npt.NDArray[np.float32]) -> bool:
        """Bring back a removed ``label`` whose deleted slot still holds exactly what
        ``add(label, vector)`` would store, by clearing its delete mark: no graph work (a
        re-insert into a deleted slot costs ~4 fresh inserts, an in-place update ~8).
        False, leaving the index as it was, if the slot is gone (hnswlib reused it) or
        holds other bytes; the caller then adds under a fresh label."""
        label = check_label(label)
        vector = check_vector(vector, self._dim)
        with self._lock.write():
            if label in self._live or not self._revive(label):
                return False
            if isinstance(self._index, BlobGraph):  # the values as given, no rounding
                same = self._index.vector(label) == values_of(vector, self._dim)
            else:
                stored = np.asarray(self._index.get_items([label])[0], dtype=np.float32)
                same = stored.tobytes() == self._as_stored(vector).tobytes()
            if not same:
                self._index.mark_deleted(label)
                self._removed.add(label)
                return False
            if isinstance(self._index, BlobGraph):  # the caller's blob, not the old one
                self._index.relink(label, values_of(vector, self._dim))
            self._live.add(label)
            if self._side is not None:
                self._side.add(label, vector)
            return True

    def relink(self, label: int, blob: bytes) -> bool:
        """Have ``label``'s slot reference ``blob`` (a document's FLOAT32 values, equal to
        what the slot holds) instead of its own copy: after a restore, so the vector is
        held once. False, changing nothing, if the bytes differ, the label is unknown, or
        the graph is hnswlib's own (which always holds a copy)."""
        if not isinstance(self._index, BlobGraph):
            return False
        with self._lock.write():
            return self._index.relink(label, blob)

    def _as_stored(self, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``vector`` as hnswlib stores it: for COSINE its own normalisation, float32
        products summed in order (``normalize_vector`` in its Python bindings), which
        numpy reproduces bit for bit with a sequential accumulate; as is otherwise."""
        if self._metric is not Metric.COSINE:
            return vector
        norm = np.add.accumulate(vector * vector, dtype=np.float32)[-1]
        scale = np.float32(1.0) / (np.sqrt(norm, dtype=np.float32) + np.float32(1e-30))
        return (vector * scale).astype(np.float32, copy=False)

    def remove(self, label: int) -> bool:
        label = check_label(label)
        with self._lock.write():
            if label not in self._live:
                return False
            self._index.mark_deleted(label)
            self._live.discard(label)
            self._removed.add(label)
            if len(self._removed) > 2 * (self.slot_count - len(self._live)) + 1024:
                # replaced slots left their old labels behind: keep the set bounded
                self._removed = set(self._index.get_ids_list()) - self._live
            if self._side is not None:
                self._side.remove(label)
            return True

    def search(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        *,
        ef_runtime: int | None = None,
        allowed: Allowed | None = None,
    ) -> list[Hit]:
        query = self._check_query(query, k)
        ef, want = self._acquire_walk(k, ef_runtime)
        try:
            if want == 0:
                return []
            graph = self._index
            if isinstance(graph, BlobGraph):  # its (label, distance) pairs, no arrays
                hits = graph.search(query.tobytes(), want, ef, allowed)
                if len(hits) == want:
                    return hits
            else:
                try:
                    found, dists = graph.knn_query(
                        query, k=want, num_threads=self._query_threads, filter=allowed
                    )
                    return list(zip(found[0].tolist(), dists[0].tolist(), strict=True))
                except RuntimeError:
                    pass
            # fewer than want found (a selective filter, a graph split by deletions)
            candidates = self._live if allowed is None else filter(allowed, self._live)
            return self._exact(query, list(candidates), k)
        finally:
            self._lock.release_read()

    def search_blob(self, blob: bytes, k: int, ef_runtime: int | None = None) -> list[Hit] | None:
        """:meth:`VectorIndex.search_blob`: the graph over the documents' blobs reads the
        query's bytes where they lie (the wheel's graph cannot: None). Also None when the
        walk finds fewer than ``k`` (of the live count), where :meth:`search` completes
        the answer with an exact scan."""
        graph = self._blob_reader(blob)
        if graph is None:
            return None
        self._check_k(k)
        ef, want = self._acquire_walk(k, ef_runtime)
        try:
            hits = graph.search(blob, want, ef) if want else []
        finally:
            self._lock.release_read()
        return hits if len(hits) == want else None

    def search_blob_later(
        self, blob: bytes, k: int, ef_runtime: int | None, walker: Any, token: object
    ) -> int | None:
        """:meth:`VectorIndex.search_blob_later`: the graph over the documents' blobs,
        walked on ``walker``'s thread under the graph's own lock (this index's read lock
        is not held: the graph's lock keeps every write out of the walk)."""
        graph = self._blob_reader(blob)
        if graph is None:
            return None
        self._check_k(k)
        want = min(k, len(self._live))
        if want == 0:
            return None
        graph.walk_later(walker, blob, want, self.search_ef(k, ef_runtime), token)
        return want

    def blob_walk(self, k: int, ef_runtime: int | None) -> tuple[Any, int, int] | None:
        """What a search of ``k`` at ``ef_runtime`` whose query blob the caller hands to
        the graph itself needs (``hnsw_graph.kept_ids_page``, decision 0045): the native
        graph over the documents' blobs, the hits to ask for (``k``, or fewer when fewer
        are live) and the breadth (at least that many), as :meth:`search_blob` walks. None
        when the graph is hnswlib's own or nothing is live. Such a walk holds the graph's
        own lock, as the walker's do (:meth:`search_blob_later`), not this index's."""
        graph = self._index
        if type(graph) is not BlobGraph or graph.native is None:
            return None
        self._check_k(k)
        want = min(k, len(self._live))
        if want == 0:
            return None
        return graph.native, want, max(self.search_ef(k, ef_runtime), want)

    def _blob_reader(self, blob: bytes) -> BlobGraph | None:
        """The graph, when it can read query ``blob`` where it lies: a graph over the
        documents' blobs, and a ``bytes`` object of ``dim`` finite float32 values."""
        graph = self._index
        if (
            type(graph) is not BlobGraph
            or type(blob) is not bytes
            or len(blob) != 4 * self._dim
            or not blob_finite(blob)
        ):
            return None
        return graph

    def _acquire_walk(self, k: int, ef_runtime: int | None) -> tuple[int, int]:
        """Take the read lock for a search of ``k`` at ``ef_runtime`` (its reader group
        is the breadth, hnswlib's ``set_ef``); the breadth and how many hits to ask for
        (``k``, or fewer when fewer are live). The caller releases the lock."""
        # len(self._live) is read outside the lock: a concurrent write moves n by a few,
        # which moves default_ef by nothing that matters
        ef = self.search_ef(k, ef_runtime)
        self._lock.acquire_read(max(ef, k))
        return ef, min(k, len(self._live))

    def range(
        self, query: npt.NDArray[np.float32], radius: float, *, epsilon: float | None = None
    ) -> list[Hit]:
        """Every label within ``radius`` of ``query``, approximately; see the module docstring.

        hnswlib has no range walk, so this searches for the ``k`` nearest with ``k`` growing
        (``RANGE_FIRST_K``, then times ``RANGE_GROWTH``) until the ``k``-th nearest found
        lies beyond ``radius * (1 + epsilon)``: the boundary RediSearch's own range walk
        stops at. Once ``k`` reaches ``RANGE_EXACT_FRACTION`` of the index an exact scan is
        cheaper than the graph and answers instead. Each walk runs at
        ``max(k, default_ef(k, n))``, never at the index's ``EF_RUNTIME`` (RediSearch's
        range queries ignore it too).
        """
        query = self._check_query(query, 0)
        boundary = radius * (1 + (DEFAULT_EPSILON if epsilon is None else epsilon))
        k = RANGE_FIRST_K
        while True:
            n = len(self._live)
            if n == 0:
                return []
            if k >= n * RANGE_EXACT_FRACTION:
                with self._lock.read(ANY_GROUP):
                    hits = self._exact(query, list(self._live), len(self._live))
                break
            hits = self.search(query, k, ef_runtime=max(k, default_ef(k, n)))
            if len(hits) < k or hits[-1][1] > boundary:
                break
            k *= RANGE_GROWTH
        return [hit for hit in hits if hit[1] <= radius]

    def search_labels(
        self,
        query: npt.NDArray[np.float32],
        labels: Sequence[int] | npt.NDArray[np.integer],
        k: int,
    ) -> list[Hit]:
        query = self._check_query(query, k)
        with self._lock.read(ANY_GROUP):
            return self._exact(query, labels, k)

    def get(self, label: int) -> npt.NDArray[np.float32] | None:
        with self._lock.read(ANY_GROUP):
            if label not in self._live:
                return None
            if self._side is not None:
                return self._side.get(label)
            return np.asarray(self._index.get_items([int(label)])[0], dtype=np.float32)

    def labels(self) -> npt.NDArray[np.int64]:
        with self._lock.read(ANY_GROUP):
            return np.sort(np.fromiter(self._live, dtype=np.int64, count=len(self._live)))

    def memory_bytes(self) -> int:
        """hnswlib's resident bytes and this wrapper's sets. hnswlib ``malloc``s the level-0
        records and upper-link pointers for its whole capacity but writes them one slot at a
        time, so only slots in use are resident; it constructs a mutex and a level for every
        slot of the capacity up front. (Counting the capacity's records as well read 5,949
        bytes a document at 70,000 vectors, just past a doubling, against an RSS of 4,419.)"""
        with self._lock.read(ANY_GROUP):
            capacity = self.capacity
            slots = self.slot_count
            live = len(self._live)
            side = 0 if self._side is None else self._side.memory_bytes()
            owned = self._index.owned_bytes() if isinstance(self._index, BlobGraph) else 0
        links0 = 2 * self._m * 4 + 4
        if isinstance(self._index, BlobGraph):
            # a 16-byte record, the slot's reference and its codes block (the walk's int8
            # copy, decision 0046); values the graph shares with a document are counted
            # with the document, those it alone holds here
            per_slot = links0 + 16 + 8 + 8 + 8 + 2 + self._index.code_bytes
        else:
            per_slot = links0 + 4 * self._dim + 8 + 8 + 2  # level-0 record, upper links
        upper_links = (self._m * 4 + 4) // (self._m - 1) if self._m > 1 else 0
        return (
            capacity * (_MUTEX_BYTES + 4)
            + slots * (per_slot + upper_links + _MAP_ENTRY_BYTES)
            + (slots - live) * _MAP_ENTRY_BYTES
            + _LABEL_OP_LOCKS_BYTES
            + sys.getsizeof(self._live)
            + live * _PY_INT_BYTES
            + sys.getsizeof(self._removed)
            + len(self._removed) * _PY_INT_BYTES
            + side
            + owned
        )

    def save(self, path: str) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        fd, graph_path = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".g.")
        os.close(fd)
        try:
            with self._lock.read(ANY_GROUP):
                self._index.save_index(graph_path)
                live = np.sort(np.fromiter(self._live, dtype=np.int64, count=len(self._live)))
            header = HEADER.pack(
                MAGIC,
                BLOB_FORMAT_VERSION if isinstance(self._index, BlobGraph) else FORMAT_VERSION,
                _METRIC_CODES[self._metric],
                self._dim,
                self._m,
                self._ef_construction,
                self._ef_runtime or 0,
                live.shape[0],
            )

            def write(f: BinaryIO) -> None:
                crc = _write_crc(f, header, 0)
                crc = _write_crc(f, live.astype("<i8").tobytes(), crc)
                crc = _write_crc(f, _U64.pack(os.path.getsize(graph_path)), crc)
                with open(graph_path, "rb") as graph:
                    while chunk := graph.read(_COPY_CHUNK):
                        crc = _write_crc(f, chunk, crc)
                f.write(_U32.pack(crc))

            atomic_write(path, write)
        finally:
            os.unlink(graph_path)

    @classmethod
    def load(
        cls,
        path: str,
        *,
        query_threads: int = 1,
        build_threads: int = DEFAULT_BUILD_THREADS,
        keep_vectors: bool = False,
    ) -> Self:
        """Read an index written by :meth:`save`; the graph is loaded, not rebuilt.

        With ``keep_vectors`` the side copy is refilled from the graph's vectors (a few
        seconds per 100k). Raises ``ValueError`` if the file is not such an index or is
        damaged.
        """
        directory = os.path.dirname(os.path.abspath(path))
        fd, graph_path = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".g.")
        try:
            with open(path, "rb") as f, os.fdopen(fd, "wb") as graph:
                raw = _read_exact(f, HEADER.size, path)
                magic, version, code, dim, m, ef_c, ef_r, n = HEADER.unpack(raw)
                if magic != MAGIC:
                    raise ValueError(f"{path} is not an HNSW index file (bad magic {magic!r})")
                if version not in (FORMAT_VERSION, BLOB_FORMAT_VERSION):
                    raise ValueError(
                        f"{path}: HNSW index format {version} is not supported (expected "
                        f"{FORMAT_VERSION} or {BLOB_FORMAT_VERSION}); rebuild the index from "
                        "the documents"
                    )
                if version == BLOB_FORMAT_VERSION and not blob_graph.AVAILABLE:
                    raise ValueError(
                        f"{path}: this graph needs store.index.hnsw_graph, which did not build "
                        "here (reinstall memvec with a C++ compiler and network access to "
                        "PyPI); or rebuild the index from the documents"
                    )
                metric = {c: mt for mt, c in _METRIC_CODES.items()}.get(code)
                if metric is None:
                    raise ValueError(f"{path}: unknown metric code {code}; the file is damaged")
                crc = crc32c.crc32c(raw)
                if 8 * n > os.fstat(f.fileno()).st_size:
                    raise ValueError(f"{path} is truncated; rebuild the index from the documents")
                raw = _read_exact(f, 8 * n, path)
                crc = crc32c.crc32c(raw, crc)
                live = np.frombuffer(raw, dtype="<i8")
                raw = _read_exact(f, _U64.size, path)
                crc = crc32c.crc32c(raw, crc)
                (remaining,) = _U64.unpack(raw)
                while remaining:
                    chunk = _read_exact(f, min(remaining, _COPY_CHUNK), path)
                    crc = crc32c.crc32c(chunk, crc)
                    graph.write(chunk)
                    remaining -= len(chunk)
                (stored_crc,) = _U32.unpack(_read_exact(f, _U32.size, path))
                if stored_crc != crc:
                    raise ValueError(
                        f"{path}: checksum mismatch (file damaged); rebuild the index from the "
                        "documents or restore an older snapshot"
                    )
            index = cls.__new__(cls)
            VectorIndex.__init__(index, dim, metric)
            index._configure(
                m,
                ef_c,
                ef_r or None,
                query_threads,
                build_threads,
                keep_vectors,
                max(1, int(n)),
                blobs=version == BLOB_FORMAT_VERSION,
            )
            index._index.load_index(graph_path, max_elements=0, allow_replace_deleted=True)
            index._index.set_ef(ef_r or 10)
            index._live = set(live.tolist())
            index._removed = set(index._index.get_ids_list()) - index._live
        finally:
            os.unlink(graph_path)
        if index.slot_count < len(index._live):
            raise ValueError(f"{path}: more live labels than graph elements; the file is damaged")
        if index._side is not None:
            for start in range(0, live.shape[0], _SIDE_FILL_BATCH):
                part = live[start : start + _SIDE_FILL_BATCH]
                vecs = np.asarray(index._index.get_items(part.tolist()), dtype=np.float32)
                index._side.add_batch(part, vecs)
        return index

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, label: object) -> bool:
        return label in self._live

    def _set_ef(self, ef: Hashable) -> None:
        assert isinstance(ef, int)
        self._index.set_ef(ef)

    def _revive(self, label: int) -> bool:
        """Unmark ``label``'s deleted slot if hnswlib still has one (caller holds write)."""
        if label not in self._removed:
            return False
        self._removed.discard(label)
        try:
            self._index.unmark_deleted(label)
        except RuntimeError:
            return False
        return True

    def _reserve(self, fresh: int) -> None:
        """Grow so ``fresh`` new labels fit, counting deleted slots as room (holds write)."""
        vacant = self.slot_count - len(self._live)
        needed = self.slot_count + max(0, fresh - vacant)
        capacity = self.capacity
        if needed <= capacity:
            return
        capacity = max(capacity, 16)  # a graph loaded empty reports 0: doubling 0 never ends
        while capacity < needed:
            capacity *= 2
        self._index.resize_index(capacity)

    def _exact(
        self,
        query: npt.NDArray[np.float32],
        labels: Sequence[int] | npt.NDArray[np.integer],
        k: int,
    ) -> list[Hit]:
        """Exact top ``k`` among the live ones of ``labels`` (caller holds the lock)."""
        if self._side is not None:
            return self._side.search_labels(query, labels, k)
        live = self._live
        present = np.unique(
            np.fromiter((label for label in labels if label in live), dtype=np.int64)
        )
        if present.shape[0] == 0 or k == 0:
            return []
        stored = np.asarray(self._index.get_items(present.tolist()), dtype=np.float32)
        return smallest_k(present, distances(stored, query, self._metric), k)


def _write_crc(f: BinaryIO, data: bytes, crc: int) -> int:
    f.write(data)
    return int(crc32c.crc32c(data, crc))


def _read_exact(f: BinaryIO, size: int, path: str) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise ValueError(f"{path} is truncated; rebuild the index from the documents")
    return data
