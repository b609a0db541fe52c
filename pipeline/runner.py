"""The local event-source mapping: Lambda's batching, retry, bisect and DLQ semantics.

:class:`Runner` reads :class:`connectors.base.Batch` es from a source, hands their records
to a *processor* (``records -> per-record results``, run in a worker thread), and acks a
batch only when every record in it is either handled or safely in the on-failure
destination. So a checkpoint never passes unhandled work, and one bad record never stalls
a partition.

Semantics, per batch (defaults are the safe ones, not Lambda's retry-forever):

* **Partial batch response**: the processor returns an :class:`ItemResult` per record;
  only failed records are retried.
* **Retries**: a retriable failure is retried up to ``max_retry_attempts`` times with
  exponential backoff; a non-retriable one (parse error, poison event) goes to the
  destination at once.
* **Bisect on error**: if the processor raises for a whole batch, the batch is split in
  halves and each half retried, so the culprit is isolated (counts as one attempt).
* **Max record age**: records older than ``max_record_age_s`` go to the destination
  unprocessed (reason ``expired``).
* **Order and parallelism**: batches of one partition are handled one after another, in
  order; different partitions in parallel, at most ``parallelism`` batches in flight
  (backpressure: the source is not polled while all slots are busy).
* **Destination**: each failed record is sent with the original record and the reason
  (:func:`dead_letter`); if sending fails, the batch is not acked (the source redelivers).
* **Metrics** (optional :class:`~pipeline.metrics.PipelineMetrics`): records in/ok/failed,
  dead letters, batch latency, the consumer lag (received, not yet acked), and per record
  the notification delay (source time to receipt) and the queue wait (receipt to start).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from connectors.base import Batch, Record, Source

from .handler import ItemResult

if TYPE_CHECKING:
    from .metrics import PipelineMetrics

log = logging.getLogger("memvec.runner")

Process = Callable[[Sequence[Record]], list[ItemResult]]


class Destination(Protocol):
    async def send(self, payload: bytes, record: Record) -> None: ...


@dataclass(frozen=True)
class RunnerConfig:
    batch_size: int = 100  # records per batch (Lambda: BatchSize)
    batching_window_s: float = 0.5  # wait up to this long to fill a batch
    max_retry_attempts: int = 2  # then the record goes to the destination
    retry_backoff_s: float = 0.2  # doubled on every attempt
    max_record_age_s: float = 6 * 3600  # older records are not processed (0 = no limit)
    bisect_on_error: bool = True
    parallelism: int = 2  # batches (of distinct partitions) in flight


@dataclass
class RunnerStats:
    batches: int = 0
    records_in: int = 0
    records_ok: int = 0
    records_failed: int = 0
    dead_lettered: int = 0
    retries: int = 0
    batch_latency_s: list[float] = field(default_factory=list)


def dead_letter(record: Record, reason: str, attempts: int) -> bytes:
    """The destination payload: the original record (value base64) and why it failed."""
    return json.dumps(
        {
            "reason": reason,
            "attempts": attempts,
            "failed_at_ms": int(time.time() * 1000),
            "record": {
                "source": record.source,
                "stream": record.stream,
                "partition": record.partition,
                "position": record.position,
                "timestamp_ms": record.timestamp_ms,
                "key": base64.b64encode(record.key).decode() if record.key else None,
                "value": base64.b64encode(record.value).decode(),
                "headers": [[k, base64.b64encode(v).decode()] for k, v in record.headers],
            },
        }
    ).encode()


class Runner:
    def __init__(
        self,
        source: Source,
        process: Process,
        destination: Destination,
        config: RunnerConfig | None = None,
        metrics: PipelineMetrics | None = None,
    ) -> None:
        self.source = source
        self.process = process
        self.destination = destination
        self.config = config or RunnerConfig()
        self.metrics = metrics
        self.stats = RunnerStats()
        self._busy: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(self.config.parallelism)
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Until :meth:`stop`; the source must already be started."""
        try:
            while not self._stopping.is_set():
                await self._slots.acquire()
                batch = await self.source.get_batch(
                    self.config.batch_size, self.config.batching_window_s
                )
                if batch is None:
                    self._slots.release()
                    continue
                received = time.perf_counter()
                if self.metrics is not None:
                    self.metrics.consumer_lag.inc(len(batch.records))
                    self.metrics.observe_received(r.timestamp_ms for r in batch.records)
                part = (batch.stream, batch.partition)
                previous = self._busy.get(part)
                self._busy[part] = asyncio.create_task(self._after(previous, batch, received))
        finally:
            tasks = [t for t in self._busy.values() if not t.done()]
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        self._stopping.set()

    async def _after(
        self, previous: asyncio.Task[None] | None, batch: Batch, received: float
    ) -> None:
        try:
            if previous is not None:
                await asyncio.shield(previous)  # per-partition order
            if self.metrics is not None:
                self.metrics.observe_queue(time.perf_counter() - received, len(batch.records))
            await self.handle_batch(batch)
        except Exception:
            log.exception("batch %s/%s not acknowledged; it will be redelivered",
                          batch.stream, batch.partition)  # fmt: skip
        finally:
            if self.metrics is not None:
                self.metrics.consumer_lag.dec(len(batch.records))
            self._slots.release()

    async def handle_batch(self, batch: Batch) -> None:
        """Process, retry, dead-letter, then ack. Raises (without acking) if the
        destination cannot take a failed record."""
        t0 = time.perf_counter()
        cfg = self.config
        self.stats.batches += 1
        self.stats.records_in += len(batch.records)
        if self.metrics is not None:
            self.metrics.records_in.inc(len(batch.records))
        pending: list[Record] = []
        now_ms = time.time() * 1000
        for rec in batch.records:
            if (
                cfg.max_record_age_s
                and rec.timestamp_ms
                and now_ms - rec.timestamp_ms > cfg.max_record_age_s * 1000
            ):
                await self._dead(rec, "expired: older than max_record_age_s", 0)
            else:
                pending.append(rec)
        attempt = 0
        reasons: dict[str, str] = {}
        while pending:
            results = await self._attempt(pending)
            retry: list[Record] = []
            for rec, res in zip(pending, results, strict=True):
                if res.ok:
                    self.stats.records_ok += 1
                    if self.metrics is not None:
                        self.metrics.records_ok.inc()
                elif res.retriable and attempt < cfg.max_retry_attempts:
                    reasons[rec.position] = res.reason
                    retry.append(rec)
                else:
                    await self._dead(rec, res.reason, attempt + 1)
            if retry:
                attempt += 1
                self.stats.retries += len(retry)
                await asyncio.sleep(cfg.retry_backoff_s * 2 ** (attempt - 1))
            pending = retry
        await self.source.ack(batch)
        elapsed = time.perf_counter() - t0
        self.stats.batch_latency_s.append(elapsed)
        if self.metrics is not None:
            self.metrics.batch_latency_seconds.observe(elapsed)

    async def _attempt(self, records: list[Record]) -> list[ItemResult]:
        try:
            return await asyncio.to_thread(self.process, records)
        except Exception as exc:  # the whole batch failed
            if not self.config.bisect_on_error or len(records) == 1:
                reason = f"{type(exc).__name__}: {exc}"
                # ours say whether a retry can help; a foreign error may well be transient
                retriable = bool(getattr(exc, "retriable", True))
                return [ItemResult(r.position, False, reason, retriable) for r in records]
            mid = len(records) // 2
            return await self._attempt(records[:mid]) + await self._attempt(records[mid:])

    async def _dead(self, record: Record, reason: str, attempts: int) -> None:
        self.stats.records_failed += 1
        if self.metrics is not None:
            self.metrics.records_failed.inc()
        await self.destination.send(dead_letter(record, reason, attempts), record)
        self.stats.dead_lettered += 1
        if self.metrics is not None:
            self.metrics.dlq.inc()
        log.warning("record %s/%s@%s to the destination: %s",
                    record.stream, record.partition, record.position, reason)  # fmt: skip


def pipeline_process(records: Sequence[Record]) -> list[ItemResult]:
    """The pipeline's processor: each record holds an S3 notification or a document; the
    batch's objects are embedded together."""
    from .handler import process_payloads

    return process_payloads([(r.position, r.value) for r in records])


class ListDestination:
    """Keeps dead letters in memory (tests, embedded runs)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    async def send(self, payload: bytes, record: Record) -> None:
        self.items.append(json.loads(payload))
