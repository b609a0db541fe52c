"""ScanBatcher (store.index.scan_batch) and the batched FLAT scan it drives."""

from __future__ import annotations

import threading
import time
from typing import Any

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


@pytest.mark.parametrize("metric", [Metric.COSINE, Metric.IP, Metric.L2])
def test_concurrent_flat_searches_find_what_each_finds_alone(metric: Metric) -> None:
    rng = np.random.default_rng(7)
    base = rng.standard_normal((3000, 32)).astype(np.float32)
    queries = rng.standard_normal((24, 32)).astype(np.float32)
    index = FlatIndex(32, metric)
    index.add_batch(np.arange(len(base)), base)
    alone = [index.search(q, 1 + i % 7) for i, q in enumerate(queries)]
    batches: list[int] = []
    scan = index._scan

    def counted(items: list[Any]) -> list[Any]:
        batches.append(len(items))
        time.sleep(0.003)  # a pass as long as a large index's: other queries arrive meanwhile
        return scan(items)

    index._scan = counted  # type: ignore[method-assign]
    together = _run_concurrently(lambda i: index.search(queries[i], 1 + i % 7), len(queries))
    # one pass for several queries gives each the bits it gets alone (store.index.flat_scan)
    assert together == alone
    assert sum(batches) == len(queries)
    assert max(batches) > 1, f"no two queries shared a pass: {batches}"
