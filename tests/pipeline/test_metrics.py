"""Pipeline observability: Prometheus metrics from the runner and the processor, the
/metrics endpoint, ``memvec worker --metrics-port`` and error logs that name the object."""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

from connectors.base import Record
from connectors.memory import MemoryLog, MemorySource
from connectors.s3 import S3ObjectStore
from connectors.s3_events import S3Event
from pipeline.embedding import LocalEmbedder
from pipeline.handler import ItemResult
from pipeline.metrics import PipelineMetrics
from pipeline.processor import IngestConfig, Processor
from pipeline.runner import ListDestination, Runner, RunnerConfig
from pipeline.stores import EmbeddedStore
from pipeline.worker import add_worker_parser
from store import Engine, EngineConfig
from tests.harness import unique_name
from tests.harness.wait import wait_for_async

SMALL = IngestConfig(index="t", chunk_tokens=48, overlap_tokens=8)


def sample(text: str, name: str) -> float:
    """A sample's value from the text exposition (what Prometheus scrapes)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the exposition:\n{text}")


class Gate:
    """Fails records whose value starts with ``poison``; holds every call until opened."""

    def __init__(self) -> None:
        self.open = threading.Event()

    def __call__(self, records: Sequence[Record]) -> list[ItemResult]:
        self.open.wait(10)
        return [
            ItemResult(r.position, False, "cannot parse")
            if r.value.startswith(b"poison")
            else ItemResult(r.position, True)
            for r in records
        ]


async def test_runner_counts_records_batches_dead_letters_and_lag() -> None:
    log = MemoryLog(partitions=1)
    for value in (b"a", b"poison-1", b"b", b"c", b"d"):
        log.append(value)
    source = MemorySource(log, group="g")
    await source.start()
    metrics = PipelineMetrics()
    gate = Gate()
    cfg = RunnerConfig(batch_size=2, batching_window_s=0.02, retry_backoff_s=0.01)
    runner = Runner(source, gate, ListDestination(), cfg, metrics=metrics)
    task = asyncio.create_task(runner.run())
    try:
        # while the first batch is held, its records (and any queued behind it) are lag
        await wait_for_async(lambda: metrics.value("memvec_pipeline_consumer_lag") >= 2, 10)
        gate.open.set()
        await wait_for_async(lambda: log.committed("g", 0) == 5, 10, message="not drained")
    finally:
        runner.stop()
        await task
    text = metrics.render().decode()
    assert sample(text, "memvec_pipeline_records_in_total") == 5
    assert sample(text, "memvec_pipeline_records_ok_total") == 4
    assert sample(text, "memvec_pipeline_records_failed_total") == 1
    assert sample(text, "memvec_pipeline_dlq_total") == 1
    assert sample(text, "memvec_pipeline_consumer_lag") == 0
    assert sample(text, "memvec_pipeline_batch_latency_seconds_count") == runner.stats.batches
    assert runner.stats.batches >= 3  # batch_size 2


async def test_runner_without_metrics_is_unchanged() -> None:
    log = MemoryLog(partitions=1)
    log.append(b"a")
    source = MemorySource(log, group="g")
    await source.start()
    gate = Gate()
    gate.open.set()
    runner = Runner(source, gate, ListDestination(), RunnerConfig(batching_window_s=0.02))
    task = asyncio.create_task(runner.run())
    try:
        await wait_for_async(lambda: log.committed("g", 0) == 1, 10)
    finally:
        runner.stop()
        await task
    assert runner.metrics is None and runner.stats.records_ok == 1


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(EngineConfig(data_dir=tmp_path / "store")) as e:
        yield e


@pytest.fixture
def s3_bucket(moto_server: Any) -> tuple[Any, str]:
    s3 = moto_server.client("s3")
    name = unique_name("bkt")
    s3.create_bucket(Bucket=name)
    return s3, name


def _event(kind: Literal["put", "delete"], bucket: str, key: str, event_ms: int) -> S3Event:
    return S3Event(
        kind=kind, bucket=bucket, key=key, version_id=None, etag=None, size=None,
        sequencer=None, event_time_ms=event_ms, event_name=f"test:{kind}",
    )  # fmt: skip


def test_processor_times_embedding_and_store_and_observes_freshness(
    engine: Engine, s3_bucket: tuple[Any, str], embedder: LocalEmbedder
) -> None:
    s3, bucket = s3_bucket
    metrics = PipelineMetrics()
    proc = Processor(EmbeddedStore(engine), S3ObjectStore(client=s3), embedder, SMALL, metrics)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"Durable vector stores keep data safe.")
    s3.put_object(Bucket=bucket, Key="b.md", Body=b"# Streams\n\nKafka shards carry events.")
    an_hour_ago = int(time.time() * 1000) - 3_600_000
    outcomes = [
        proc.process(_event("put", bucket, "a.txt", an_hour_ago)),
        proc.process(_event("put", bucket, "b.md", an_hour_ago)),
        proc.process(_event("delete", bucket, "a.txt", an_hour_ago)),
        proc.process(_event("put", bucket, "b.md", 0)),  # no event time: not observed
    ]
    text = metrics.render().decode()
    assert sample(text, 'memvec_pipeline_store_seconds_count{op="commit"}') == 4
    assert sample(text, 'memvec_pipeline_store_seconds_count{op="read"}') >= 4
    assert sample(text, "memvec_pipeline_embed_seconds_count") == 2  # b.md unchanged at last
    assert sample(text, "memvec_pipeline_freshness_seconds_count") == 3
    assert sample(text, "memvec_pipeline_freshness_seconds_sum") >= 3 * 3600
    for op, field in (("written", "chunks_written"), ("embedded", "chunks_embedded"),
                      ("deleted", "chunks_deleted")):  # fmt: skip
        want = sum(getattr(o, field) for o in outcomes)
        assert sample(text, f'memvec_pipeline_chunks_total{{op="{op}"}}') == want > 0


def test_unexpected_errors_are_logged_with_the_object_key(
    engine: Engine, s3_bucket: tuple[Any, str], embedder: LocalEmbedder,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    s3, bucket = s3_bucket

    class Broken:
        count_tokens = embedder.count_tokens

        def embed(self, texts: Any) -> Any:
            raise RuntimeError("embedding endpoint down")

    proc = Processor(EmbeddedStore(engine), S3ObjectStore(client=s3), Broken(), SMALL)
    s3.put_object(Bucket=bucket, Key="dir/x y.txt", Body=b"some text to embed")
    with caplog.at_level(logging.WARNING, "memvec.processor"), pytest.raises(RuntimeError):
        proc.process(_event("put", bucket, "dir/x y.txt", 0))
    (rec,) = [r for r in caplog.records if r.name == "memvec.processor"]
    assert f"s3://{bucket}/dir/x y.txt" in rec.getMessage() and "endpoint down" in rec.getMessage()
    assert (rec.bucket, rec.object_key) == (bucket, "dir/x y.txt")  # type: ignore[attr-defined]


def test_metrics_endpoint_serves_the_registry_and_closes() -> None:
    metrics = PipelineMetrics()
    metrics.records_in.inc(7)
    metrics.observe_freshness(int(time.time() * 1000) - 2000)
    with metrics.time_store("read"):
        pass
    server = metrics.serve(0, "127.0.0.1")
    url = f"http://127.0.0.1:{server.port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        server.close()
        server.close()  # idempotent
    assert sample(text, "memvec_pipeline_records_in_total") == 7
    assert sample(text, "memvec_pipeline_freshness_seconds_count") == 1
    assert 2 <= sample(text, "memvec_pipeline_freshness_seconds_sum") < 60
    assert sample(text, 'memvec_pipeline_store_seconds_count{op="read"}') == 1
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    assert PipelineMetrics().value("memvec_pipeline_dlq_total") == 0  # registries are private


def test_worker_has_a_metrics_port_option(monkeypatch: pytest.MonkeyPatch) -> None:
    def parse(argv: list[str]) -> argparse.Namespace:
        parser = argparse.ArgumentParser(prog="memvec")
        add_worker_parser(parser.add_subparsers())
        return parser.parse_args(argv)

    assert parse(["worker"]).metrics_port == 0
    assert parse(["worker", "--metrics-port", "9464"]).metrics_port == 9464
    monkeypatch.setenv("MEMVEC_METRICS_PORT", "9100")
    assert parse(["worker"]).metrics_port == 9100
