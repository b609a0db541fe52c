"""S3 notifications from an SQS queue onto a Kafka topic (``python -m pipeline.bridge``).

S3 notifies SQS, SNS, Lambda or EventBridge, never Kafka; on AWS the way into an MSK topic
is a small forwarder (EventBridge Pipes, a Lambda, Kafka Connect's SQS source). This is
that forwarder, for ``memvec stack up --source kafka``:

- it long-polls the queue (:class:`connectors.sqs.SqsSource`) and produces every message
  body unchanged to the topic (:class:`connectors.kafka_sink.KafkaSink`, ``acks=all``),
  keyed by ``bucket/key`` of the notification's first record, so every event of one object
  lands on one partition, in order: workers sharing the topic through a consumer group
  never reorder an object's versions (a standard SQS queue has no order at all). Bodies
  that are not S3 notifications (``s3:TestEvent``, anything unparsable) go unkeyed, and the
  workers decide what to do with them, as they would reading the queue;
- a batch's messages are deleted from the queue only after Kafka acknowledged all of
  them: at-least-once. A crash in between forwards them again; duplicates are harmless
  because the pipeline is idempotent.

:func:`forward` moves one batch (tests call it directly); :func:`run_bridge` loops until
its ``stop`` event is set (SIGTERM/SIGINT in :func:`main`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from urllib.parse import urlparse

from connectors.base import Batch, Record
from connectors.errors import ConnectorError
from connectors.kafka_sink import KafkaSink
from connectors.s3_events import parse_s3_events
from connectors.sqs import SqsSource

__all__ = ["build_parser", "forward", "main", "object_key", "run_bridge"]

log = logging.getLogger("memvec.bridge")


def object_key(body: bytes) -> bytes | None:
    """``bucket/key`` of the first object change in an S3 notification, else None."""
    try:
        events = parse_s3_events(body)
    except (ConnectorError, ValueError):
        return None
    return f"{events[0].bucket}/{events[0].key}".encode() if events else None


async def forward(source: SqsSource, sink: KafkaSink, topic: str, batch: Batch) -> int:
    """Produce every message of `batch` to `topic`, then delete them from the queue.

    Raises (without deleting) when Kafka did not acknowledge every record: the messages
    reappear after their visibility timeout and are forwarded again.
    """
    records: Sequence[Record] = batch.records
    await sink.send_batch(topic, [(object_key(r.value), r.value) for r in records])
    await source.ack(batch)
    return len(records)


async def run_bridge(
    queue_url: str, to_url: str, endpoint_url: str | None, stop: asyncio.Event,
    wait_s: float = 1.0, batch_size: int = 100,
) -> int:  # fmt: skip
    """Forward until `stop` is set; returns how many messages were forwarded."""
    parsed = urlparse(to_url)
    if parsed.scheme != "kafka" or not parsed.path.strip("/"):
        raise SystemExit(f"--to {to_url!r}: use kafka://host:port/topic")
    topic = parsed.path.strip("/")
    source = SqsSource(queue_url, endpoint_url=endpoint_url)
    sink = KafkaSink(parsed.netloc)
    forwarded = 0
    await source.start()
    await sink.start()
    try:
        print(f"memvec bridge ready: {queue_url} -> {to_url}", flush=True)
        while not stop.is_set():
            batch = await source.get_batch(batch_size, wait_s)
            if batch is None:
                continue
            try:
                forwarded += await forward(source, sink, topic, batch)
            except ConnectorError as exc:
                log.warning("%d messages not forwarded (they will be again): %s",
                            len(batch.records), exc)  # fmt: skip
    finally:
        await sink.stop()
        await source.stop()
    return forwarded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.bridge", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--source", required=True, help="SQS queue URL (http://.../queue)")
    parser.add_argument("--to", required=True, help="kafka://host:port/topic")
    parser.add_argument(
        "--aws-endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
        help="SQS endpoint: moto, LocalStack (env AWS_ENDPOINT_URL; default AWS)",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def go() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_bridge(args.source, args.to, args.aws_endpoint_url, stop)
        return 0

    return asyncio.run(go())


if __name__ == "__main__":
    sys.exit(main())
