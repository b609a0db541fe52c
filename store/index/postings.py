"""``LabelList``: the labels of one posting (a TAG value's or a TEXT term's documents), compact.

A Python ``set`` of ints costs 50-105 bytes per label once it is large (16-byte slots, at
most 60% full, grown fourfold below 50,000 entries), and an index holds one posting per
(term, document): ~18 per document for ~200 bytes of text and a tag, the largest share of
an indexed document's memory after its vector (docs/decisions/0008-index-writes-and-memory.md).
A ``LabelList`` keeps a sorted array of labels and two small delta sets. The array holds
4 bytes a label (``array('I')``) while every label fits in 32 bits, and turns into
``array('q')`` (8 bytes) the first time one does not: an index hands out labels one per
new document, so that takes four billion of them (decision 0041; ~70 bytes a document
less than 8 bytes a label).

* ``add`` of a label above every held one (labels are handed out in increasing order, so a
  new document's) appends to the array; any other add goes to ``added``;
* ``discard`` of a label in the array records it in ``removed`` (one in ``added`` just
  leaves it);
* when the deltas outgrow ``1/16`` of the array (at least ``MERGE_MIN``) they are merged
  into a new array: O(n) work every n/16 changes, O(1) amortized per change, and the
  deltas never hold more than ~1/16 of the labels (a few bytes per label).

Invariants: ``removed`` is a subset of the array, ``added`` is disjoint from it, so
``len`` is exact and membership is ``label in added or (in the array and not removed)``.
Iteration order is unspecified (the array's ascending labels, then ``added``).
"""

from __future__ import annotations

import operator
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterator

__all__ = ["MERGE_MIN", "NARROW_MAX", "LabelList"]

NARROW_MAX = 0xFFFF_FFFF
"""The largest label the 4-byte array holds (``array('I')``)."""

MERGE_MIN = 32
"""Deltas up to this size never trigger a merge (small postings stay cheap to change)."""


class LabelList:
    """A set of non-negative int labels stored compactly (module docstring)."""

    __slots__ = ("_added", "_base", "_removed")

    def __init__(self) -> None:
        self._base = array("I")
        self._added: set[int] | None = None
        self._removed: set[int] | None = None

    def add(self, label: int) -> None:
        base = self._base
        removed = self._removed
        if removed and label in removed:
            removed.discard(label)
            return
        if not base or label > base[-1]:
            if self._added is None or label not in self._added:
                if label > NARROW_MAX and base.typecode == "I":
                    base = self._base = array("q", base)
                base.append(label)
            return
        i = bisect_left(base, label)
        if i < len(base) and base[i] == label:
            return
        if self._added is None:
            self._added = set()
        self._added.add(label)
        self._maybe_merge()

    def discard(self, label: int) -> None:
        added = self._added
        if added and label in added:
            added.discard(label)
            return
        base = self._base
        i = bisect_left(base, label)
        if i < len(base) and base[i] == label:
            if i == len(base) - 1 and not self._removed:
                base.pop()  # the newest label: no delta needed
                return
            if self._removed is None:
                self._removed = set()
            self._removed.add(label)
            self._maybe_merge()

    def __contains__(self, label: object) -> bool:
        if not isinstance(label, int):
            try:  # a numpy integer, say
                label = operator.index(label)  # type: ignore[arg-type]
            except TypeError:
                return False
        if self._added and label in self._added:
            return True
        if self._removed and label in self._removed:
            return False
        base = self._base
        i = bisect_left(base, label)
        return i < len(base) and base[i] == label

    def __len__(self) -> int:
        return (
            len(self._base)
            + (len(self._added) if self._added else 0)
            - (len(self._removed) if self._removed else 0)
        )

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[int]:
        return iter(self.tolist())

    def tolist(self) -> list[int]:
        """Every label, as a list (the array's in ascending order, then the added ones)."""
        labels = self._base.tolist()
        if self._removed:
            removed = self._removed
            labels = [label for label in labels if label not in removed]
        if self._added:
            labels.extend(self._added)
        return labels

    def sorted_list(self) -> list[int]:
        """Every label in ascending order: the array's as they are, with the deltas merged
        in (no sort of the whole when nothing was added out of order)."""
        labels = self.tolist()
        if self._added:
            labels.sort()  # an ascending run then a few: timsort merges them in one pass
        return labels

    def memory_bytes(self) -> int:
        """Bytes held: the array and the delta sets."""
        return (
            sys.getsizeof(self._base)
            + (sys.getsizeof(self._added) if self._added is not None else 0)
            + (sys.getsizeof(self._removed) if self._removed is not None else 0)
        )

    def _maybe_merge(self) -> None:
        deltas = (len(self._added) if self._added else 0) + (
            len(self._removed) if self._removed else 0
        )
        if deltas <= max(MERGE_MIN, len(self._base) >> 4):
            return
        labels = sorted(self.tolist())
        self._base = array("I" if not labels or labels[-1] <= NARROW_MAX else "q", labels)
        self._added = None
        self._removed = None
