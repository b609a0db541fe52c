"""The first ``k`` of many scored documents in RediSearch's order, with numpy.

RediSearch ranks search results by score, higher first, and breaks ties by the lower
document id (:func:`store.index.scoring.rank` is the reference, a Python sort of
``(-score, doc_id)`` pairs). For a query matching thousands of documents and a page of ten,
:func:`top_order` finds the same first ``k`` in O(n) numpy work: the ``k``-th best score
splits the documents into those certainly on the page (a better score), those certainly
off it (a worse one), and the tie at that score, of which the lowest document ids fill the
page; only the page is then sorted.

NaN scores have no place in that order (RediSearch's comparison treats NaN as equal to
everything): :func:`top_order` refuses them and the caller keeps the Python path.
"""

from __future__ import annotations

import numpy as np

__all__ = ["top_order"]


def top_order(scores: np.ndarray, doc_ids: np.ndarray, k: int | None) -> np.ndarray | None:
    """Positions into ``scores``/``doc_ids`` (float64 and int64 arrays of one length, doc
    ids distinct) of the first ``k`` (None: all) in rank order: score descending, then
    document id ascending. None if a score is NaN."""
    n = len(scores)
    if np.isnan(scores).any():
        return None
    negated = -scores  # -0.0 and 0.0 compare equal, as in the Python sort
    if k is None or k >= n:
        return np.lexsort((doc_ids, negated))
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    cut = np.partition(negated, k - 1)[k - 1]  # the k-th best score, negated
    better = np.flatnonzero(negated < cut)
    tied = np.flatnonzero(negated == cut)
    need = k - len(better)
    if need < len(tied):
        tied = tied[np.argpartition(doc_ids[tied], need - 1)[:need]]
    page = np.concatenate((better, tied))
    return page[np.lexsort((doc_ids[page], negated[page]))]
