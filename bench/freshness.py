"""Freshness on the local stack: time from an S3 PUT to the object's first search hit.

Usage: ``python -m bench.freshness [--quick] [--out DIR] [--rate 5] [--seconds 60]
[--source sqs|kafka]`` (``--quick``: 15 s instead of 60; ``kafka``: workers read the topic
that ``pipeline.bridge`` fills from the queue, one hop more). ``run(quick, out_dir)`` is
the entry point for ``memvec bench``; it writes ``out_dir/freshness.json`` and returns the
same dict.

What it does: ``memvec stack up`` in a temporary directory (kafka, moto, two store nodes,
two workers on the SQS queue, the API), a few warm-up objects (they create the index and
warm the workers), then PUTs one object every ``1/rate`` s for ``seconds`` s. Each object
holds a unique token. A poller asks ``POST /v1/search`` every ``poll_interval_s`` for every
object not yet seen (a vector query filtered on the objects' ``source`` tags: no query
embedding, one request for all pending objects) and records when a hit carrying the
token first comes back. The stack is always brought down.

End to end (per object, wall clock of this one machine): ``visible - put_start``.

Breakdown (``breakdown_s``: p50/p99/mean/count, from the workers' ``/metrics`` histograms,
summed over workers and diffed over the measured window; quantiles interpolated inside
histogram buckets as Prometheus's ``histogram_quantile`` does):

- ``notification``: SQS ``SentTimestamp`` (moto enqueues the S3 notification during the
  PUT) to receipt by the worker's runner: queue delivery and the long poll (with
  ``--source kafka``: the bridge's produce time to receipt, the Kafka hop only);
- ``queue``: receipt to the start of processing (a free slot, the previous batch);
- ``fetch``: the S3 GET of the object;
- ``embed``: one embedder call (all chunks of the object);
- ``store_read``: one lookup round trip (state record, content hashes; two per object);
- ``store_commit``: the MULTI/EXEC write, acknowledged once the replica has it durable
  (``--min-replicas-to-ack 1``);
- ``index_visibility``: commit acknowledged to the first search hit, per object:
  ``visible - ingested_at`` (the chunk's ``ingested_at``, stamped just before the
  commit) minus the mean commit time; it includes the poll interval (half of it on
  average) and the search request itself, since memvec indexes before acknowledging.

``per_object_s`` splits each object's own timeline without histograms: ``put_to_event``
(PUT start to the S3 event time), ``event_to_commit_start`` (notification, queue, fetch,
parse, embed, lookups) and ``commit_start_to_visible``. Target (issue #10): p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.stack import INDEX, SOURCES, STORE_NODES, stack_down, stack_up

TARGET_P99_S = 1.0
_WARMUP_OBJECTS = 4
_VISIBLE_TIMEOUT_S = 30.0
_MAX_FILTER_VALUES = 100  # the API's max_filter_values
_SENTENCES = (
    "The ferry crossed the harbour at dawn while gulls circled over the fishing boats.",
    "A good compost heap needs green leaves, brown twigs, air and a little patience.",
    "The orchestra rehearsed the symphony twice before the evening performance.",
    "Glaciers move slowly downhill and scrape the valley floor into a wide U shape.",
    "The library kept its oldest maps in a cool room away from the sunlight.",
    "Bread dough rises because yeast turns sugar into carbon dioxide bubbles.",
    "The cyclist fixed a puncture on the mountain road with a patch and a pump.",
    "Owls hunt at night and can turn their heads almost all the way around.",
)
_STAGES = {
    "notification": ("memvec_pipeline_notification_seconds", {}),
    "queue": ("memvec_pipeline_queue_seconds", {}),
    "fetch": ("memvec_pipeline_fetch_seconds", {}),
    "embed": ("memvec_pipeline_embed_seconds", {}),
    "store_read": ("memvec_pipeline_store_seconds", {"op": "read"}),
    "store_commit": ("memvec_pipeline_store_seconds", {"op": "commit"}),
    "worker_freshness": ("memvec_pipeline_freshness_seconds", {}),
}


@dataclass
class Sample:
    """One probe object's timeline (seconds since the epoch; None: not seen)."""

    key: str
    token: str
    put_start: float
    put_end: float = 0.0
    visible: float | None = None
    event_time: float | None = None
    ingested_at: float | None = None

    @property
    def e2e_s(self) -> float | None:
        return None if self.visible is None else self.visible - self.put_start


