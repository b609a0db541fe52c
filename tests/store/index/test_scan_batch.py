"""ScanBatcher (store.index.scan_batch) and the batched FLAT scan it drives."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from store.index.flat import FlatIndex
from store.index.scan_batch import ScanBatcher
from store.index.vector import Metric


def _run_concurrently(fn, count: int) -> list[object]:
    out: list[object] = [None] * count

    def work(i: int) -> None:
        try:
            out[i] = fn(i)
        except Exception as exc:  # returned, so the test sees it
            out[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return out


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


@pytest.mark.parametrize("metric", [Metric.COSINE, Metric.IP])
def test_concurrent_flat_searches_find_what_each_finds_alone(metric: Metric) -> None:
    rng = np.random.default_rng(7)
    base = rng.standard_normal((3000, 32)).astype(np.float32)
    queries = rng.standard_normal((24, 32)).astype(np.float32)
    index = FlatIndex(32, metric)
    index.add_batch(np.arange(len(base)), base)
    alone = [index.search(q, 1 + i % 7) for i, q in enumerate(queries)]
    together = _run_concurrently(lambda i: index.search(queries[i], 1 + i % 7), len(queries))
    for solo, hits in zip(alone, together, strict=True):
        assert isinstance(hits, list)
        assert [label for label, _ in hits] == [label for label, _ in solo]
        np.testing.assert_allclose([d for _, d in hits], [d for _, d in solo], atol=1e-5)
