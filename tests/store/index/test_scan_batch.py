"""ScanBatcher (store.index.scan_batch) and the batched FLAT scan it drives."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from store.index.flat import FlatIndex
from store.index.flat_scan import reference_dot_distances
from store.index.scan_batch import ScanBatcher
from store.index.vector import Metric, prepare, smallest_k


def _run_concurrently(fn, count: int) -> list[object]:
    """``fn(i)`` for each ``i`` on its own thread, all released together (a barrier): on a
    loaded machine, threads started one by one reached the index one by one, each after
    the pass before had ended, and no two shared a pass (a flaky CI run)."""
    out: list[object] = [None] * count
    start = threading.Barrier(count)

    def work(i: int) -> None:
        try:
            start.wait(timeout=30)
            out[i] = fn(i)
        except Exception as exc:  # returned, so the test sees it
            out[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return out


def _count_passes(index: FlatIndex) -> list[int]:
    """Make each of ``index``'s passes 10 ms long (as a large index's: other queries
    arrive meanwhile) and record how many queries each held, in the returned list."""
    batches: list[int] = []
    scan = index._scan

    def counted(items: list[Any]) -> list[Any]:
        batches.append(len(items))
        time.sleep(0.01)
        return scan(items)

    index._scan = counted  # type: ignore[method-assign]
    return batches


def test_queries_arriving_during_a_scan_share_the_next_one() -> None:
    batcher = ScanBatcher()
    first_started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def scan(items: list[int]) -> list[int]:
        batches.append(list(items))
        if items == [0]:
            first_started.set()
            assert release.wait(10)
        return [i * 10 for i in items]

    leader = threading.Thread(target=lambda: batcher.run(0, scan))
    leader.start()
    assert first_started.wait(10)
    results: list[object] = []
    waiting = [
        threading.Thread(target=lambda i=i: results.append(batcher.run(i, scan)))
        for i in range(1, 6)
    ]
    for t in waiting:
        t.start()
    while batcher.queued < 5:
        threading.Event().wait(0.001)
    release.set()
    for t in [leader, *waiting]:
        t.join(10)
    assert batches[0] == [0]
    assert sorted(x for b in batches[1:] for x in b) == [1, 2, 3, 4, 5]
    assert len(batches) == 2  # the five queued queries were one scan
    assert sorted(results) == [10, 20, 30, 40, 50]  # type: ignore[type-var]


def test_a_failing_scan_fails_every_query_of_its_batch_and_the_batcher_recovers() -> None:
    batcher = ScanBatcher()

    def bad(items: list[int]) -> list[int]:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        batcher.run(1, bad)
    assert batcher.run(2, lambda items: [i + 1 for i in items]) == 3


@pytest.mark.parametrize("metric", [Metric.COSINE, Metric.IP, Metric.L2])
def test_concurrent_flat_searches_find_what_each_finds_alone(metric: Metric) -> None:
    rng = np.random.default_rng(7)
    base = rng.standard_normal((3000, 32)).astype(np.float32)
    queries = rng.standard_normal((24, 32)).astype(np.float32)
    index = FlatIndex(32, metric)
    index.add_batch(np.arange(len(base)), base)
    alone = [index.search(q, 1 + i % 7) for i, q in enumerate(queries)]
    batches = _count_passes(index)
    together = _run_concurrently(lambda i: index.search(queries[i], 1 + i % 7), len(queries))
    # one pass for several queries gives each the bits it gets alone (store.index.flat_scan)
    assert together == alone
    assert sum(batches) == len(queries)
    assert max(batches) > 1, f"no two queries shared a pass: {batches}"


def test_filtered_searches_share_the_pass_and_find_what_each_finds_alone() -> None:
    """A filter picks among the pass's distances: a set (read as a mask), a frozenset and
    any predicate give what the exact scan of the allowed rows gives, alone or batched.
    (The small sets, under 1/SUBSET_SHARE of the index, are scanned from their rows
    alone instead, with the same answers.)"""
    rng = np.random.default_rng(9)
    base = rng.standard_normal((2000, 16)).astype(np.float32)
    queries = rng.standard_normal((18, 16)).astype(np.float32)
    index = FlatIndex(16, Metric.COSINE)
    index.add_batch(np.arange(10, 2010), base)  # labels 10..2009
    index.remove(500)  # a hole: the row order is no longer the label order
    evens = {label for label in range(0, 3000, 2)}  # absent labels too: 0, 2010+
    filters: list[Any] = [
        evens.__contains__,
        frozenset(range(1000, 1600)).__contains__,
        lambda label: label % 3 == 0,
        {7, 500, 10**12}.__contains__,  # nothing present but 500 (removed): no hits
        {2009, 11}.__contains__,  # the highest label and the one moved into 500's row
        {"x", 12}.__contains__,  # not all ints: asked one label at a time
        None,
    ]

    def exact(query: Any, k: int, allowed: Any) -> list[Any]:
        stored = prepare(base, Metric.COSINE)
        dists = reference_dot_distances(stored, prepare(query, Metric.COSINE)[None])[0]
        labels = np.arange(10, 2010)
        keep = [
            i
            for i, label in enumerate(labels)
            if label != 500 and (allowed is None or allowed(int(label)))
        ]
        return smallest_k(labels[keep], dists[keep], k)

    def search(i: int) -> Any:
        return index.search(queries[i], 5, allowed=filters[i % len(filters)])

    want = [exact(q, 5, filters[i % len(filters)]) for i, q in enumerate(queries)]
    assert [search(i) for i in range(len(queries))] == want
    assert want[3] == [] and {label for label, _ in want[4]} == {11, 2009}
    assert len(want[5]) == 1  # only 12 of the set is a label
    batches = _count_passes(index)
    assert _run_concurrently(search, len(queries)) == want
    assert max(batches) > 1, f"no two queries shared a pass: {batches}"


def test_a_filter_that_raises_fails_its_own_query_only() -> None:
    rng = np.random.default_rng(2)
    index = FlatIndex(8, Metric.L2)
    index.add_batch(np.arange(50), rng.standard_normal((50, 8)).astype(np.float32))
    query = rng.standard_normal(8).astype(np.float32)

    def broken(label: int) -> bool:
        raise KeyError(label)

    results = index._scan([(query, 3, broken), (query, 3, None)])
    assert isinstance(results[0], KeyError)
    assert results[1] == index.search(query, 3)
    with pytest.raises(KeyError):
        index.search(query, 3, allowed=broken)
    assert len(index.search(query, 3)) == 3  # the index keeps serving
