"""In-memory twins of the real connectors, for fast unit tests; same contracts, no I/O.

* :class:`MemoryObjectStore`: buckets of objects with optional versioning (a delete in a
  versioned bucket adds a delete marker), MD5 ETags without quotes like S3's single-part
  uploads, ``NotFound``/``ObjectTooLarge`` as :class:`~connectors.s3.S3ObjectStore` raises.
* :class:`MemoryLog` + :class:`MemorySource`: a partitioned append-only log (the "broker")
  and a consumer of it. The log outlives its consumers and keeps each group's committed
  position per partition, so a new :class:`MemorySource` on the same log and group
  resumes where the last acknowledged batch ended. Within a partition batches come in
  order; ``ack`` may arrive out of order, but the committed position only advances over a
  contiguous run of acknowledged batches, so it never passes unacknowledged work.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from connectors.base import Batch, ObjectData, ObjectStore, ObjectSummary, Record, Source
from connectors.errors import NotFound, ObjectTooLarge

__all__ = ["MemoryLog", "MemoryObjectStore", "MemorySource"]


@dataclass
class _Version:
    data: ObjectData | None  # None: a delete marker
    version_id: str | None


@dataclass
class _Bucket:
    versioned: bool = False
    keys: dict[str, list[_Version]] = field(default_factory=dict)  # newest last


class MemoryObjectStore(ObjectStore):
    """Objects in a dict; thread-safe."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._next_version = 0

    def create_bucket(self, bucket: str, *, versioned: bool = False) -> None:
        with self._lock:
            self._buckets.setdefault(bucket, _Bucket()).versioned |= versioned

    def get(
        self, bucket: str, key: str, *, version_id: str | None = None, max_bytes: int | None = None
    ) -> ObjectData:
        data = self._find(bucket, key, version_id)
        if max_bytes is not None and data.size > max_bytes:
            raise ObjectTooLarge(
                f"s3://{bucket}/{key} is {data.size} bytes, over the limit of {max_bytes}; "
                "raise max_bytes or skip it"
            )
        return data

    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectSummary:
        return _summary(self._find(bucket, key, version_id))

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectSummary]:
        with self._lock:
            keys = self._bucket(bucket).keys
            latest = [v[-1].data for k, v in sorted(keys.items()) if k.startswith(prefix)]
        for data in latest:
            if data is not None:
                yield _summary(data, with_version=False)

    def list_versions(self, bucket: str, prefix: str = "") -> Iterator[ObjectSummary]:
        with self._lock:
            keys = self._bucket(bucket).keys
            rows = [
                version.data
                for key, versions in sorted(keys.items())
                if key.startswith(prefix)
                for version in reversed(versions)
            ]
        for data in rows:
            if data is not None:
                yield _summary(data)

    def put(self, bucket: str, key: str, body: bytes, **kw: object) -> ObjectSummary:
        metadata = kw.get("metadata") or {}
        with self._lock:
            store = self._bucket(bucket)
            version_id = self._new_version() if store.versioned else None
            data = ObjectData(
                bucket=bucket,
                key=key,
                body=bytes(body),
                etag=hashlib.md5(body).hexdigest(),
                version_id=version_id,
                content_type=_opt(kw.get("content_type")),
                content_encoding=_opt(kw.get("content_encoding")),
                last_modified_ms=int(time.time() * 1000),
                metadata={str(k): str(v) for k, v in dict(metadata).items()},  # type: ignore[call-overload]
            )
            versions = store.keys.setdefault(key, [])
            if not store.versioned:
                versions.clear()
            versions.append(_Version(data, version_id))
        return _summary(data)

    def delete(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        with self._lock:
            store = self._bucket(bucket)
            versions = store.keys.get(key)
            if version_id is not None:
                if versions is not None:
                    versions[:] = [v for v in versions if v.version_id != version_id]
                    if not versions:
                        del store.keys[key]
            elif store.versioned:
                store.keys.setdefault(key, []).append(_Version(None, self._new_version()))
            else:
                store.keys.pop(key, None)

    def _find(self, bucket: str, key: str, version_id: str | None) -> ObjectData:
        with self._lock:
            versions = self._bucket(bucket).keys.get(key, [])
            if version_id is None:
                found = versions[-1].data if versions else None
            else:
                found = next((v.data for v in versions if v.version_id == version_id), None)
        if found is None:
            what = f"s3://{bucket}/{key}" + (f"?versionId={version_id}" if version_id else "")
            raise NotFound(f"NoSuchKey ({what}); check the bucket, key and version id")
        return found

    def _bucket(self, bucket: str) -> _Bucket:
        try:
            return self._buckets[bucket]
        except KeyError:
            raise NotFound(f"NoSuchBucket ({bucket}); create it first") from None

    def _new_version(self) -> str:
        self._next_version += 1
        return f"v{self._next_version:012d}"


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _summary(data: ObjectData, *, with_version: bool = True) -> ObjectSummary:
    return ObjectSummary(
        bucket=data.bucket,
        key=data.key,
        etag=data.etag,
        size=data.size,
        last_modified_ms=data.last_modified_ms,
        version_id=data.version_id if with_version else None,
    )


class MemoryLog:
    """Partitions of records plus committed positions per consumer group; thread-safe."""

    def __init__(self, stream: str = "memory", partitions: int = 1) -> None:
        self.stream = stream
        self._partitions: list[list[Record]] = [[] for _ in range(partitions)]
        self._committed: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    @property
    def partitions(self) -> int:
        return len(self._partitions)

    def append(
        self, value: bytes, *, partition: int = 0, key: bytes | None = None, timestamp_ms: int = 0
    ) -> Record:
        with self._lock:
            records = self._partitions[partition]
            record = Record(
                source="memory",
                stream=self.stream,
                partition=str(partition),
                position=str(len(records)),
                value=value,
                key=key,
                timestamp_ms=timestamp_ms or int(time.time() * 1000),
            )
            records.append(record)
        return record

    def read(self, partition: int, start: int, limit: int) -> list[Record]:
        with self._lock:
            return self._partitions[partition][start : start + limit]

    def committed(self, group: str, partition: int) -> int:
        """The next position ``group`` will read in ``partition`` after a restart."""
        with self._lock:
            return self._committed.get((group, partition), 0)

    def commit(self, group: str, partition: int, position: int) -> None:
        with self._lock:
            slot = (group, partition)
            self._committed[slot] = max(self._committed.get(slot, 0), position)


class MemorySource(Source):
    """A consumer of one :class:`MemoryLog` in consumer group ``group``."""

    def __init__(self, log: MemoryLog, group: str = "default", *, poll_s: float = 0.005) -> None:
        self.log = log
        self.group = group
        self.poll_s = poll_s
        self._started = False
        self._fetch: list[int] = []
        self._acked: list[dict[int, int]] = []  # per partition: batch start -> batch end
        self._next_partition = 0

    async def start(self) -> None:
        if self._started:
            return
        self._fetch = [self.log.committed(self.group, p) for p in range(self.log.partitions)]
        self._acked = [{} for _ in range(self.log.partitions)]
        self._started = True

    async def stop(self) -> None:
        self._started = False

    async def get_batch(self, max_records: int, timeout_s: float) -> Batch | None:
        if not self._started:
            raise RuntimeError("MemorySource.get_batch() before start(); call start() first")
        deadline = time.monotonic() + timeout_s
        while True:
            for _ in range(self.log.partitions):
                partition = self._next_partition
                self._next_partition = (partition + 1) % self.log.partitions
                records = self.log.read(partition, self._fetch[partition], max_records)
                if records:
                    self._fetch[partition] += len(records)
                    return Batch(self.log.stream, str(partition), tuple(records))
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(self.poll_s)

    async def ack(self, batch: Batch) -> None:
        if not batch.records:
            return
        partition = int(batch.partition)
        start = int(batch.records[0].position)
        acked = self._acked[partition]
        acked[start] = int(batch.records[-1].position) + 1
        committed = self.log.committed(self.group, partition)
        while committed in acked:
            committed = acked.pop(committed)
        self.log.commit(self.group, partition, committed)
