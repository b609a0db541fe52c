"""``bench.vector_query.median_point``: a sweep point from rounds measured in turns."""

from __future__ import annotations

from bench.vector_query import median_point


def _round(qps: float, p99: float, tag: str) -> dict[str, object]:
    return {"qps": qps, "p50_ms": p99 / 2, "p99_ms": p99, "server_cpu_percent": qps / 100,
            "recall_at_10": 0.9, "queries": 2, "latencies_ms": [tag]}  # fmt: skip


def test_medians_over_the_rounds_and_the_median_rounds_samples() -> None:
    point = median_point([_round(300, 9.0, "a"), _round(100, 1.0, "b"), _round(200, 5.0, "c")])
    assert point["qps"] == 200 and point["p99_ms"] == 5.0 and point["p50_ms"] == 2.5
    assert point["server_cpu_percent"] == 2.0
    assert point["latencies_ms"] == ["c"]  # the round of the median QPS
    assert [r["qps"] for r in point["rounds"]] == [300, 100, 200]
    # the p99 is its own median, not the median-QPS round's
    point = median_point([_round(100, 9.0, "a"), _round(200, 1.0, "b"), _round(300, 2.0, "c")])
    assert point["qps"] == 200 and point["p99_ms"] == 2.0 and point["latencies_ms"] == ["b"]


def test_two_rounds_average_and_keep_the_slower_rounds_samples() -> None:
    point = median_point([_round(100, 4.0, "a"), _round(300, 2.0, "b")])
    assert point["qps"] == 200 and point["p99_ms"] == 3.0
    assert point["latencies_ms"] == ["a"]
