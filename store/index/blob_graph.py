"""``BlobGraph``: the part of ``hnswlib.Index``'s interface :class:`~store.index.hnsw.
HnswIndex` uses, over :mod:`store.index.hnsw_graph` (decision 0042, part 2).

The graph keeps no copy of a vector: each slot references a ``bytes`` object holding its
float32 values. Given a vector that is a view of such an object (``np.frombuffer`` of a
hash field's blob, what ``SearchIndex`` passes for a FLOAT32 field), or that object in
``sources``, the slot references the caller's object, so the document's vector is held
once; any other vector is copied into a ``bytes`` object the graph owns.

Differences from ``hnswlib.Index`` that ``HnswIndex`` relies on:

* :meth:`BlobGraph.search` instead of ``knn_query``: the query as the ``bytes`` of its
  float32 values (a FLOAT32 field's query blob is read where it lies), (label, distance)
  pairs, fewer than ``k`` when fewer were found (hnswlib raises), at the breadth given
  per call.

* ``get_items`` returns the values for IP and L2 and, for COSINE, the unit vector
  computed from them (hnswlib's stored copy, up to rounding); :meth:`BlobGraph.vector`
  the values exactly as given.
* ``save_index`` writes the graph and then every slot's values (a slot marked deleted
  keeps routing walks, so its values are kept too); ``load_index`` reads both back.
* ``relink(label, blob)`` points a slot at an equal ``bytes`` object (after a restore, the
  restored document's own blob).
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

try:
    from . import hnsw_graph
except ImportError:  # hnswlib's headers were not at hand at install: the wheel serves
    hnsw_graph = None  # type: ignore[assignment]

__all__ = ["AVAILABLE", "BlobGraph"]

AVAILABLE = hnsw_graph is not None
_METRICS = {"cosine": "COSINE", "ip": "IP", "l2": "L2"}
_U64 = struct.Struct("<Q")
_COPY_CHUNK = 1 << 20


def values_of(vector: npt.NDArray[np.float32], dim: int) -> bytes:
    """The ``bytes`` object holding ``vector``'s values: the one it views when it is a whole
    ``np.frombuffer`` of one (no copy), else a copy."""
    base = vector.base
    if (
        type(base) is bytes
        and len(base) == 4 * dim == vector.nbytes  # the whole object: it starts there too
        and vector.ndim == 1
        and vector.dtype == np.float32
        and vector.flags.c_contiguous
    ):
        return base
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


class BlobGraph:
    """``hnswlib.Index(space, dim)`` as far as ``HnswIndex`` uses it (see the module)."""

    def __init__(self, space: str, dim: int) -> None:
        if hnsw_graph is None:
            raise RuntimeError("store.index.hnsw_graph did not build")
        self.space = space
        self.dim = dim
        self._metric = _METRICS[space]
        self._graph: Any = None
        self._ef = 10

    def init_index(
        self,
        max_elements: int,
        M: int = 16,  # hnswlib's keyword
        ef_construction: int = 200,
        random_seed: int = 100,
        allow_replace_deleted: bool = False,
    ) -> None:
        assert hnsw_graph is not None
        self._graph = hnsw_graph.Graph(
            self.dim, self._metric, max_elements, M, ef_construction, random_seed
        )

    def set_ef(self, ef: int) -> None:
        self._ef = int(ef)

    def get_max_elements(self) -> int:
        return int(self._graph.max_elements)

    @property
    def element_count(self) -> int:
        return int(self._graph.element_count)

    @property
    def code_bytes(self) -> int:
        """Bytes of a slot's codes block, the int8 copy of its values the walk reads
        (decision 0046)."""
        return int(self._graph.code_bytes)

    def resize_index(self, max_elements: int) -> None:
        self._graph.resize(max_elements)

    def add_items(
        self,
        data: npt.NDArray[np.float32],
        ids: Sequence[int] | npt.NDArray[np.integer],
        num_threads: int = 1,
        replace_deleted: bool = False,
        sources: Sequence[bytes | None] | None = None,
    ) -> None:
        """``data`` one vector or a matrix, one row per id; ``sources[i]``, when given and
        not None, is a ``bytes`` object holding row ``i``'s values (referenced instead)."""
        labels = [int(label) for label in ids]
        rows = [data] if data.ndim == 1 else list(data)
        values = [values_of(row, self.dim) for row in rows]
        if sources is not None:
            for i, source in enumerate(sources):
                if type(source) is bytes and source == values[i]:
                    values[i] = source
        self._graph.add(labels, values, max(1, num_threads), replace_deleted)

    def mark_deleted(self, label: int) -> None:
        self._graph.mark_deleted(int(label))

    def unmark_deleted(self, label: int) -> None:
        self._graph.unmark_deleted(int(label))

    def get_ids_list(self) -> list[int]:
        return list(self._graph.ids())

    def get_items(self, ids: Sequence[int]) -> list[npt.NDArray[np.float32]]:
        """Each label's vector as hnswlib's ``get_items`` gives it: for COSINE the unit
        vector (what exact scans compare against), else the values (:meth:`vector`: the
        values exactly as given, without a copy)."""
        vector = self._graph.vector
        rows = [np.frombuffer(vector(int(label)), dtype=np.float32) for label in ids]
        if self._metric != "COSINE":
            return rows
        return [row / np.float32(np.sqrt(np.dot(row, row)) + 1e-30) for row in rows]

    def vector(self, label: int) -> bytes:
        """The ``bytes`` object holding ``label``'s values (no copy)."""
        blob: bytes = self._graph.vector(int(label))
        return blob

    def owned_bytes(self) -> int:
        """Bytes of the values only the graph references (see ``hnsw_graph``)."""
        return int(self._graph.owned_bytes())

    def relink(self, label: int, blob: bytes) -> bool:
        return bool(self._graph.relink(int(label), blob))

    def search(
        self,
        values: bytes,
        k: int,
        ef: int,
        allowed: Callable[[int], bool] | None = None,
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest (label, distance) to the query whose ``dim`` float32 values
        ``values`` holds, nearest first, walking at breadth ``max(ef, k)``: fewer when
        fewer are live or admitted."""
        found: list[tuple[int, float]] = self._graph.search(values, k, max(ef, k), allowed)
        return found

    @property
    def native(self) -> Any:
        """The ``hnsw_graph.Graph`` itself (None before :meth:`init_index`), for the C
        functions that walk it (``hnsw_graph.kept_ids_page``)."""
        return self._graph

    def walk_later(self, walker: Any, values: bytes, k: int, ef: int, token: object) -> None:
        """:meth:`search` without a filter, queued on ``walker`` (``hnsw_graph.Walker``):
        ``walker.take()`` gives ``token`` back with the pairs :meth:`search` would give
        (walked under the graph's own lock, against which every write waits)."""
        walker.submit(self._graph, values, k, max(ef, k), token)

    def save_index(self, path: str) -> None:
        """The graph (hnswlib's file), then ``u64`` slot count and each slot's values."""
        directory = os.path.dirname(os.path.abspath(path))
        fd, graph_path = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".")
        os.close(fd)
        try:
            self._graph.save(graph_path)
            values = self._graph.slot_values()
            with open(path, "wb") as out:
                out.write(_U64.pack(os.path.getsize(graph_path)))
                with open(graph_path, "rb") as graph:
                    while chunk := graph.read(_COPY_CHUNK):
                        out.write(chunk)
                out.write(_U64.pack(len(values)))
                for blob in values:
                    out.write(blob)
        finally:
            os.unlink(graph_path)

    def load_index(
        self, path: str, max_elements: int = 0, allow_replace_deleted: bool = False
    ) -> None:
        """Read what :meth:`save_index` wrote (``ValueError`` if it is not that)."""
        assert hnsw_graph is not None
        size = 4 * self.dim
        directory = os.path.dirname(os.path.abspath(path))
        fd, graph_path = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".")
        try:
            with open(path, "rb") as f, os.fdopen(fd, "wb") as graph:
                (length,) = _U64.unpack(_read(f, _U64.size, path))
                while length:
                    chunk = _read(f, min(length, _COPY_CHUNK), path)
                    graph.write(chunk)
                    length -= len(chunk)
                (count,) = _U64.unpack(_read(f, _U64.size, path))
                values = [_read(f, size, path) for _ in range(count)]
                if f.read(1):
                    raise ValueError(f"{path}: bytes after the last slot's values")
            if self._graph is None:
                self._graph = hnsw_graph.Graph(self.dim, self._metric, 1, 16, 200, 100)
            self._graph.load(graph_path, values, max_elements)
        finally:
            os.unlink(graph_path)


def _read(f: Any, size: int, path: str) -> bytes:
    data: bytes = f.read(size)
    if len(data) != size:
        raise ValueError(f"{path} is truncated; rebuild the index from the documents")
    return data
