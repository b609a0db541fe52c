"""``FlatIndex``: exact brute-force vector search, RediSearch's ``FLAT`` and the test oracle.

Vectors live in one float32 matrix whose first ``len(index)`` rows are occupied: removing a
label moves the last row into its slot, so churn never grows the matrix beyond the peak
count, and the matrix shrinks by half when it falls under a quarter full. Results are
deterministic: ordered by distance, then label.

The matrix is row-major. COSINE and IP distances are ``1 - dot`` from
:func:`store.index.flat_scan.dot_distances`, L2 distances the squared differences from
:func:`~store.index.flat_scan.l2_distances`, in one fixed order of additions: a
document's distance is the same bits from a KNN scan, a filtered one, a range or a list of
labels, alone or with other queries. Concurrent unfiltered scans share one pass over the
matrix (:mod:`store.index.scan_batch` gathers them; at 100k x 384, 8 queries in one pass
took 7.9 ms on 2 threads against 3.4-4.2 ms for one, docs/decisions/0034). Before 0034 the
matrix was column-major, for OpenBLAS's matrix-vector product (0009), which cannot share a
pass; before 0035 L2 distances came from numpy's differences, one query at a time
(27.6 ms a query at 100k x 384, against 5.7 for the pass on one core).

File format (:meth:`FlatIndex.save`): an uncompressed ``.npz`` archive (numpy's own format,
readable without pickle) holding

=========== ============== ===============================================
array       dtype, shape   meaning
=========== ============== ===============================================
``format``  int64, ()      format version, currently 1
``dim``     int64, ()      DIM
``metric``  str, ()        ``COSINE``, ``L2`` or ``IP``
``labels``  int64, (n,)    present labels, ascending
``vectors`` float32, (n,d) stored vectors (unit rows for COSINE), row i for labels[i]
=========== ============== ===============================================

Removed labels are simply absent, so loading restores deletions.
"""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Sequence
from typing import BinaryIO, Self, cast

import numpy as np
import numpy.typing as npt

from store.files import atomic_write
from store.index.flat_scan import dot_distances, l2_distances, scan_threads
from store.index.rwlock import RWLock
from store.index.scan_batch import ScanBatcher
from store.index.vector import (
    Allowed,
    Hit,
    Metric,
    VectorIndex,
    check_label,
    check_vector,
    prepare,
    smallest_k,
    within,
)

__all__ = ["FlatIndex"]

FORMAT_VERSION = 1
_DICT_ENTRY_BYTES = 100
SUBSET_SHARE = 5
"""A filter's set of labels under 1/SUBSET_SHARE of the index (20%) is scanned alone, its
rows read where they lie (:meth:`FlatIndex._subset`); a larger one joins the pass over the
whole matrix that concurrent queries share. At 100k x 384, 1 / 8 clients: a 10% set
scanned alone 320-361 / 335-354 QPS, in the pass 134 / 270; a 20% set 231 / 174 alone,
127-131 / 224-228 in the pass (docs/decisions/0036; 0035 had 5%)."""


