"""``FlatIndex``: exact brute-force vector search, RediSearch's ``FLAT`` and the test oracle.

Vectors live in one float32 matrix whose first ``len(index)`` rows are occupied: removing a
label moves the last row into its slot, so churn never grows the matrix beyond the peak
count, and the matrix shrinks by half when it falls under a quarter full. Results are
deterministic: ordered by distance, then label.

The matrix is column-major (``order="F"``): a scan is one matrix-vector product, and
OpenBLAS's column-major kernel streams it ~1.8x faster than the row-major one (20k x 384,
one BLAS thread: 0.90 ms against 1.63 ms of CPU; docs/decisions/0009-knn-query-path.md).
Writing a row is then strided (one store per dimension), which adds are cheap enough to
pay. Concurrent unfiltered scans run back to back under one lock hold
(:mod:`store.index.scan_batch`), each its own matrix-vector product.

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
from typing import BinaryIO, Self

import numpy as np
import numpy.typing as npt

from store.files import atomic_write
from store.index.blas_threads import scan_threads
from store.index.rwlock import RWLock
from store.index.scan_batch import ScanBatcher
from store.index.vector import (
    Allowed,
    Hit,
    Metric,
    VectorIndex,
    check_label,
    check_vector,
    distances,
    prepare,
    smallest_k,
    within,
)

__all__ = ["FlatIndex"]

FORMAT_VERSION = 1
_DICT_ENTRY_BYTES = 100


class FlatIndex(VectorIndex):
    """Exact index over a growable float32 matrix; see the module docstring."""

    kind = "FLAT"

    def __init__(self, dim: int, metric: Metric, *, initial_cap: int = 1024) -> None:
        super().__init__(dim, metric)
        if initial_cap < 1:
            raise ValueError(f"initial_cap must be at least 1, got {initial_cap}")
        self._initial_cap = int(initial_cap)
        self._vectors = np.empty((self._initial_cap, self._dim), dtype=np.float32, order="F")
        self._row_labels = np.empty(self._initial_cap, dtype=np.int64)
        self._rows: dict[int, int] = {}
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
        if allowed is None and self._metric is not Metric.L2:
            hits: list[Hit] = self._batcher.run((query, k), self._scan)
            return hits
        with self._lock.read():
            n = len(self._rows)
            labels = self._row_labels[:n]
            if allowed is None:
                return smallest_k(labels, distances(self._vectors[:n], query, self._metric), k)
            keep = np.fromiter((allowed(int(label)) for label in labels), dtype=bool, count=n)
            rows = np.flatnonzero(keep)
            dists = distances(self._vectors[rows], query, self._metric)
            return smallest_k(labels[rows], dists, k)

    def _scan(self, items: list[tuple[npt.NDArray[np.float32], int]]) -> list[list[Hit]]:
        """The k nearest of every ``(query, k)`` (:mod:`store.index.scan_batch`), one
        matrix-vector product per query under one read-lock hold. COSINE and IP only.

        Not one matrix-matrix product for the batch: on the column-major matrix OpenBLAS
        packs the whole matrix for a product with 2-8 columns. At 100k x 384 on one core,
        2 queries took 46 ms and 8 took 56 ms, against 6.8 ms for each alone. Each query's
        arithmetic is then exactly a lone scan's (docs/decisions/0016)."""
        with self._lock.read():
            n = len(self._rows)
            labels = self._row_labels[:n]
            stored = self._vectors[:n]
            out = []
            for q, k in items:
                with scan_threads(self._product_floats(n)):
                    dists = distances(stored, q, self._metric)
                out.append(smallest_k(labels, dists, k))
            return out

    def range(
        self, query: npt.NDArray[np.float32], radius: float, *, epsilon: float | None = None
    ) -> list[Hit]:
        query = self._check_query(query, 0)
        with self._lock.read():
            n = len(self._rows)
            with scan_threads(self._product_floats(n)):
                dists = distances(self._vectors[:n], query, self._metric)
            return within(self._row_labels[:n], dists, radius)

    def _product_floats(self, rows: int) -> int:
        """Matrix elements a scan of ``rows`` rows multiplies (:func:`scan_threads`); 0
        for L2, whose distances are not a BLAS product."""
        return 0 if self._metric is Metric.L2 else rows * self._dim

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
            dists = distances(self._vectors[rows], query, self._metric)
            return smallest_k(self._row_labels[rows], dists, k)

    def get(self, label: int) -> npt.NDArray[np.float32] | None:
        with self._lock.read():
            row = self._rows.get(int(label))
            return None if row is None else self._vectors[row].copy()

    def labels(self) -> npt.NDArray[np.int64]:
        with self._lock.read():
            return np.sort(self._row_labels[: len(self._rows)])

    def memory_bytes(self) -> int:
        with self._lock.read():
            return (
                self._vectors.nbytes
                + self._row_labels.nbytes
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
        vectors = np.empty((capacity, self._dim), dtype=np.float32, order="F")
        vectors[:n] = self._vectors[:n]
        row_labels = np.empty(capacity, dtype=np.int64)
        row_labels[:n] = self._row_labels[:n]
        self._vectors, self._row_labels = vectors, row_labels
