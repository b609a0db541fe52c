"""Prometheus metrics of the ingest pipeline, one registry per :class:`PipelineMetrics`.

Each instance owns its ``CollectorRegistry`` (tests and embedded runs build many; the
global default registry would refuse duplicate names). The runner and the processor take
an optional instance and call the helper methods below; with ``None`` they record
nothing and behave exactly as before.

Metrics (times in seconds, counters end in ``_total`` in the exposition):

- ``memvec_pipeline_records_in_total``: stream records received by the runner;
- ``memvec_pipeline_records_ok_total``: records handled and about to be acknowledged;
- ``memvec_pipeline_records_failed_total``: records given up on (retries exhausted, not
  retriable, or older than ``max_record_age_s``);
- ``memvec_pipeline_dlq_total``: failed records the on-failure destination accepted;
- ``memvec_pipeline_consumer_lag``: gauge, records received but not yet acknowledged
  (queued behind their partition or in flight);
- ``memvec_pipeline_batch_latency_seconds``: histogram, receipt to acknowledgement of a
  batch, retries included;
- ``memvec_pipeline_notification_seconds``: histogram, per record, the source's append
  time (SQS ``SentTimestamp``, the Kafka record time, Kinesis arrival) to receipt by the
  runner: for S3 notifications, event to worker (records without a time are skipped);
- ``memvec_pipeline_queue_seconds``: histogram, per record, receipt by the runner to the
  start of its batch's processing (waiting for a slot or for the partition's previous
  batch);
- ``memvec_pipeline_fetch_seconds``: histogram, one object GET from the object store;
- ``memvec_pipeline_embed_seconds``: histogram, one embedder call (a batch of chunks);
- ``memvec_pipeline_store_seconds{op}``: histogram, one store round trip; ``op`` is
  ``read`` (state and content-hash lookups) or ``commit`` (the MULTI/EXEC write);
- ``memvec_pipeline_freshness_seconds``: histogram, store acknowledgement of an object's
  write minus the S3 event time: the end-to-end delay until a change is searchable
  (events without a time are not observed);
- ``memvec_pipeline_chunks_total{op}``: chunks ``written``, ``embedded`` and ``deleted``.

:meth:`PipelineMetrics.serve` exposes the registry over HTTP for Prometheus to scrape
(``memvec worker --metrics-port``); the returned :class:`MetricsServer` must be closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import start_http_server as _start_http_server

__all__ = ["MetricsServer", "PipelineMetrics"]

_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0,
    2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
_FRESHNESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class MetricsServer:
    """A running ``/metrics`` HTTP endpoint; :meth:`close` is idempotent."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.port: int = server.server_address[1]

    def close(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown()
        server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def _timed(histogram: Any) -> Iterator[None]:
    """Observe the seconds the ``with`` block took, also when it raises."""
    began = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - began)


class PipelineMetrics:
    """The pipeline's counters, gauge and histograms in a private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.records_in = Counter(
            "memvec_pipeline_records_in", "stream records received", registry=r
        )
        self.records_ok = Counter(
            "memvec_pipeline_records_ok", "records handled successfully", registry=r
        )
        self.records_failed = Counter(
            "memvec_pipeline_records_failed",
            "records given up on (sent to the on-failure destination)",
            registry=r,
        )
        self.dlq = Counter(
            "memvec_pipeline_dlq", "failed records accepted by the destination", registry=r
        )
        self.consumer_lag = Gauge(
            "memvec_pipeline_consumer_lag", "records received but not yet acknowledged", registry=r
        )

        def latency(name: str, doc: str, labels: tuple[str, ...] = ()) -> Histogram:
            return Histogram(name, doc, labels, buckets=_LATENCY_BUCKETS, registry=r)

        self.batch_latency_seconds = latency(
            "memvec_pipeline_batch_latency_seconds",
            "receipt to acknowledgement of one batch, retries included",
        )
        self.notification_seconds = latency(
            "memvec_pipeline_notification_seconds",
            "source append time to receipt by the runner, per record",
        )
        self.queue_seconds = latency(
            "memvec_pipeline_queue_seconds",
            "receipt by the runner to the start of processing, per record",
        )
        self.fetch_seconds = latency(
            "memvec_pipeline_fetch_seconds", "one object GET from the object store"
        )
        self.embed_seconds = latency(
            "memvec_pipeline_embed_seconds", "one embedder call (a batch of chunks)"
        )
        self.store_seconds = latency(
            "memvec_pipeline_store_seconds",
            "one store round trip (read: lookups, commit: the MULTI/EXEC write)",
            ("op",),
        )
        self.freshness_seconds = Histogram(
            "memvec_pipeline_freshness_seconds",
            "store acknowledgement minus S3 event time",
            buckets=_FRESHNESS_BUCKETS,
            registry=r,
        )
        self.chunks = Counter(
            "memvec_pipeline_chunks", "chunks written, embedded or deleted", ["op"], registry=r
        )

    def time_fetch(self) -> AbstractContextManager[None]:
        return _timed(self.fetch_seconds)

    def observe_received(self, timestamps_ms: Iterable[int], now_ms: float | None = None) -> None:
        """Notification delay of records received now; a time ``<= 0`` is skipped."""
        now_ms = time.time() * 1000 if now_ms is None else now_ms
        for ts in timestamps_ms:
            if ts > 0:
                self.notification_seconds.observe(max(0.0, (now_ms - ts) / 1000))

    def observe_queue(self, seconds: float, records: int) -> None:
        """``records`` waited ``seconds`` between receipt and the start of processing."""
        for _ in range(records):
            self.queue_seconds.observe(seconds)

    def time_embed(self) -> AbstractContextManager[None]:
        return _timed(self.embed_seconds)

    def time_store(self, op: str) -> AbstractContextManager[None]:
        return _timed(self.store_seconds.labels(op))

    def observe_freshness(self, event_time_ms: int, acked_ms: float | None = None) -> None:
        """``acked_ms`` defaults to now; an event without a time (``<= 0``) is skipped."""
        if event_time_ms <= 0:
            return
        now_ms = time.time() * 1000 if acked_ms is None else acked_ms
        self.freshness_seconds.observe(max(0.0, (now_ms - event_time_ms) / 1000))

    def observe_chunks(self, written: int, embedded: int, deleted: int) -> None:
        self.chunks.labels("written").inc(written)
        self.chunks.labels("embedded").inc(embedded)
        self.chunks.labels("deleted").inc(deleted)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """A sample's current value by its exposition name (``..._total``, ``..._count``);
        0.0 when absent. For tests and summaries."""
        got = self.registry.get_sample_value(name, labels or {})
        return 0.0 if got is None else got

    def render(self) -> bytes:
        """The text exposition format (what ``/metrics`` serves)."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "0.0.0.0") -> MetricsServer:
        """Serve ``/metrics`` on ``addr:port`` in a daemon thread (``port=0``: any free)."""
        server, thread = _start_http_server(port, addr=addr, registry=self.registry)
        return MetricsServer(server, thread)
