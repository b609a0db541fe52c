"""``memvec worker``: the event-source runner as a process (Lambda ESM semantics locally).

Reads S3 notifications (or inline documents) from Kafka, Kinesis or SQS, runs the
pipeline on each record, writes to the store, sends failures to the destination, and
commits/checkpoints only after the store acknowledged. Several workers can share a Kafka
consumer group or a Kinesis lease table. SIGTERM/SIGINT stop it cleanly (in-flight batches
finish or are left uncommitted).

Source URLs: ``kafka://host:port/topic?group=NAME``, ``kinesis://STREAM?lease_table=T``,
``sqs://host:port/queue-path`` or the queue's ``http(s)://`` URL.
Store URLs: ``redis://host:port`` (memvec server, redis-stack-server, MemoryDB) or
``embedded:/path/to/dir``; a comma-separated list of every node of one store
(``redis://a:6379,redis://b:6379``) follows whichever is primary through a failover
(:mod:`pipeline.stores.failover`); ``redis+cluster://host:port[,host:port...]`` (or
``rediss+cluster://``) is a Redis Cluster, routed by slot (:mod:`pipeline.stores.cluster`).
``--embedder`` chooses what embeds the chunks: ``local`` (default), ``onnx`` or
``sagemaker:<endpoint-name>`` (:mod:`pipeline.embedder_spec`; the endpoint is reached at
``--aws-endpoint-url`` when given). ``--metrics-port`` serves the Prometheus metrics of
``pipeline.metrics`` (records in/ok/failed, DLQ, latencies, freshness, lag) at /metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from typing import Any
from urllib.parse import parse_qs, urlparse

from connectors.base import Source

from .defaults import DEFAULT_INDEX
from .embedder_spec import add_embedder_option

ENV = {
    "source": "MEMVEC_SOURCE",
    "store": "MEMVEC_STORE_URL",
    "dlq": "MEMVEC_DLQ",
    "aws_endpoint_url": "AWS_ENDPOINT_URL",
    "index": "MEMVEC_INDEX",
    "storage": "MEMVEC_STORAGE",
    "batch_size": "MEMVEC_BATCH_SIZE",
    "batching_window_ms": "MEMVEC_BATCHING_WINDOW_MS",
    "max_retry_attempts": "MEMVEC_MAX_RETRY_ATTEMPTS",
    "max_record_age_s": "MEMVEC_MAX_RECORD_AGE_S",
    "parallelism": "MEMVEC_PARALLELISM",
    "metrics_port": "MEMVEC_METRICS_PORT",
}


def add_worker_parser(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="run the pipeline on a stream of S3 notifications (Kafka, Kinesis, SQS)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def opt(name: str, help_text: str, default: Any = None, kind: Any = str) -> None:
        env = ENV[name]
        value = os.environ.get(env, default)
        p.add_argument(
            "--" + name.replace("_", "-"), default=kind(value) if value is not None else None,
            type=kind, help=f"{help_text} (env {env}; default {default})",
        )  # fmt: skip

    opt("source", "source URL (required)")
    opt(
        "store",
        "store URL; a comma-separated list follows the primary; "
        "redis+cluster://HOST:PORT[,HOST:PORT...] for a cluster",
        "redis://127.0.0.1:6379",
    )
    opt("dlq", "on-failure destination URL", "./data/dlq.jsonl")
    opt("aws_endpoint_url", "S3/Kinesis/SQS/DynamoDB/SageMaker endpoint (moto, LocalStack)")
    opt("index", "index name", DEFAULT_INDEX)
    opt("storage", "chunks as 'hash' or 'json' documents (nested metadata kept)", "hash",
        _storage)  # fmt: skip
    opt("batch_size", "records per batch", 100, int)
    opt("batching_window_ms", "wait this long to fill a batch", 500, int)
    opt("max_retry_attempts", "retries before the destination", 2, int)
    opt("max_record_age_s", "older records go to the destination (0 = no limit)", 21600, int)
    opt("parallelism", "batches of distinct partitions in flight", 2, int)
    opt("metrics_port", "serve Prometheus /metrics on this port, all interfaces (0 = off)", 0, int)
    add_embedder_option(p)
    p.set_defaults(run=lambda args: asyncio.run(run_worker(args)))


def _storage(value: str) -> str:
    if value not in ("hash", "json"):
        raise argparse.ArgumentTypeError(f"{value!r}: use 'hash' or 'json'")
    return value


def open_source(url: str, endpoint_url: str | None, worker_id: str) -> Source:
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    if parsed.scheme == "kafka":
        from connectors.kafka_source import KafkaSource

        timeouts: dict[str, Any] = {k: int(v) for k, v in query.items() if k.endswith("_ms")}
        return KafkaSource(
            parsed.netloc, [parsed.path.lstrip("/")], query.get("group", "memvec-worker"),
            **timeouts,
        )  # fmt: skip
    if parsed.scheme == "kinesis":
        from connectors.kinesis import KinesisSource

        return KinesisSource(
            parsed.netloc, endpoint_url=endpoint_url, worker_id=worker_id,
            lease_table=query.get("lease_table", f"memvec-{parsed.netloc}-leases"),
            lease_timeout_s=float(query.get("lease_timeout_s", 10)),
            poll_interval_s=float(query.get("poll_interval_s", 0.5)),
        )  # fmt: skip
    if parsed.scheme in ("sqs", "http", "https"):
        from connectors.sqs import SqsSource

        queue = url if parsed.scheme != "sqs" else "http://" + url[len("sqs://") :]
        return SqsSource(queue, endpoint_url=endpoint_url)
    raise SystemExit(f"unknown --source {url!r}: use kafka://, kinesis:// or sqs://")


async def run_worker(args: argparse.Namespace) -> int:
    from connectors.s3 import S3ObjectStore

    from . import handler
    from .destinations import open_destination
    from .embedder_spec import open_embedder
    from .metrics import PipelineMetrics
    from .processor import IngestConfig, Processor
    from .runner import Runner, RunnerConfig, pipeline_process
    from .stores import open_store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if not args.source:
        raise SystemExit("--source is required (or set MEMVEC_SOURCE)")
    worker_id = f"{os.uname().nodename}-{os.getpid()}"
    try:
        store, close_store = open_store(args.store)
    except ValueError as exc:
        raise SystemExit(f"--store: {exc}") from None
    metrics = PipelineMetrics()
    embedder = open_embedder(args.embedder, endpoint_url=args.aws_endpoint_url)
    processor = Processor(
        store, S3ObjectStore(endpoint_url=args.aws_endpoint_url), embedder,
        IngestConfig(index=args.index, storage=args.storage), metrics=metrics,
    )  # fmt: skip
    handler.configure(processor)
    source = open_source(args.source, args.aws_endpoint_url, worker_id)
    destination = await open_destination(args.dlq, endpoint_url=args.aws_endpoint_url)
    config = RunnerConfig(
        batch_size=args.batch_size, batching_window_s=args.batching_window_ms / 1000,
        max_retry_attempts=args.max_retry_attempts, max_record_age_s=args.max_record_age_s,
        parallelism=args.parallelism,
    )  # fmt: skip
    runner = Runner(source, pipeline_process, destination, config, metrics=metrics)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.stop)
    server = None
    await source.start()
    try:
        if args.metrics_port:
            server = metrics.serve(args.metrics_port)
        print(f"memvec worker {worker_id} ready: {args.source} -> {args.store}", flush=True)
        await runner.run()
    finally:
        await source.stop()
        await destination.close()
        close_store()
        if server is not None:
            server.close()
    return 0