def stats(values: list[float]) -> dict[str, float | int | None]:
    """p50/p99/mean/max/count of raw samples (None when there are none)."""
    if not values:
        return {"p50": None, "p99": None, "mean": None, "max": None, "count": 0}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(arr, 50)), 4),
        "p99": round(float(np.percentile(arr, 99)), 4),
        "mean": round(float(arr.mean()), 4),
        "max": round(float(arr.max()), 4),
        "count": len(values),
    }


# -- worker histograms ----------------------------------------------------------------------
Histogram = dict[str, Any]  # {"buckets": {le: cumulative count}, "sum": float, "count": float}


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], Histogram]:
    """Every histogram of one ``/metrics`` page, keyed by (name, labels without ``le``)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    out: dict[tuple[str, tuple[tuple[str, str], ...]], Histogram] = {}
    for family in text_string_to_metric_families(text):
        if family.type != "histogram":
            continue
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            hist = out.setdefault((family.name, labels), {"buckets": {}, "sum": 0.0, "count": 0.0})
            if sample.name.endswith("_bucket"):
                hist["buckets"][float(sample.labels["le"])] = sample.value
            elif sample.name.endswith("_sum"):
                hist["sum"] = sample.value
            elif sample.name.endswith("_count"):
                hist["count"] = sample.value
    return out


def diff_histograms(
    before: list[dict[Any, Histogram]], after: list[dict[Any, Histogram]]
) -> dict[Any, Histogram]:
    """Per key: the sum over workers of ``after - before`` (what the window added)."""
    total: dict[Any, Histogram] = {}
    for sign, pages in ((1, after), (-1, before)):
        for page in pages:
            for key, hist in page.items():
                acc = total.setdefault(key, {"buckets": {}, "sum": 0.0, "count": 0.0})
                for le, n in hist["buckets"].items():
                    acc["buckets"][le] = acc["buckets"].get(le, 0.0) + sign * n
                acc["sum"] += sign * hist["sum"]
                acc["count"] += sign * hist["count"]
    return total


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus's estimate: linear interpolation inside the bucket holding rank q."""
    edges = sorted(buckets)
    if not edges or buckets[edges[-1]] <= 0:
        return None
    rank = q * buckets[edges[-1]]
    lower_edge, lower_count = 0.0, 0.0
    for edge in edges:
        count = buckets[edge]
        if count >= rank:
            if edge == float("inf"):
                return lower_edge
            width = count - lower_count
            frac = (rank - lower_count) / width if width > 0 else 1.0
            return lower_edge + (edge - lower_edge) * frac
        lower_edge, lower_count = edge, count
    return lower_edge


def summarize(hist: Histogram | None) -> dict[str, float | int | None]:
    if hist is None or hist["count"] <= 0:
        return {"p50": None, "p99": None, "mean": None, "count": 0}
    p50 = histogram_quantile(0.5, hist["buckets"])
    p99 = histogram_quantile(0.99, hist["buckets"])
    return {
        "p50": None if p50 is None else round(p50, 4),
        "p99": None if p99 is None else round(p99, 4),
        "mean": round(hist["sum"] / hist["count"], 4),
        "count": int(hist["count"]),
    }


