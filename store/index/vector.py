"""The vector index interface every VECTOR field of an FT index is stored behind.

One :class:`VectorIndex` holds the vectors of one VECTOR field, keyed by *labels*: non-negative
ints the engine assigns to documents (the index never sees keys). Two implementations keep
the same contract and are tested by one suite:

* :class:`store.index.flat.FlatIndex`: exact brute force, the test oracle and RediSearch's
  ``FLAT``;
* :class:`store.index.hnsw.HnswIndex`: approximate, on hnswlib (see
  ``docs/decisions/0001-ann-engine.md``), RediSearch's ``HNSW``.

Distances are reported exactly as RediSearch reports them (:class:`Metric`): ``COSINE`` is
``1 - cosine similarity``, ``L2`` the *squared* Euclidean distance, ``IP`` ``1 - dot``.
For ``COSINE`` an index stores the unit-normalised vector (a zero vector stays zero, at
distance 1 from everything); keeping the raw vector is the caller's business.

Vectors and queries are 1-D ``float32`` arrays of length ``dim``; anything else raises
``ValueError`` with a message that says what was expected. Non-finite components are refused
too, because one NaN poisons every distance computed against it.

Thread safety: every implementation is safe for any mix of concurrent calls from threads;
searches run in parallel with each other, writes are exclusive.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

try:
    from . import vecsim_c as _vecsim_c
except ImportError:  # the C module did not build (no compiler at install): numpy
    _vecsim_c = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_EPSILON",
    "MAX_DIM",
    "Allowed",
    "Hit",
    "Metric",
    "VectorIndex",
    "all_finite",
    "blob_finite",
    "check_dim",
    "check_label",
    "check_vector",
    "distances",
    "prepare",
    "smallest_k",
    "within",
]

DEFAULT_EPSILON = 0.01
"""RediSearch's default ``EPSILON`` for HNSW range queries (``HNSW_DEFAULT_EPSILON``)."""

MAX_DIM = 32768
"""Largest ``DIM`` accepted (RediSearch's limit)."""

Hit = tuple[int, float]
"""One search result: ``(label, distance)``."""

Allowed = Callable[[int], bool]
"""A filter predicate over labels; it must be cheap and must not raise."""

_NORM_EPS = 1e-30
_L2_CHUNK_ROWS = 8192


class Metric(enum.Enum):
    """A ``DISTANCE_METRIC``; the value is the RediSearch spelling."""

    COSINE = "COSINE"
    L2 = "L2"
    IP = "IP"

    @classmethod
    def parse(cls, name: str) -> Metric:
        """The metric spelled ``name`` (any case); ``ValueError`` lists the valid names.
        RediSearch's own spelling is a dict lookup (a KNN query asks on every search)."""
        found = _METRIC_BY_NAME.get(name)
        if found is not None:
            return found
        try:
            return cls(name.upper())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown distance metric {name!r}: use one of {valid}") from None


_METRIC_BY_NAME = {metric.value: metric for metric in Metric}


def check_dim(dim: int) -> int:
    """``dim`` if it is a valid ``DIM`` (1..32768), else ``ValueError``."""
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or not 1 <= dim <= MAX_DIM:
        raise ValueError(f"vector dimension must be an integer in 1..{MAX_DIM}, got {dim!r}")
    return int(dim)


def check_label(label: int) -> int:
    """``label`` as an int if it is a valid label (0 <= label < 2**63), else ``ValueError``."""
    if isinstance(label, bool) or not isinstance(label, int | np.integer):
        raise ValueError(f"a label must be a non-negative integer, got {label!r}")
    value = int(label)
    if not 0 <= value < 2**63:
        raise ValueError(f"a label must be in 0..2**63-1, got {value}")
    return value


def all_finite(values: npt.NDArray[np.floating]) -> bool:
    """``bool(np.isfinite(values).all())``: a contiguous float32 array is read by the C
    twin (``all_finite`` in ``store/index/vecsim_c.c``, ~0.15 us for 384 values against
    numpy's ~1 us, which every query vector pays), anything else by numpy."""
    if _vecsim_c is not None and values.dtype == np.float32 and values.flags.c_contiguous:
        return _vecsim_c.all_finite(values)
    return bool(np.isfinite(values).all())


def blob_finite(blob: bytes) -> bool:
    """:func:`all_finite` of the native float32 values in ``blob`` (its length a multiple of
    4), read where they lie."""
    if _vecsim_c is not None:
        return _vecsim_c.all_finite(blob)
    return bool(np.isfinite(np.frombuffer(blob, dtype=np.float32)).all())


