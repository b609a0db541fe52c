""":class:`store.index.postings.LabelList` behaves as a set of labels under any mix of adds
and discards (fresh labels, re-added old ones, merges), and stays compact."""

from __future__ import annotations

import random
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from store.index.postings import NARROW_MAX, LabelList


def _applied(ops: list[tuple[bool, int]]) -> tuple[LabelList, set[int]]:
    """``ops`` (add?, label) on a LabelList and on a set, their lengths equal after each."""
    held, want = LabelList(), set()
    for add, label in ops:
        if add:
            held.add(label)
            want.add(label)
        else:
            held.discard(label)
            want.discard(label)
        assert len(held) == len(want)
    return held, want


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 120)), max_size=400))
def test_matches_a_set(ops: list[tuple[bool, int]]) -> None:
    held, want = _applied(ops)
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


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.one_of(st.integers(0, 50), st.integers(NARROW_MAX - 20, NARROW_MAX + 20)),
        ),
        max_size=300,
    )
)
def test_labels_past_32_bits_widen_the_array(ops: list[tuple[bool, int]]) -> None:
    """4 bytes a label until one needs more, by an append or by a merge; the set is the
    same either way."""
    held, want = _applied(ops)
    assert held.sorted_list() == sorted(want)
    assert all((label in held) == (label in want) for _, label in ops)
    assert held._base.typecode in ("I", "q")
    if held._base and held._base[-1] > NARROW_MAX:
        assert held._base.typecode == "q"


def test_ascending_labels_cost_four_bytes_each() -> None:
    held = LabelList()
    for label in range(100_000):
        held.add(label)
    assert held._base.typecode == "I" and held._base.itemsize == 4
    assert held.memory_bytes() < 4.5 * 100_000
    held.add(NARROW_MAX + 1)
    assert held._base.typecode == "q" and held.sorted_list()[-2:] == [99_999, NARROW_MAX + 1]
    for label in range(0, 100_000, 2):  # deltas enough for a merge: it keeps 8 bytes
        held.discard(label)
    assert held._base.typecode == "q" and held._base[-1] == NARROW_MAX + 1
    assert held.sorted_list() == [*range(1, 100_000, 2), NARROW_MAX + 1]
    held.discard(NARROW_MAX + 1)
    for label in range(1, 20_000, 2):  # the next merge narrows it back
        held.discard(label)
    assert held._base.typecode == "I" and held.sorted_list() == list(range(20_001, 100_000, 2))
