"""``top_order`` picks the same page as the reference sort of ``(-score, doc_id)``."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from store.index.ranking import top_order


def reference(scores: list[float], doc_ids: list[int], k: int | None) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], doc_ids[i]))
    return order if k is None else order[:k]


@pytest.mark.parametrize("seed", range(40))
def test_pages_equal_the_reference_sort(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([1, 2, 7, 100, 2_000])
    # few distinct scores: long ties at the page's edge; signed zeros and infinities
    palette = [rng.choice([0.0, -0.0, 1.5, 2.0, 1e-300, math.inf, -math.inf])
               for _ in range(rng.randint(1, 5))]  # fmt: skip
    scores = [rng.choice(palette) if rng.random() < 0.8 else rng.random() for _ in range(n)]
    doc_ids = rng.sample(range(1, 10 * n + 1), n)
    for k in (None, 0, 1, 2, 10, n - 1, n, n + 5):
        got = top_order(np.array(scores, dtype=np.float64), np.array(doc_ids), k)
        assert got is not None
        assert got.tolist() == reference(scores, doc_ids, k), (k, scores, doc_ids)


def test_nan_scores_are_left_to_the_python_order() -> None:
    scores = np.array([1.0, float("nan"), 2.0])
    assert top_order(scores, np.array([1, 2, 3]), 2) is None
    assert top_order(np.zeros(0), np.zeros(0, dtype=np.int64), 10).tolist() == []
