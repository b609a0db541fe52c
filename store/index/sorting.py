"""FT.SEARCH SORTBY over filter and text results, as RediSearch 2.10's sorter keeps them.

RediSearch reads matching documents in document-id order and keeps the best
``offset + num`` in a bounded heap ordered by the sort field (``RPSorter``):

* a document without the field ranks after every document with it, whichever the
  direction; two documents with equal values (or both without) rank by document id,
  lower first when ascending, higher first when descending;
* values compare as numbers when both read as numbers, else as bytes (memvec's reading of
  hash values, shared with the KNN path); SORTBY names a field by its alias (``AS``), and
  a SORTABLE TEXT or TAG field without UNF sorts by its case-folded value
  (:func:`hash_sort_value`);
* scores are computed as documents arrive, with the scorer's running minimum
  (:class:`~store.index.scoring.Scorer`): RediSearch raises it to the score of the
  heap's worst-sorted document once the heap is full, so a later document that sorts
  well but scores below that minimum shows score 0 under TFIDF, TFIDF.DOCNORM and BM25.

:func:`sort_by_field` reproduces that, returning the kept documents best first with their
scores. The heap holds ``offset + num`` entries, so memory stays bounded by the page.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from functools import cmp_to_key
from typing import Any

from .schema import FieldSpec, FieldType

_FOLDED = frozenset({FieldType.TEXT, FieldType.TAG})

__all__ = ["field_sort_key", "hash_sort_value", "sort_by_field", "sortable_fold"]


def sortable_fold(value: bytes) -> bytes:
    """A SORTABLE TEXT or TAG value as RediSearch's sorting vector keeps it without UNF:
    case folded (its ``normalizeStr``), so SORTBY ignores case and WITHSORTKEYS shows the
    folded text."""
    if value.isascii():
        return value.lower()
    return value.decode("utf-8", "surrogateescape").lower().encode("utf-8", "surrogateescape")


def hash_sort_value(
    spec: FieldSpec | None, doc: Mapping[bytes, bytes], name: bytes
) -> bytes | None:
    """What SORTBY ``name`` sorts a hash document by: the field ``spec`` (the schema field
    whose alias is ``name``, None when it names no field) read from its hash field, folded
    when SORTABLE TEXT/TAG without UNF (:func:`sortable_fold`); else ``doc[name]``."""
    if spec is None:
        return doc.get(name)
    raw = doc.get(spec.name)
    if raw is not None and spec.sortable and not spec.unf and spec.type in _FOLDED:
        return sortable_fold(raw)
    return raw


def field_sort_key(raw: bytes | None) -> tuple[int, float, bytes]:
    """How a hash value compares under SORTBY: numbers numerically, else bytewise."""
    if raw is None:
        return (1, 0.0, b"")
    try:
        return (0, float(raw), b"")
    except ValueError:
        return (0, 0.0, raw)


def sort_by_field(
    labels: Iterable[int],
    value_of: Callable[[int], bytes | None],
    doc_id_of: Callable[[int], int],
    ascending: bool,
    keep: int,
    score: Callable[[int, float], tuple[float, Any] | None] | None,
    deadline: Callable[[], bool] | None = None,
) -> list[tuple[int, tuple[float, Any] | None]]:
    """The best ``keep`` of ``labels`` (given in document-id order) by the sort field,
    best first, each with its score (None when ``score`` is None: scores not wanted).
    ``deadline``, polled every 256 documents, ends the walk early (TIMEOUT): the best of
    the documents seen so far are returned."""

    def better(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
        """> 0 when ``a`` sorts before ``b`` (RediSearch's cmpByFields)."""
        va, vb = a[0], b[0]
        if va is None or vb is None:
            if va is not None:
                return 1
            if vb is not None:
                return -1
        elif va != vb:
            rc = -1 if va < vb else 1
            return -rc if ascending else rc
        rc = -1 if a[1] < b[1] else 1
        return -rc if ascending else rc

    key = cmp_to_key(better)
    heap: list[Any] = []  # min-heap by ``better``: heap[0] is the worst kept
    min_score = 0.0
    if keep <= 0:
        return []
    for n, label in enumerate(labels):
        if deadline is not None and n % 256 == 255 and deadline():
            break
        raw = value_of(label)
        value = None if raw is None else field_sort_key(raw)[1:]
        scored = score(label, min_score) if score is not None else None
        if score is not None and scored is None:
            continue
        entry = (value, doc_id_of(label), label, scored)
        if len(heap) < keep:
            heapq.heappush(heap, key(entry))
            if scored is not None and scored[0] < min_score:
                min_score = scored[0]
            continue
        worst = heap[0].obj
        if worst[3] is not None and worst[3][0] > min_score:
            min_score = worst[3][0]
        if better(entry, worst) > 0:
            heapq.heapreplace(heap, key(entry))
    kept = sorted((k.obj for k in heap), key=key, reverse=True)
    return [(entry[2], entry[3]) for entry in kept]
