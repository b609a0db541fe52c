"""The C row lookups of ``DocColumns`` (``store/index/doc_rows_c.c``) equal the Python map's.

``DocColumns.python_rows`` is the reference. The C module must give the same row for every
label, -1 for a label the columns do not hold, for any sequence of labels (list, tuple,
range, numpy integers), with rows freed and reused by ``pop`` and ``put``. A lookup error
propagates. The module must also have built: the suite runs the compiled path.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from store.index import doc_columns
from store.index.doc_columns import DocColumns


def test_the_c_module_built() -> None:
    assert doc_columns.doc_rows_c is not None, (
        "store/index/doc_rows_c.c did not build: install gcc and the Python headers "
        "(python3-dev), then reinstall memvec (pip install -e .)"
    )


@pytest.mark.parametrize("seed", range(10))
def test_c_equals_python_after_random_puts_and_pops(seed: int) -> None:
    rng = random.Random(seed)
    columns = DocColumns()
    for _ in range(rng.randrange(0, 3000)):
        label = rng.randrange(0, 800)
        if rng.random() < 0.3:
            columns.pop(label)
        else:
            columns.put(label, [rng.randrange(1 << 40), 1, 2, 3])
    labels = [rng.randrange(-10, 900) for _ in range(rng.randrange(0, 1500))]
    want = columns.python_rows(labels)
    for shaped in (labels, tuple(labels), np.asarray(labels, dtype=np.int64)):
        got = columns.rows(shaped)  # type: ignore[arg-type]
        assert got.dtype == np.int64 and got.tolist() == want.tolist()
    assert columns.rows(range(900)).tolist() == columns.python_rows(range(900)).tolist()
    assert ((want >= 0) == [label in columns for label in labels]).all()


def test_rows_read_the_table() -> None:
    columns = DocColumns()
    for label in (5, 9, 2):
        columns.put(label, [label * 10, label, 0, 1])
    rows = columns.rows([2, 7, 9, 5])
    assert rows[1] == -1
    assert rows.flags.writeable == columns.python_rows([2]).flags.writeable  # both writable
    assert columns.table[rows[[0, 2, 3]], 0].tolist() == [20, 90, 50]


def test_a_lookup_error_propagates() -> None:
    native = doc_columns.doc_rows_c
    assert native is not None
    unhashable: list[Any] = [1, [2]]
    with pytest.raises(TypeError):
        native.rows({1: 0}, unhashable)
    with pytest.raises(TypeError):
        native.rows({1: 0}, 5)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        native.rows({1: 1 << 64}, [1])
    with pytest.raises(TypeError):
        bad: dict[Any, Any] = {1: "x"}
        native.rows(bad, [1])


def test_a_label_whose_eq_empties_the_list_is_refused() -> None:
    native = doc_columns.doc_rows_c
    assert native is not None
    labels: list[Any] = []

    class Meddler:
        def __hash__(self) -> int:
            return hash(1)

        def __eq__(self, other: object) -> bool:
            labels.clear()
            return True

    labels.extend([Meddler(), 1, 2])
    with pytest.raises(RuntimeError, match="changed size"):
        native.rows({1: 0}, labels)