def check_vector(vector: object, dim: int, what: str = "vector") -> npt.NDArray[np.float32]:
    """``vector`` if it is a finite 1-D float32 array of length ``dim``, else ``ValueError``."""
    if not isinstance(vector, np.ndarray):
        raise ValueError(
            f"{what} must be a numpy float32 array of length {dim}, got {type(vector).__name__}"
        )
    if vector.dtype != np.float32:
        raise ValueError(
            f"{what} must have dtype float32, got {vector.dtype}: convert it with "
            "numpy.asarray(v, dtype=numpy.float32) or decode blobs as '<f4'"
        )
    if vector.shape != (dim,):
        raise ValueError(
            f"{what} must have shape ({dim},) for this index (DIM {dim}), got {vector.shape}"
        )
    if not all_finite(vector):
        raise ValueError(f"{what} has NaN or infinite components; only finite values index")
    return vector


def prepare(vectors: npt.NDArray[np.float32], metric: Metric) -> npt.NDArray[np.float32]:
    """What an index stores for ``vectors`` (1-D or 2-D): unit rows for COSINE, else as is."""
    if metric is not Metric.COSINE:
        return vectors
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / (norms + np.float32(_NORM_EPS))).astype(np.float32, copy=False)


def distances(
    stored: npt.NDArray[np.float32], query: npt.NDArray[np.float32], metric: Metric
) -> npt.NDArray[np.float32]:
    """Distance from ``query`` to each row of ``stored`` (rows as :func:`prepare` made them).

    ``query`` is raw: it is normalised here for COSINE. L2 is computed from differences,
    not from the ``|x|² - 2x·q + |q|²`` expansion, so that it never goes negative and stays
    exact enough to serve as the oracle.
    """
    if metric is Metric.L2:
        out = np.empty(stored.shape[0], dtype=np.float32)
        for start in range(0, stored.shape[0], _L2_CHUNK_ROWS):
            diff = stored[start : start + _L2_CHUNK_ROWS] - query
            out[start : start + diff.shape[0]] = np.einsum("ij,ij->i", diff, diff)
        return out
    q = prepare(query, metric)
    return (np.float32(1.0) - stored @ q).astype(np.float32, copy=False)


def within(
    labels: npt.NDArray[np.int64], dists: npt.NDArray[np.float32], radius: float
) -> list[Hit]:
    """The ``(label, distance)`` pairs with ``distance <= radius``, by distance then label."""
    keep = np.flatnonzero(dists <= radius)
    labels, dists = labels[keep], dists[keep]
    order = np.lexsort((labels, dists))
    return [(int(labels[i]), float(dists[i])) for i in order]


def smallest_k(labels: npt.NDArray[np.int64], dists: npt.NDArray[np.float32], k: int) -> list[Hit]:
    """The ``k`` smallest ``(label, distance)`` pairs ordered by distance, then label."""
    n = dists.shape[0]
    if k <= 0 or n == 0:
        return []
    if k < n:
        kth = np.partition(dists, k - 1)[k - 1]
        keep = np.flatnonzero(dists <= kth)
        labels, dists = labels[keep], dists[keep]
    order = np.lexsort((labels, dists))[:k]
    return [(int(labels[i]), float(dists[i])) for i in order]


