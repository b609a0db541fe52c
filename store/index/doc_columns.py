"""``DocColumns``: each indexed document's scoring statistics, in columns read many at a time.

A text or tag query that matches thousands of documents ranks them by score, then by
document id, and a scorer reads only a document's length and maximum term frequency
(:mod:`store.index.scoring`). Read one label at a time, from a dict of per-label values,
that is a Python loop over every match: ~0.2 us per document for the statistics alone,
~20 ms of a 20k-document text search (``python -m bench.query_costs``).

Here the four numbers of a :class:`~store.index.fields.DocStats` (document id, length,
maximum frequency, vector count) live in one ``int64`` row of a numpy table. A label maps
to its row; a removed label's row is reused by the next label added, so the table holds
at most as many rows as documents were ever indexed *at once* (labels themselves only
grow, and a table indexed by label would grow with every delete and re-create). Reading
the rows of ``n`` labels is one C loop over the label map (:meth:`rows`, the module built
from ``doc_rows_c.c``) and numpy gathers after it.

Cost: a row is 32 bytes and the map's entry holds a row number, against the one packed
int per label this replaces: ~16 bytes more per document.

Not thread-safe: called under the engine lock, as every :class:`FieldIndexes` method.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

try:
    from . import doc_rows_c
except ImportError:  # no compiler where memvec was installed: the Python map answers
    doc_rows_c = None  # type: ignore[assignment]

__all__ = ["DOC_ID", "LENGTH", "MAX_FREQ", "VECTORS", "DocColumns"]

DOC_ID, LENGTH, MAX_FREQ, VECTORS = range(4)
"""The columns of :attr:`DocColumns.table`, in :class:`DocStats` order."""

_FIRST_CAPACITY = 64


class DocColumns:
    """Per label, four non-negative ints (a ``DocStats``), stored as rows of one table."""

    __slots__ = ("_free", "_row", "_size", "table")

    def __init__(self) -> None:
        self._row: dict[int, int] = {}
        self._free: list[int] = []
        self._size = 0  # rows handed out (in use or free)
        self.table = np.zeros((_FIRST_CAPACITY, 4), dtype=np.int64)
        """Row ``r`` holds the values of the label mapped to ``r``; other rows are junk."""

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, label: object) -> bool:
        return label in self._row

    def put(self, label: int, values: Sequence[int]) -> None:
        """Set ``label``'s four values (OverflowError if one does not fit in int64)."""
        row = self._row.get(label)
        if row is None:
            if self._free:
                row = self._free.pop()
            else:
                row = self._size
                if row == len(self.table):
                    grown = np.zeros((2 * len(self.table), 4), dtype=np.int64)
                    grown[:row] = self.table
                    self.table = grown
                self._size += 1
            self.table[row] = values  # before the map: a failed write leaves no entry
            self._row[label] = row
            return
        self.table[row] = values

    def get(self, label: int) -> list[int] | None:
        """``label``'s four values, or None if it has none."""
        row = self._row.get(label)
        return None if row is None else self.table[row].tolist()

    def pop(self, label: int) -> list[int] | None:
        """``label``'s four values, which it then no longer has; None if it had none."""
        row = self._row.pop(label, None)
        if row is None:
            return None
        self._free.append(row)
        return self.table[row].tolist()

    def rows(self, labels: Sequence[int]) -> np.ndarray:
        """The row of each of ``labels`` (an ``int64`` array, in order), -1 for a label
        without values: from the C module built from ``doc_rows_c.c`` when it built (~15 ns
        a label against ~38 for :meth:`python_rows`), else from :meth:`python_rows`."""
        if doc_rows_c is not None:
            return np.frombuffer(doc_rows_c.rows(self._row, labels), dtype=np.int64)
        return self.python_rows(labels)

    def python_rows(self, labels: Sequence[int]) -> np.ndarray:
        """:meth:`rows` in Python (the reference, and the path without the C module)."""
        return np.fromiter(
            map(self._row.get, labels, itertools.repeat(-1)), dtype=np.int64, count=len(labels)
        )
