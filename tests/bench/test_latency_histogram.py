"""The concurrency benchmark keeps its round trips as 1%-wide log bins
(bench.common.latency_histogram): any percentile read back is within 1% of the exact one."""

from __future__ import annotations

import numpy as np

from bench.common import histogram_percentile, latency_histogram, pct


def test_percentiles_read_back_within_one_percent() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.lognormal(0.0, 1.0, 50_000), rng.uniform(20, 400, 500)])
    hist = latency_histogram(values.tolist())
    assert sum(count for _, count in hist["bins"]) == len(values)
    uppers = [upper for upper, _ in hist["bins"]]
    assert uppers == sorted(uppers) and len(set(uppers)) == len(uppers)
    assert len(hist["bins"]) < 1500  # bins, not samples
    for q in (1, 50, 90, 99, 99.9, 100):
        exact = float(np.percentile(values, q, method="inverted_cdf"))
        read = histogram_percentile(hist, q)
        assert exact * (1 - 1e-6) <= read <= exact * 1.0101, (q, exact, read)


def test_small_and_edge_inputs() -> None:
    assert histogram_percentile(latency_histogram([]), 99) == 0.0
    one = latency_histogram([2.5])
    assert one["bins"][0][1] == 1 and 2.5 <= histogram_percentile(one, 50) <= 2.5 * 1.0101
    # a value on a bin edge stays in that bin; zero and sub-microsecond values count too
    tiny = latency_histogram([0.0, 0.0005, 0.001])
    assert tiny["bins"] == [[0.001, 3]]
    assert pct([1.0, 2.0, 3.0], 50) == 2.0
