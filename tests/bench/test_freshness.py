"""bench.freshness at toy size: the histogram arithmetic, and one short run on a real stack
(one worker, four objects) that must write freshness.json with every stage measured. Not
a timed test: the numbers are only checked for being present and ordered. The run uses
``memvec stack up --source kafka``, so it is also the end-to-end test of the bridged
path (S3 -> SQS -> pipeline.bridge -> Kafka topic -> worker); tests/test_stack.py covers
the SQS path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.freshness import diff_histograms, histogram_quantile, run, summarize


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 10.0, 0.5: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1 + 0.4 * 40 / 80)
    assert histogram_quantile(0.05, buckets) == pytest.approx(0.05)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.5 + 0.5 * 9 / 10)
    assert histogram_quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None

    key = ("memvec_pipeline_embed_seconds", ())
    before = [{key: {"buckets": {0.1: 1.0, float("inf"): 2.0}, "sum": 0.5, "count": 2.0}}]
    after = [
        {key: {"buckets": {0.1: 3.0, float("inf"): 4.0}, "sum": 1.5, "count": 4.0}},
        {key: {"buckets": {0.1: 1.0, float("inf"): 1.0}, "sum": 0.05, "count": 1.0}},
    ]
    window = diff_histograms(before, after)[key]
    assert window["buckets"] == {0.1: 3.0, float("inf"): 3.0}
    assert summarize(window)["count"] == 3
    assert summarize(window)["mean"] == pytest.approx(1.05 / 3, abs=1e-4)
    assert summarize(None)["p50"] is None


@pytest.mark.slow
def test_freshness_run_on_a_toy_stack(tmp_path: Path) -> None:
    result = run(True, tmp_path, rate_per_s=4.0, duration_s=1.0, workers=1, source="kafka")
    assert result["config"]["source"] == "kafka"
    written = json.loads((tmp_path / "freshness.json").read_text())
    assert written["e2e_s"] == result["e2e_s"]
    assert result["objects"] == 4 and result["visible"] == 4, result["missing"]
    e2e = result["e2e_s"]
    assert 0 < e2e["p50"] <= e2e["p99"] <= e2e["max"]
    for stage in ("notification", "queue", "fetch", "store_read", "store_commit"):
        assert result["breakdown_s"][stage]["count"] >= 4, stage  # one per object at least
    # one embedder call per batch of chunks: two objects that reach the worker in one batch
    # (it was busy, e.g. loading the model) share a call
    assert result["breakdown_s"]["embed"]["count"] >= 1
    assert result["breakdown_s"]["index_visibility"]["count"] == 4
    assert all(s["event_time"] and s["ingested_at"] for s in result["samples"])
    for part in result["per_object_s"].values():
        assert part["count"] == 4