class FlatIndex(VectorIndex):
    """Exact index over a growable float32 matrix; see the module docstring."""

    kind = "FLAT"

    def __init__(self, dim: int, metric: Metric, *, initial_cap: int = 1024) -> None:
        super().__init__(dim, metric)
        if initial_cap < 1:
            raise ValueError(f"initial_cap must be at least 1, got {initial_cap}")
        self._initial_cap = int(initial_cap)
        self._vectors = np.empty((self._initial_cap, self._dim), dtype=np.float32)
        self._row_labels = np.empty(self._initial_cap, dtype=np.int64)
        self._rows: dict[int, int] = {}
        self._touched = 0
        """Rows written since the arrays were allocated: the resident part of them (the
        rest of ``np.empty``'s capacity is address space no page backs yet)."""
        self._lock = RWLock()
        self._batcher = ScanBatcher()

    def add(self, label: int, vector: npt.NDArray[np.float32]) -> None:
        label = check_label(label)
        stored = prepare(check_vector(vector, self._dim), self._metric)
        with self._lock.write():
            self._put(label, stored)

    def add_batch(
        self, labels: Sequence[int] | npt.NDArray[np.integer], vectors: npt.NDArray[np.float32]
    ) -> None:
        checked = self._check_batch(labels, vectors)
        stored = prepare(vectors, self._metric)
        with self._lock.write():
            for label, row in checked.items():
                self._put(label, stored[row])

    def remove(self, label: int) -> bool:
        label = check_label(label)
        with self._lock.write():
            row = self._rows.pop(label, None)
            if row is None:
                return False
            last = len(self._rows)
            if row != last:
                moved = int(self._row_labels[last])
                self._vectors[row] = self._vectors[last]
                self._row_labels[row] = moved
                self._rows[moved] = row
            self._maybe_shrink()
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
        members = _label_set(allowed)
        if members is not None and self._alone(members):
            return self._subset(query, k, members)
        hits: list[Hit] | BaseException = self._batcher.run((query, k, allowed), self._scan)
        if isinstance(hits, BaseException):  # this query's filter raised, not the pass
            raise hits
        return hits

    def scans_alone(self, allowed: Allowed | None) -> bool:
        """Whether :meth:`search` with ``allowed`` scans the allowed rows alone (a set under
        1/:data:`SUBSET_SHARE` of the index) rather than the whole matrix."""
        members = _label_set(allowed)
        return members is not None and self._alone(members)

    def _alone(self, members: set[int] | frozenset[int]) -> bool:
        return len(members) * SUBSET_SHARE < len(self._rows)

    def _subset(
        self, query: npt.NDArray[np.float32], k: int, members: set[int] | frozenset[int]
    ) -> list[Hit]:
        """The k nearest among a small set of labels: their rows scanned where they lie by
        the same kernel (the same bits as the whole pass gives them), not the whole matrix."""
        with self._lock.read():
            n = len(self._rows)
            labels = self._row_labels[:n]
            rows = _allowed_rows(members.__contains__, labels)
            with scan_threads(len(rows) * self._dim) as threads:
                queries = prepare(query, self._metric)[None]
                dists = self._pass(self._vectors[:n], queries, threads, rows)[0]
            return smallest_k(labels[rows], dists, k)

    def _scan(
        self, items: list[tuple[npt.NDArray[np.float32], int, Allowed | None]]
    ) -> list[list[Hit] | BaseException]:
        """The k nearest of every ``(query, k, allowed)`` (:mod:`store.index.scan_batch`),
        from one pass over the whole matrix under one read-lock hold, filtered queries too:
        each query's distances are the bits a lone scan gives (:mod:`store.index.flat_scan`),
        and a filter only picks among them. A filter that raises is that query's result."""
        queries = np.stack([prepare(q, self._metric) for q, _, _ in items])
        with self._lock.read():
            n = len(self._rows)
            labels = self._row_labels[:n]
            with scan_threads(n * self._dim) as threads:
                dists = self._pass(self._vectors[:n], queries, threads)
            found: list[list[Hit] | BaseException] = []
            for i, (_, k, allowed) in enumerate(items):
                if allowed is None:
                    found.append(smallest_k(labels, dists[i], k))
                    continue
                try:
                    rows = _allowed_rows(allowed, labels)
                except Exception as exc:
                    found.append(exc)
                    continue
                found.append(smallest_k(labels[rows], dists[i][rows], k))
            return found

    def range(
        self, query: npt.NDArray[np.float32], radius: float, *, epsilon: float | None = None
    ) -> list[Hit]:
        query = self._check_query(query, 0)
        with self._lock.read():
            n = len(self._rows)
            return within(self._row_labels[:n], self._distances(self._vectors[:n], query), radius)

    def _distances(
        self, stored: npt.NDArray[np.float32], query: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """Distance from ``query`` (raw) to each row of ``stored``, from the pass
        (:meth:`_pass`), on every core for a large matrix."""
        with scan_threads(stored.size) as threads:
            return self._pass(stored, prepare(query, self._metric)[None], threads)[0]

    def _pass(
        self,
        stored: npt.NDArray[np.float32],
        queries: npt.NDArray[np.float32],
        threads: int,
        select: npt.NDArray[np.intp] | None = None,
    ) -> npt.NDArray[np.float32]:
        """Distances of each prepared query (rows of ``queries``) to each row of ``stored``
        (its ``select`` rows), in one pass: :func:`l2_distances` for L2,
        :func:`dot_distances` for COSINE and IP."""
        if self._metric is Metric.L2:
            return l2_distances(stored, queries, threads=threads, select=select)
        return dot_distances(stored, queries, threads=threads, select=select)

    def search_labels(
        self,
        query: npt.NDArray[np.float32],
        labels: Sequence[int] | npt.NDArray[np.integer],
        k: int,
    ) -> list[Hit]:
        query = self._check_query(query, k)
        with self._lock.read():
            rows = np.unique(
                np.fromiter(
                    (r for r in (self._rows.get(int(label)) for label in labels) if r is not None),
                    dtype=np.int64,
                )
            )
            dists = self._distances(self._vectors[rows], query)
            return smallest_k(self._row_labels[rows], dists, k)

    def get(self, label: int) -> npt.NDArray[np.float32] | None:
        with self._lock.read():
            row = self._rows.get(int(label))
            return None if row is None else self._vectors[row].copy()

    def labels(self) -> npt.NDArray[np.int64]:
        with self._lock.read():
            return np.sort(self._row_labels[: len(self._rows)])

    def memory_bytes(self) -> int:
        """The rows ever written since the arrays were allocated (their pages are resident;
        the capacity beyond them is not, so a doubling adds nothing until rows fill it) and
        the label map."""
        with self._lock.read():
            return (
                self._touched * (self._vectors.itemsize * self._dim + self._row_labels.itemsize)
                + sys.getsizeof(self._rows)
                + _DICT_ENTRY_BYTES * len(self._rows)
            )

    def save(self, path: str) -> None:
        with self._lock.read():
            n = len(self._rows)
            order = np.argsort(self._row_labels[:n], kind="stable")
            labels = self._row_labels[:n][order]
            vectors = self._vectors[:n][order]

        def write(f: BinaryIO) -> None:
            np.savez(
                f,
                format=np.int64(FORMAT_VERSION),
                dim=np.int64(self._dim),
                metric=np.array(self._metric.value),
                labels=labels,
                vectors=vectors,
            )

        atomic_write(path, write)

    @classmethod
    def load(cls, path: str) -> Self:
        try:
            with np.load(path, allow_pickle=False) as archive:
                version = int(archive["format"])
                if version != FORMAT_VERSION:
                    raise ValueError(
                        f"{path}: FLAT index format {version} is not supported (expected "
                        f"{FORMAT_VERSION}); rebuild the index from the documents"
                    )
                index = cls(int(archive["dim"]), Metric.parse(str(archive["metric"])))
                labels = archive["labels"]
                vectors = archive["vectors"]
        except (KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(
                f"{path} is not a FLAT index file ({exc}); rebuild the index from the documents"
            ) from exc
        if vectors.dtype != np.float32 or vectors.shape != (labels.shape[0], index.dim):
            raise ValueError(f"{path}: vectors do not match labels and DIM; rebuild the index")
        with index._lock.write():
            index._reserve(labels.shape[0])
            n = labels.shape[0]
            index._vectors[:n] = vectors
            index._row_labels[:n] = labels
            index._rows = {int(label): row for row, label in enumerate(labels)}
            index._touched = max(index._touched, n)
        return index

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, label: object) -> bool:
        return label in self._rows

    def _put(self, label: int, stored: npt.NDArray[np.float32]) -> None:
        row = self._rows.get(label)
        if row is None:
            row = len(self._rows)
            self._reserve(row + 1)
            self._row_labels[row] = label
            self._rows[label] = row
            self._touched = max(self._touched, row + 1)
        self._vectors[row] = stored

    def _reserve(self, count: int) -> None:
        capacity = self._vectors.shape[0]
        if count <= capacity:
            return
        while capacity < count:
            capacity *= 2
        self._resize(capacity)

    def _maybe_shrink(self) -> None:
        capacity = self._vectors.shape[0]
        if capacity > self._initial_cap and len(self._rows) < capacity // 4:
            self._resize(max(self._initial_cap, capacity // 2))

    def _resize(self, capacity: int) -> None:
        n = len(self._rows)
        vectors = np.empty((capacity, self._dim), dtype=np.float32)
        vectors[:n] = self._vectors[:n]
        row_labels = np.empty(capacity, dtype=np.int64)
        row_labels[:n] = self._row_labels[:n]
        self._vectors, self._row_labels = vectors, row_labels
        self._touched = n


def _label_set(allowed: Allowed | None) -> set[int] | frozenset[int] | None:
    """The set whose own ``__contains__`` ``allowed`` is (what ``SearchIndex`` passes for a
    tag or numeric filter), else None."""
    members = getattr(allowed, "__self__", None)
    if type(members) in (set, frozenset) and getattr(allowed, "__name__", "") == "__contains__":
        return cast("set[int] | frozenset[int]", members)  # exactly these: no override
    return None


def _allowed_rows(allowed: Allowed, labels: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """The rows whose label ``allowed`` accepts, ascending. A set's own ``__contains__``
    is read as the set (:func:`_label_set`), through a mask over the labels (~2 ms for
    50,000 of 100,000 labels, against ~16 for a call per label); any other predicate is
    called once per label."""
    members = _label_set(allowed)
    if members is not None:
        top = int(labels.max()) if len(labels) else -1
        try:
            wanted = np.fromiter(members, dtype=np.int64, count=len(members))
        except (TypeError, ValueError, OverflowError):  # not all ints: ask one by one
            pass
        else:
            mask = np.zeros(top + 1, dtype=bool)
            mask[wanted[(wanted >= 0) & (wanted <= top)]] = True
            return np.flatnonzero(mask[labels])
    keep = np.fromiter((allowed(int(label)) for label in labels), dtype=bool, count=len(labels))
    return np.flatnonzero(keep)