class VectorIndex(abc.ABC):
    """The vectors of one VECTOR field, searchable by distance; see the module docstring.

    Implementations must be safe for concurrent use from threads. ``search`` and
    ``search_labels`` never return a removed label, and return at most ``k`` hits in
    ascending distance.
    """

    kind: ClassVar[str]
    """The RediSearch algorithm name: ``"FLAT"`` or ``"HNSW"``."""

    def __init__(self, dim: int, metric: Metric) -> None:
        self._dim = check_dim(dim)
        if not isinstance(metric, Metric):
            raise ValueError(f"metric must be a Metric, got {metric!r}")
        self._metric = metric

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def metric(self) -> Metric:
        return self._metric

    @abc.abstractmethod
    def add(self, label: int, vector: npt.NDArray[np.float32]) -> None:
        """Insert ``vector`` under ``label``, replacing the label's vector if it has one.

        Never fails for lack of capacity: the index grows. Raises ``ValueError`` for a bad
        label or vector, leaving the index unchanged.
        """

    def add_batch(
        self, labels: Sequence[int] | npt.NDArray[np.integer], vectors: npt.NDArray[np.float32]
    ) -> None:
        """``add`` each ``(labels[i], vectors[i])``; a repeated label keeps its last vector.

        All rows are validated before any is added. Implementations may build in parallel.
        """
        checked = self._check_batch(labels, vectors)
        for label, row in checked.items():
            self.add(label, vectors[row])

    def revive(self, label: int, vector: npt.NDArray[np.float32]) -> bool:
        """Bring back a removed ``label`` cheaply if the index still holds exactly this
        vector for it; False (nothing changed) when it cannot, and the caller adds the
        vector under a fresh label. The default never can."""
        return False

    @abc.abstractmethod
    def remove(self, label: int) -> bool:
        """Forget ``label``; ``True`` if it was present."""

    @abc.abstractmethod
    def search(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        *,
        ef_runtime: int | None = None,
        allowed: Allowed | None = None,
    ) -> list[Hit]:
        """The (approximate, for HNSW) ``k`` nearest labels to ``query``.

        ``ef_runtime`` overrides the index's default search breadth for this call (ignored
        by FLAT). ``allowed``, when given, restricts results to labels it accepts; it is
        called from the searching thread and must not raise.
        """

    def search_blob(self, blob: bytes, k: int, ef_runtime: int | None = None) -> list[Hit] | None:
        """:meth:`search` without a filter for a query given as the bytes of ``dim`` native
        float32 values (a FLOAT32 field's query blob), where the index can read them as
        they are: the same hits, without decoding the query. None, with nothing changed,
        where it cannot (this default; a blob of another size or holding NaN or infinite
        values; an answer only an exact scan completes): the caller then decodes the query
        and calls :meth:`search`, which answers or raises as for any query."""
        return None

    def search_blob_later(
        self, blob: bytes, k: int, ef_runtime: int | None, walker: Any, token: object
    ) -> int | None:
        """:meth:`search_blob` walked on ``walker``'s thread (``hnsw_graph.Walker``,
        docs/decisions/0044): the walk is queued and ``token`` comes back from
        ``walker.take()`` with its (label, distance) pairs, which equal
        :meth:`search_blob`'s when they number what this returns (the hits to expect; fewer
        found: the caller answers with :meth:`search_blob` or :meth:`search` instead). None,
        with nothing queued, where :meth:`search_blob` would give None, or no walk is needed
        (k or the live count 0): the caller searches now. This default: always None."""
        return None

    @abc.abstractmethod
    def range(
        self, query: npt.NDArray[np.float32], radius: float, *, epsilon: float | None = None
    ) -> list[Hit]:
        """Every label within ``radius`` of ``query`` (distance ``<= radius``), by distance.

        Exact for FLAT (``epsilon`` ignored). Approximate for HNSW: ``epsilon`` (default
        :data:`DEFAULT_EPSILON`) widens the search boundary to ``radius * (1 + epsilon)``,
        as RediSearch's range walk does; see :meth:`store.index.hnsw.HnswIndex.range`.
        """

    @abc.abstractmethod
    def search_labels(
        self,
        query: npt.NDArray[np.float32],
        labels: Sequence[int] | npt.NDArray[np.integer],
        k: int,
    ) -> list[Hit]:
        """The exact ``k`` nearest among ``labels``; labels not in the index are ignored.

        Ordered by distance, then label. Meant for a filter that selects few documents.
        """

    @abc.abstractmethod
    def get(self, label: int) -> npt.NDArray[np.float32] | None:
        """A copy of the stored vector (unit-normalised for COSINE), or ``None``."""

    @abc.abstractmethod
    def labels(self) -> npt.NDArray[np.int64]:
        """Every present label, ascending."""

    @abc.abstractmethod
    def memory_bytes(self) -> int:
        """An estimate of the memory the index holds, in bytes."""

    @abc.abstractmethod
    def save(self, path: str) -> None:
        """Write the index to ``path`` atomically (tmp file, fsync, rename, fsync dir)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, path: str) -> Self:
        """Read an index written by :meth:`save`, removed labels staying removed."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def __contains__(self, label: object) -> bool: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} dim={self._dim} metric={self._metric.value} n={len(self)}>"

    def _check_query(self, query: object, k: int) -> npt.NDArray[np.float32]:
        self._check_k(k)
        return check_vector(query, self._dim, "query vector")

    @staticmethod
    def _check_k(k: object) -> None:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")

    def _check_batch(
        self, labels: Sequence[int] | npt.NDArray[np.integer], vectors: npt.NDArray[np.float32]
    ) -> dict[int, int]:
        """``{label: row}`` for a valid batch, the last row winning for a repeated label."""
        if not isinstance(vectors, np.ndarray) or vectors.dtype != np.float32:
            raise ValueError("vectors must be a float32 numpy array of shape (n, dim)")
        if vectors.ndim != 2 or vectors.shape[1] != self._dim or vectors.shape[0] != len(labels):
            raise ValueError(
                f"vectors must have shape ({len(labels)}, {self._dim}) to match the labels "
                f"and DIM, got {vectors.shape}"
            )
        if not all_finite(vectors):
            raise ValueError("vectors have NaN or infinite components; only finite values index")
        return {check_label(label): row for row, label in enumerate(labels)}