# -- the probe --------------------------------------------------------------------------------
class Api:
    """``POST /v1/search`` over one kept-alive HTTP connection."""

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)

    def search(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            self.conn.request(
                "POST", "/v1/search", json.dumps(body), {"content-type": "application/json"}
            )
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return 0, {}
        return response.status, json.loads(data or b"{}")

    def close(self) -> None:
        self.conn.close()


def _probe_vector(dim: int = 384) -> list[float]:
    vec = np.ones(dim, dtype=np.float32) / np.sqrt(dim)
    return [float(x) for x in vec]


def poll_once(api: Api, bucket: str, pending: list[Sample], vector: list[float]) -> int:
    """One round of searches for every pending sample; marks those now visible."""
    seen = 0
    for start in range(0, len(pending), _MAX_FILTER_VALUES):
        group = pending[start : start + _MAX_FILTER_VALUES]
        by_source = {f"{bucket}/{s.key}": s for s in group}
        status, body = api.search(
            {"vector": vector, "k": len(group), "filter": {"source": list(by_source)}}
        )
        now = time.time()
        if status != 200:
            continue
        for hit in body.get("hits", []):
            sample = by_source.get(hit.get("source") or "")
            if sample is None or sample.visible is not None:
                continue
            if sample.token in (hit.get("text") or ""):
                sample.visible = now
                ingested = (hit.get("metadata") or {}).get("ingested_at")
                sample.ingested_at = float(ingested) / 1000 if ingested else None
                seen += 1
    return seen


def _s3(endpoint: str) -> Any:
    from pipeline.stack import aws_client

    return aws_client("s3", endpoint)


def _body(token: str, n: int) -> bytes:
    return f"Freshness probe {token}. {_SENTENCES[n % len(_SENTENCES)]}".encode()


def _put_paced(
    s3: Any, bucket: str, samples: list[Sample], rate_per_s: float, stop: threading.Event
) -> None:
    began = time.monotonic()
    for n, sample in enumerate(samples):
        delay = began + n / rate_per_s - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return
        sample.put_start = time.time()
        s3.put_object(Bucket=bucket, Key=sample.key, Body=_body(sample.token, n))
        sample.put_end = time.time()


def _wait_visible(
    api: Api, bucket: str, samples: list[Sample], vector: list[float], poll_interval_s: float,
    done_putting: threading.Event,
) -> None:  # fmt: skip
    last_put = time.monotonic()
    while True:
        pending = [s for s in samples if s.put_end and s.visible is None]
        if not done_putting.is_set():
            last_put = time.monotonic()
        elif not pending or time.monotonic() - last_put > _VISIBLE_TIMEOUT_S:
            return
        if pending:
            poll_once(api, bucket, pending, vector)
        time.sleep(poll_interval_s)


def _event_times(state: dict[str, Any], samples: list[Sample]) -> None:
    import redis

    from pipeline.stores.failover import find_primary, node_info

    urls = [state["endpoints"][name] for name in STORE_NODES]
    primary = find_primary([node_info(u) for u in urls])
    client = redis.Redis.from_url(urls[primary or 0])
    try:
        pipe = client.pipeline(transaction=False)
        for s in samples:
            pipe.hget(f"objstate:{state['bucket']}/{s.key}", "event_time")
        for s, value in zip(samples, pipe.execute(), strict=True):
            s.event_time = int(value) / 1000 if value else None
    finally:
        client.close()


def measure(
    stack_dir: Path, rate_per_s: float, duration_s: float, workers: int, poll_interval_s: float,
    source: str = "sqs",
) -> dict[str, Any]:  # fmt: skip
    """Bring the stack up, measure, bring it down; the result without ``config``."""
    state = stack_up(stack_dir, workers=workers, source=source)
    try:
        bucket, run_id = state["bucket"], uuid.uuid4().hex[:8]
        s3, api, vector = (
            _s3(state["endpoints"]["s3"]),
            Api(state["endpoints"]["api"]),
            _probe_vector(),
        )
        metrics = [
            f"http://127.0.0.1:{p['port']}/metrics"
            for p in state["processes"] if p["name"].startswith("worker-")
        ]  # fmt: skip
        warm = [
            Sample(f"warmup/{run_id}-{i}.txt", f"w{run_id}x{i}", 0.0)
            for i in range(_WARMUP_OBJECTS)
        ]
        done = threading.Event()
        _put_paced(s3, bucket, warm, 10.0, threading.Event())
        done.set()
        _wait_visible(api, bucket, warm, vector, poll_interval_s, done)
        if any(s.visible is None for s in warm):
            raise RuntimeError(f"warm-up objects never became searchable; see {stack_dir}/logs")
        before = [scrape(u) for u in metrics]
        count = max(1, int(rate_per_s * duration_s))
        samples = [
            Sample(f"fresh/{run_id}-{i:05d}.txt", f"t{run_id}n{i}", 0.0) for i in range(count)
        ]
        done = threading.Event()
        stop = threading.Event()

        def put_all() -> None:
            try:
                _put_paced(s3, bucket, samples, rate_per_s, stop)
            finally:
                done.set()

        putter = threading.Thread(target=put_all, daemon=True)
        putter.start()
        try:
            _wait_visible(api, bucket, samples, vector, poll_interval_s, done)
        finally:
            stop.set()
            putter.join(30)
        after = [scrape(u) for u in metrics]
        _event_times(state, samples)
        api.close()
    finally:
        stack_down(stack_dir, quiet=True)
    return analyse(samples, diff_histograms(before, after))


def analyse(samples: list[Sample], hists: dict[Any, Histogram]) -> dict[str, Any]:
    """Percentiles of the samples and the stage breakdown (see the module docstring)."""
    seen = [s for s in samples if s.visible is not None]
    e2e = [s.e2e_s for s in seen if s.e2e_s is not None]
    breakdown = {
        stage: summarize(hists.get((name, tuple(sorted(labels.items())))))
        for stage, (name, labels) in _STAGES.items()
    }
    commit_mean = breakdown["store_commit"]["mean"] or 0.0
    after_commit = [
        s.visible - s.ingested_at for s in seen if s.visible and s.ingested_at is not None
    ]
    visibility = stats([max(0.0, v - float(commit_mean)) for v in after_commit])
    visibility.pop("max")
    breakdown["index_visibility"] = visibility
    timed = [s for s in seen if s.event_time is not None and s.ingested_at is not None]
    e2e_stats = stats(e2e)
    p99 = e2e_stats["p99"]
    return {
        "objects": len(samples),
        "visible": len(seen),
        "missing": [s.key for s in samples if s.visible is None],
        "e2e_s": e2e_stats,
        "target_p99_s": TARGET_P99_S,
        "meets_target": p99 is not None and len(seen) == len(samples) and p99 <= TARGET_P99_S,
        "breakdown_s": breakdown,
        "per_object_s": {
            "put_to_event": stats([s.event_time - s.put_start for s in timed if s.event_time]),
            "event_to_commit_start": stats(
                [s.ingested_at - s.event_time for s in timed if s.ingested_at and s.event_time]
            ),
            "commit_start_to_visible": stats(after_commit),
        },
        "samples": [{**asdict(s), "e2e_s": s.e2e_s} for s in samples],
    }


def run(
    quick: bool,
    out_dir: Path,
    *,
    rate_per_s: float = 5.0,
    duration_s: float | None = None,
    workers: int = 2,
    poll_interval_s: float = 0.025,
    source: str = "sqs",
) -> dict[str, Any]:
    """Measure freshness on a fresh stack; writes and returns ``out_dir/freshness.json``."""
    duration = duration_s if duration_s is not None else (15.0 if quick else 60.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    stack_dir = Path(tempfile.mkdtemp(prefix="memvec-freshness-"))
    result = measure(stack_dir, rate_per_s, duration, workers, poll_interval_s, source)
    shutil.rmtree(stack_dir, ignore_errors=True)  # kept (with its logs) when measure raised
    result = {
        "benchmark": "freshness",
        "quick": quick,
        "config": {
            "rate_per_s": rate_per_s, "duration_s": duration, "workers": workers,
            "poll_interval_s": poll_interval_s, "index": INDEX, "source": source,
            "min_replicas_to_ack": 1,
        },
        **result,
    }  # fmt: skip
    (out_dir / "freshness.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _print_summary(result: dict[str, Any]) -> None:
    e2e = result["e2e_s"]
    print(
        f"freshness: {result['visible']}/{result['objects']} objects visible, "
        f"PUT -> search hit p50 {e2e['p50']} s, p99 {e2e['p99']} s, max {e2e['max']} s "
        f"(target p99 <= {result['target_p99_s']} s: "
        f"{'met' if result['meets_target'] else 'NOT met'})"
    )
    for stage, s in result["breakdown_s"].items():
        print(f"  {stage:<18} p50 {s['p50']!s:>8}  p99 {s['p99']!s:>8}  mean {s['mean']!s:>8}")
    for part, s in result["per_object_s"].items():
        print(f"  {part:<24} p50 {s['p50']!s:>8}  p99 {s['p99']!s:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.freshness", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="15 s of PUTs instead of 60 s")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--rate", type=float, default=5.0, help="PUTs per second (default 5)")
    parser.add_argument("--seconds", type=float, help="override the duration")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--source", choices=SOURCES, default="sqs",
        help="workers read the SQS queue (default) or the Kafka topic a bridge fills from it",
    )  # fmt: skip
    args = parser.parse_args(argv)
    result = run(
        args.quick, args.out, rate_per_s=args.rate, duration_s=args.seconds,
        workers=args.workers, source=args.source,
    )  # fmt: skip
    _print_summary(result)
    print(f"wrote {args.out / 'freshness.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
