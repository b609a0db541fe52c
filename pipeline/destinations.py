"""On-failure destinations for the runner: where a record goes when it cannot be handled.

Each takes the dead-letter payload (:func:`pipeline.runner.dead_letter`: the original
record plus the reason) and returns only once the destination holds it durably, so the
runner may then acknowledge the batch; ``close()`` releases what it holds (a Kafka
producer) and is called once when the worker stops. URLs:

* ``kafka://host:port/topic``: a Kafka topic (producer acks=all);
* ``sqs://<queue url without scheme>`` or an ``https://sqs...`` queue URL: an SQS queue;
* ``s3://bucket/prefix``: one object per failed record under the prefix;
* ``file:///path/dlq.jsonl`` or a plain path: JSON lines, fsynced (embedded runs).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from connectors.base import ObjectStore, Record


class _Closes:
    async def close(self) -> None:
        """Nothing to release."""


class FileDestination(_Closes):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    async def send(self, payload: bytes, record: Record) -> None:
        await asyncio.to_thread(self._append, payload)

    def _append(self, payload: bytes) -> None:
        with open(self.path, "ab") as f:
            f.write(payload + b"\n")
            f.flush()
            os.fsync(f.fileno())


class S3Destination(_Closes):
    def __init__(self, objects: ObjectStore, bucket: str, prefix: str) -> None:
        self.objects, self.bucket, self.prefix = objects, bucket, prefix.strip("/")

    async def send(self, payload: bytes, record: Record) -> None:
        name = f"{record.stream}/{record.partition}/{record.position}.json".replace("//", "/")
        key = f"{self.prefix}/{name}" if self.prefix else name
        await asyncio.to_thread(self.objects.put, self.bucket, key, payload)


class KafkaDestination:
    def __init__(self, sink: Any, topic: str) -> None:
        self.sink, self.topic = sink, topic

    async def send(self, payload: bytes, record: Record) -> None:
        await self.sink.send(self.topic, payload, key=record.key)

    async def close(self) -> None:
        await self.sink.stop()


class SqsDestination(_Closes):
    def __init__(self, sink: Any) -> None:
        self.sink = sink

    async def send(self, payload: bytes, record: Record) -> None:
        await self.sink.send([payload])


async def open_destination(url: str, *, endpoint_url: str | None = None) -> Any:
    """A started destination for ``url`` (see the module docstring)."""
    parsed = urlparse(url)
    if parsed.scheme == "kafka":
        from connectors.kafka_sink import KafkaSink

        sink = KafkaSink(parsed.netloc)
        await sink.start()
        return KafkaDestination(sink, parsed.path.lstrip("/"))
    if parsed.scheme == "s3":
        from connectors.s3 import S3ObjectStore

        return S3Destination(S3ObjectStore(endpoint_url=endpoint_url), parsed.netloc, parsed.path)
    if parsed.scheme in ("sqs", "http", "https"):
        from connectors.sqs import SqsSink

        queue = url if parsed.scheme != "sqs" else "http://" + url[len("sqs://") :]
        return SqsDestination(SqsSink(queue, endpoint_url=endpoint_url))
    if parsed.scheme in ("file", ""):
        return FileDestination(parsed.path if parsed.scheme == "file" else url)
    raise ValueError(
        f"unknown destination {url!r}: use kafka://host:port/topic, sqs://..., "
        "s3://bucket/prefix or a file path"
    )
