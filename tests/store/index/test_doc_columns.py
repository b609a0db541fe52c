"""``DocColumns``: per-label statistics as table rows, rows reused after removals."""

from __future__ import annotations

import random

import numpy as np
import pytest

from store.index.doc_columns import DOC_ID, LENGTH, MAX_FREQ, VECTORS, DocColumns
from store.index.fields import DocStats


def test_values_round_trip_and_rows_read_in_order() -> None:
    cols = DocColumns()
    cols.put(7, (1, 20, 3, 1))
    cols.put(3, (2, 0, 0, 0))
    assert cols.get(7) == [1, 20, 3, 1] and cols.get(3) == [2, 0, 0, 0]
    assert cols.get(9) is None and 9 not in cols and 7 in cols and len(cols) == 2
    rows = cols.rows([3, 9, 7])
    assert rows.dtype == np.int64 and rows[1] == -1
    assert cols.table[rows[[0, 2]], DOC_ID].tolist() == [2, 1]
    cols.put(7, (5, 21, 4, 0))  # a rewrite keeps the row
    assert cols.rows([7])[0] == rows[2] and cols.get(7) == [5, 21, 4, 0]
    assert cols.pop(7) == [5, 21, 4, 0] and cols.pop(7) is None and 7 not in cols


def test_the_table_is_bounded_by_live_labels_not_by_labels_ever_used() -> None:
    # labels only grow (a re-created key takes a new one); the rows must not
    cols = DocColumns()
    rng = random.Random(3)
    live: dict[int, tuple[int, int, int, int]] = {}
    for label in range(50_000):
        values = (label + 1, rng.randrange(100), rng.randrange(10), rng.randrange(2))
        cols.put(label, values)
        live[label] = values
        if len(live) > 300:
            gone = rng.choice(list(live))
            assert cols.pop(gone) == list(live.pop(gone))
    assert len(cols.table) <= 512
    labels = list(live)
    rows = cols.rows(labels)
    assert (rows >= 0).all()
    assert cols.table[rows].tolist() == [list(live[label]) for label in labels]


def test_a_value_too_large_is_refused_and_leaves_no_entry() -> None:
    cols = DocColumns()
    with pytest.raises(OverflowError):
        cols.put(1, (1 << 64, 0, 0, 0))
    assert 1 not in cols and cols.get(1) is None and len(cols) == 0


def test_the_columns_follow_docstats() -> None:
    # FieldIndexes stores a DocStats as a row and rebuilds it with DocStats(*row)
    assert [DocStats._fields[c] for c in (DOC_ID, LENGTH, MAX_FREQ, VECTORS)] == [
        "doc_id", "length", "max_freq", "vectors"
    ]  # fmt: skip
    assert len(DocStats._fields) == 4
