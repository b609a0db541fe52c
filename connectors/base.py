"""The small interfaces every connector implements; one contract suite per interface.

* :class:`ObjectStore`: objects by (bucket, key[, version]); S3 and an in-memory one.
* :class:`Source`: an ordered stream of :class:`Record` per partition (Kafka partition,
  Kinesis shard, SQS queue), read in :class:`Batch` es and acknowledged per batch.
  Contract: within a partition, batches come in order; ``ack(batch)`` says the sink has
  durably handled *every* record of it, and only then may the source commit/checkpoint
  the position after the batch (STYLE rule 12: resume state names the next record to
  read). After a restart (or a rebalance/lease change) reading resumes from the last
  committed position, so records after it may be delivered again (at-least-once; the
  pipeline is idempotent), and none before it are lost.

Sources are async (aiokafka is); boto3-based ones run their calls in a thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ObjectData:
    bucket: str
    key: str
    body: bytes
    etag: str
    version_id: str | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    last_modified_ms: int = 0
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass(frozen=True)
class ObjectSummary:
    bucket: str
    key: str
    etag: str
    size: int
    last_modified_ms: int = 0
    version_id: str | None = None


class ObjectStore(ABC):
    """Read access to objects (and writes, for tests and seeding)."""

    @abstractmethod
    def get(
        self, bucket: str, key: str, *, version_id: str | None = None, max_bytes: int | None = None
    ) -> ObjectData:
        """The object; ``ObjectTooLarge`` past ``max_bytes`` (checked before reading it all)."""

    @abstractmethod
    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectSummary: ...

    @abstractmethod
    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectSummary]:
        """Every object under ``prefix`` in key order, across pages."""

    @abstractmethod
    def put(self, bucket: str, key: str, body: bytes, **kw: object) -> ObjectSummary: ...

    @abstractmethod
    def delete(self, bucket: str, key: str) -> None: ...


@dataclass(frozen=True)
class Record:
    """One record of a stream, as every source hands it to the runner."""

    source: str  # "kafka" | "kinesis" | "sqs" | "memory"
    stream: str  # topic, stream name or queue URL
    partition: str  # Kafka partition number, Kinesis shard id, "" for SQS
    position: str  # Kafka offset, Kinesis sequence number, SQS message id
    value: bytes
    key: bytes | None = None
    timestamp_ms: int = 0
    headers: tuple[tuple[str, bytes], ...] = ()
    receipt: str | None = None  # SQS receipt handle (for delete / visibility)


@dataclass(frozen=True)
class Batch:
    stream: str
    partition: str
    records: tuple[Record, ...]


class Source(ABC):
    """See the module docstring for the ordering and commit contract."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None:
        """Idempotent. Commits nothing that was not acknowledged."""

    @abstractmethod
    async def get_batch(self, max_records: int, timeout_s: float) -> Batch | None:
        """The next batch of one partition, or None if nothing arrived in time."""

    @abstractmethod
    async def ack(self, batch: Batch) -> None:
        """Every record of ``batch`` is durably handled: commit past it."""

    async def batches(self, max_records: int = 100, timeout_s: float = 1.0) -> AsyncIterator[Batch]:
        while True:
            batch = await self.get_batch(max_records, timeout_s)
            if batch is not None:
                yield batch
