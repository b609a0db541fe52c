""":class:`store.index.postings.LabelList` behaves as a set of labels under any mix of adds
and discards (fresh labels, re-added old ones, merges), and stays compact."""

from __future__ import annotations

import random
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from store.index.postings import LabelList


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 120)), max_size=400))
def test_matches_a_set(ops: list[tuple[bool, int]]) -> None:
    held, want = LabelList(), set()
    for add, label in ops:
        if add:
            held.add(label)
            want.add(label)
        else:
            held.discard(label)
            want.discard(label)
        assert len(held) == len(want)
    assert sorted(held) == sorted(want)
    assert held.sorted_list() == sorted(want)  # ascending as held, deltas merged in
    assert all((label in held) == (label in want) for label in range(-1, 125))
    assert "x" not in held
    assert all((np.int64(label) in held) == (label in want) for label in range(0, 125, 7))


def test_churn_of_old_and_new_labels_stays_exact_and_compact() -> None:
    rng = random.Random(8)
    held, want = LabelList(), set()
    next_label = 0
    for _ in range(20_000):
        if rng.random() < 0.6 or not want:
            label = next_label if rng.random() < 0.7 else rng.randrange(next_label + 1)
            next_label += 1
            held.add(label)
            want.add(label)
        else:
            label = rng.choice(tuple(want)) if len(want) < 50 else next(iter(want))
            held.discard(label)
            want.discard(label)
    assert set(held.tolist()) == want and len(held) == len(want)
    assert held.sorted_list() == sorted(want)
    per_label = held.memory_bytes() / len(want)
    assert per_label < 20, per_label  # a set of ints holds 50-105 bytes per label
    assert held.memory_bytes() < sys.getsizeof(want)
