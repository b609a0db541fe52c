"""The C term counts (``store/index/token_counts_c.c``) equal the Python loop's.

``token_counts.python_term_counts`` (``tuple.count`` per label) is the reference. The C
module must count the same for tokens that are the term's own object, equal bytes objects
that are not, prefixes and extensions of the term, the empty GAP token, empty tuples,
labels without tokens, a value that is not a tuple, and items that are not bytes (compared
by ``==``, as ``tuple.count`` compares). The module must also have built: the suite runs
the compiled path, not the fallback.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from store.index import token_counts
from store.index.token_counts import python_term_counts, term_counts


def test_the_c_module_built() -> None:
    assert token_counts.token_counts_c is not None, (
        "store/index/token_counts_c.c did not build: install gcc and the Python headers "
        "(python3-dev), then reinstall memvec (pip install -e .)"
    )


class Equal:
    """Not bytes, equal to the term: tuple.count counts it."""

    def __init__(self, value: bytes) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return other == self.value

    def __hash__(self) -> int:
        return hash(self.value)


@pytest.mark.parametrize("seed", range(30))
def test_counts_equal_the_python_loop(seed: int) -> None:
    rng = random.Random(seed)
    term = rng.choice([b"fox", b"a", b"", b"\x00x" * 20])
    vocabulary = [term, bytes(term), term + b"s", term[:-1], b"other", b"", b"FOX"]
    tokens: dict[int, tuple[object, ...]] = {}
    for label in range(rng.randint(0, 300)):
        if rng.random() < 0.1:
            continue  # a label without tokens
        size = rng.choice([0, 1, 3, 11, 40])
        tokens[label] = tuple(
            bytes(bytearray(w)) if rng.random() < 0.3 else w  # equal, not the same object
            for w in (rng.choice(vocabulary) for _ in range(size))
        )
    labels = [rng.randrange(-5, 320) for _ in range(rng.randint(0, 400))]
    got = term_counts(tokens, labels, term)  # type: ignore[arg-type]
    want = python_term_counts(tokens, labels, term)  # type: ignore[arg-type]
    assert got.dtype == np.int64 and got.tolist() == want.tolist()


def test_items_that_are_not_bytes_and_values_that_are_not_tuples() -> None:
    tokens = {1: (b"x", Equal(b"x"), 7, None), 2: [b"x", b"x"], 3: (b"x",) * 1000}
    labels = [1, 2, 3, 4]
    got = term_counts(tokens, labels, b"x")  # type: ignore[arg-type]
    assert got.tolist() == python_term_counts(tokens, labels, b"x").tolist() == [2, 2, 1000, 0]  # type: ignore[arg-type]
    assert token_counts.token_counts_c is not None
    with pytest.raises(TypeError):
        token_counts.token_counts_c.term_counts(tokens, labels, bytearray(b"x"))  # type: ignore[arg-type]
