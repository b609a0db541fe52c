"""How often one term occurs in each of many documents' token tuples.

A one-term text query scores every matching document by the term's frequency, the count
of the term in the document's stored tokens (:meth:`FieldIndexes.term_frequencies`,
:mod:`store.index.scoring`). :func:`term_counts` gives those counts for a whole page of
labels at once: from the C module built from ``token_counts_c.c`` when it built (one pass,
tokens compared without a call each), else from the Python loop here, which it equals
(``tests/store/index/test_token_counts_c.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from operator import methodcaller

import numpy as np
import numpy.typing as npt

try:
    from . import token_counts_c
except ImportError:  # no compiler where memvec was installed: the Python loop answers
    token_counts_c = None  # type: ignore[assignment]

__all__ = ["python_term_counts", "term_counts"]


def term_counts(
    tokens: Mapping[int, tuple[bytes, ...]], labels: Sequence[int], term: bytes
) -> npt.NDArray[np.int64]:
    """``tokens.get(label, ()).count(term)`` for each of ``labels``, in order."""
    if (
        token_counts_c is not None
        and type(tokens) is dict
        and type(labels) is list
        and type(term) is bytes
    ):
        return np.frombuffer(token_counts_c.term_counts(tokens, labels, term), dtype=np.int64)
    return python_term_counts(tokens, labels, term)


def python_term_counts(
    tokens: Mapping[int, tuple[bytes, ...]], labels: Sequence[int], term: bytes
) -> npt.NDArray[np.int64]:
    """:func:`term_counts` in Python (the reference, and the path without the C module)."""
    count = methodcaller("count", term)
    return np.fromiter(
        map(count, map(tokens.get, labels, repeat(()))), dtype=np.int64, count=len(labels)
    )
