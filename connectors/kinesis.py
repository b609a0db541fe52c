"""Kinesis Data Streams source: polling GetRecords, shard leases, KCL-like coordination.

Contract (on top of :class:`~connectors.base.Source`):

* Each worker (one :class:`KinesisSource`) holds leases on some shards of the stream; the
  leases and checkpoints live in a :class:`~connectors.leases.LeaseStore` (a DynamoDB
  :class:`~connectors.leases.LeaseTable` shared by the workers, or a
  :class:`~connectors.leases.FileCheckpointStore` for one embedded worker).
* A background coordinator, every ``lease_timeout_s / 3``: lists the shards
  (``ListShards``, every ``discovery_interval_s``) and creates a lease per new shard;
  renews (heartbeats) the held leases, dropping any it lost; takes free or expired leases
  up to an even share (``ceil(eligible / live workers)``) and steals one lease per round
  from a worker holding more than that share.
* A shard is eligible only when every parent's lease is checkpointed at ``SHARD_END``, so
  after a split or merge children are read only after their parents were fully handled.
* One reader task per held shard polls ``GetRecords``: from ``AFTER_SEQUENCE_NUMBER`` of
  the checkpoint, else from ``initial_position`` (children of a listed parent start at
  ``TRIM_HORIZON``: the parent was read, so all of the child must be). While records
  flow it polls again at once, idling ``poll_interval_s`` after an empty read.
  ``ProvisionedThroughputExceeded`` backs off exponentially; an
  ``ExpiredIteratorException`` gets a new iterator after the last record already read.
  The shard ends when ``NextShardIterator`` is absent, or (for endpoints such as moto that
  never say so) when ListShards reports the shard closed and a read returned nothing past
  its ``EndingSequenceNumber``.
* ``get_batch`` returns records of one shard, in order, shards served round-robin.
  ``ack(batch)`` checkpoints the batch's last sequence number once every earlier batch
  of that shard is acknowledged; when a finished shard has everything acknowledged it is
  checkpointed ``SHARD_END`` and its lease released. Acknowledging a batch of a shard
  this worker no longer holds raises :class:`~connectors.errors.CommitRejected`
  (nothing is committed; the new owner re-reads from the last checkpoint).
* ``stop()`` stops reading, keeps the checkpoints of acknowledged work and releases the
  leases; ``stop(release_leases=False)`` leaves them to expire, as a crash would.
  Leases owned by this ``worker_id`` but not held (a restart under the same id) are
  taken back at once.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.aws import AwsEndpoint, endpoint_or_url, make_aws_client
from connectors.base import Batch, Record, Source
from connectors.errors import CommitRejected, ConnectorError, Throttled, from_botocore
from connectors.leases import SHARD_END, Lease, LeaseStore, LeaseTable, plan_takes
from store.aio import within

__all__ = ["IteratorType", "KinesisSource", "SourceState"]

log = logging.getLogger(__name__)


class IteratorType(enum.StrEnum):
    TRIM_HORIZON = "TRIM_HORIZON"
    LATEST = "LATEST"
    AT_SEQUENCE_NUMBER = "AT_SEQUENCE_NUMBER"
    AT_TIMESTAMP = "AT_TIMESTAMP"


class SourceState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass
class _ShardInfo:
    shard_id: str
    parents: tuple[str, ...]
    ending_sequence_number: str | None
    starting_sequence_number: str | None


@dataclass
class _Held:
    """A shard this worker holds: buffered records and handed-out batches awaiting ack."""

    lease: Lease
    buffer: collections.deque[Record] = field(default_factory=collections.deque)
    outstanding: collections.OrderedDict[tuple[str, str, int], bool] = field(
        default_factory=collections.OrderedDict
    )
    last_read: str | None = None
    reached_end: bool = False
    space: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class KinesisSource(Source):
    """Records of one Kinesis stream, shared with other workers through a lease store."""

    def __init__(
        self,
        stream_name: str,
        *,
        endpoint: AwsEndpoint | None = None,
        endpoint_url: str | None = None,
        worker_id: str | None = None,
        lease_table: str | None = None,
        lease_store: LeaseStore | None = None,
        initial_position: IteratorType | str = IteratorType.TRIM_HORIZON,
        start_sequence_numbers: Mapping[str, str] | None = None,
        start_timestamp: datetime | None = None,
        poll_interval_s: float = 1.0,
        max_records_per_call: int = 1000,
        max_buffered_records: int = 10_000,
        lease_timeout_s: float = 10.0,
        discovery_interval_s: float = 10.0,
        backoff_max_s: float = 5.0,
        kinesis_client: Any = None,
        dynamodb_client: Any = None,
    ) -> None:
        """``lease_table`` (DynamoDB, many workers) or ``lease_store`` must be given.

        ``initial_position`` applies to shards with no checkpoint and no parents:
        ``TRIM_HORIZON`` re-reads the retention window, ``LATEST`` skips history,
        ``AT_SEQUENCE_NUMBER`` uses ``start_sequence_numbers[shard_id]`` (shards missing
        there start at ``TRIM_HORIZON``), ``AT_TIMESTAMP`` uses ``start_timestamp``.
        ``poll_interval_s`` is the idle wait after an empty GetRecords (AWS allows 5 calls
        per shard per second, shared by every consumer). ``lease_timeout_s`` trades
        failover time against false takeovers under long pauses. ``endpoint`` says where
        Kinesis and DynamoDB are (``endpoint_url`` alone is shorthand for
        ``AwsEndpoint(endpoint_url)``) when their clients are not passed in.
        """
        if lease_store is None and lease_table is None:
            raise ValueError("pass lease_table (DynamoDB) or lease_store (e.g. a checkpoint file)")
        self.stream_name = stream_name
        self.endpoint = endpoint_or_url(endpoint, endpoint_url)
        self.worker_id = worker_id or _default_worker_id()
        self.initial_position = IteratorType(initial_position)
        self.start_sequence_numbers = dict(start_sequence_numbers or {})
        self.start_timestamp = start_timestamp
        if self.initial_position is IteratorType.AT_TIMESTAMP and start_timestamp is None:
            raise ValueError("initial_position AT_TIMESTAMP needs start_timestamp")
        self.poll_interval_s = poll_interval_s
        self.max_records_per_call = max_records_per_call
        self.max_buffered_records = max_buffered_records
        self.lease_timeout_s = lease_timeout_s
        self.discovery_interval_s = discovery_interval_s
        self.backoff_max_s = backoff_max_s
        self.state = SourceState.NEW
        self.last_error: BaseException | None = None
        self._kinesis = kinesis_client or make_aws_client("kinesis", self.endpoint)
        if lease_store is None:
            assert lease_table is not None
            lease_store = LeaseTable(
                dynamodb_client or make_aws_client("dynamodb", self.endpoint),
                lease_table,
                self.worker_id,
                lease_timeout_s=lease_timeout_s,
            )
        self.leases = lease_store
        self._shards: dict[str, _ShardInfo] = {}
        self._held: dict[str, _Held] = {}
        self._lease_lock = asyncio.Lock()
        self._data = asyncio.Event()
        self._coordinator: asyncio.Task[None] | None = None
        self._next_discovery = 0.0
        self._rr: collections.deque[str] = collections.deque()

    @property
    def held_shards(self) -> list[str]:
        """Shards this worker holds a lease on right now."""
        return sorted(self._held)

    async def start(self) -> None:
        if self.state is not SourceState.NEW:
            return
        await asyncio.to_thread(self.leases.ensure)
        self.state = SourceState.RUNNING
        try:
            await self._coordinate_once()
        except BaseException:
            await self.stop()
            raise
        self._coordinator = asyncio.create_task(self._coordinate(), name="kinesis-leases")

    async def stop(self, *, release_leases: bool = True) -> None:
        if self.state is SourceState.STOPPED:
            return
        was_running = self.state is SourceState.RUNNING
        self.state = SourceState.STOPPED
        async with self._lease_lock:  # no lease write is half done while tasks are cancelled
            tasks = [t for t in [self._coordinator, *(h.reader for h in self._held.values())] if t]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            held, self._held = self._held, {}
            self._rr.clear()
            self._data.set()
            if not (was_running and release_leases):
                return
            for shard_id, h in held.items():
                try:
                    await self._commit_locked(shard_id, h)
                    await self._write(h, self.leases.release)
                except ConnectorError as exc:
                    log.warning("could not release the lease on %s: %s", shard_id, exc)

    async def get_batch(self, max_records: int, timeout_s: float) -> Batch | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            batch = self._take_batch(max_records)
            if batch is not None:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0 or self.state is SourceState.STOPPED:
                return None
            self._data.clear()
            try:
                await within(self._data.wait(), remaining)
            except TimeoutError:
                return None

    def _take_batch(self, max_records: int) -> Batch | None:
        for _ in range(len(self._rr)):
            shard_id = self._rr[0]
            self._rr.rotate(-1)
            h = self._held.get(shard_id)
            if h is None or not h.buffer:
                continue
            n = min(max_records, len(h.buffer))
            records = tuple(h.buffer.popleft() for _ in range(n))
            h.outstanding[_batch_key(records)] = False
            h.space.set()
            return Batch(self.stream_name, shard_id, records)
        return None

    async def ack(self, batch: Batch) -> None:
        if not batch.records:
            return
        h = self._held.get(batch.partition)
        key = _batch_key(batch.records)
        if h is None or key not in h.outstanding:
            raise CommitRejected(
                f"shard {batch.partition} is no longer held by {self.worker_id}; "
                "its new owner resumes from the last checkpoint"
            )
        h.outstanding[key] = True
        async with self._lease_lock:
            if self._held.get(batch.partition) is not h:
                raise CommitRejected(f"shard {batch.partition} was lost before its checkpoint")
            await self._commit_locked(batch.partition, h)
        await self._maybe_finish(batch.partition, h)

    async def _commit_locked(self, shard_id: str, h: _Held) -> None:
        """Checkpoint the end of the acknowledged prefix of ``h``'s batches (lock held).

        Batches leave ``outstanding`` only once the checkpoint is written, so a failed
        write (throttled, endpoint down) is covered by the next ack or by ``stop()``."""
        prefix: list[tuple[str, str, int]] = []
        for key, done in h.outstanding.items():
            if not done:
                break
            prefix.append(key)
        if not prefix:
            return
        checkpoint = prefix[-1][1]
        cur = h.lease.checkpoint
        if cur is None or cur == SHARD_END or int(cur) < int(checkpoint):
            try:
                await self._write(h, self.leases.checkpoint, checkpoint)
            except CommitRejected:
                self._drop(shard_id)
                raise
        for key in prefix:
            del h.outstanding[key]

    async def _maybe_finish(self, shard_id: str, h: _Held) -> None:
        """Checkpoint SHARD_END and release the lease once a finished shard is all acked."""
        async with self._lease_lock:
            if self._held.get(shard_id) is not h:
                return
            if not (h.reached_end and not h.buffer and not h.outstanding):
                return
            try:
                await self._write(h, self.leases.checkpoint, SHARD_END)
            except CommitRejected:
                self._drop(shard_id)
                raise
            self._drop(shard_id)
            try:
                await self._write(h, self.leases.release)
            except ConnectorError as exc:
                log.warning("%s: could not release finished %s: %s", self.worker_id, shard_id, exc)
        log.info("%s: shard %s finished (SHARD_END)", self.worker_id, shard_id)

    async def _write(self, h: _Held, op: Callable[..., Lease], *args: str) -> None:
        """``h.lease = op(h.lease, *args)`` in a thread, finished even if the caller is
        cancelled: the table's counter moved, so the local copy must move with it."""

        def run() -> None:
            h.lease = op(h.lease, *args)

        done = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            await asyncio.wait([done])
            raise

    def _drop(self, shard_id: str) -> None:
        h = self._held.pop(shard_id, None)
        if shard_id in self._rr:
            self._rr.remove(shard_id)
        if h is not None and h.reader is not None and h.reader is not asyncio.current_task():
            h.reader.cancel()

    # coordination

    async def _coordinate(self) -> None:
        interval = self.lease_timeout_s / 3
        while self.state is SourceState.RUNNING:
            await asyncio.sleep(interval)
            try:
                await self._coordinate_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = exc
                log.warning("%s: lease round failed, retrying: %s", self.worker_id, exc)

    async def _coordinate_once(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() >= self._next_discovery:
            await self._discover()
            self._next_discovery = loop.time() + self.discovery_interval_s
        await self._renew()
        leases = await asyncio.to_thread(self.leases.list_leases)
        await self._balance(leases)

    async def _discover(self) -> None:
        shards = await asyncio.to_thread(self._list_shards)
        for info in shards:
            if info.shard_id not in self._shards:
                await asyncio.to_thread(self.leases.create_if_missing, info.shard_id, info.parents)
            self._shards[info.shard_id] = info

    def _list_shards(self) -> list[_ShardInfo]:
        import botocore.exceptions as bx

        out: list[_ShardInfo] = []
        kwargs: dict[str, Any] = {"StreamName": self.stream_name}
        while True:
            try:
                page = self._kinesis.list_shards(**kwargs)
            except (bx.ClientError, bx.BotoCoreError) as exc:
                raise from_botocore(exc, f"ListShards {self.stream_name}") from exc
            for s in page.get("Shards", []):
                parents = tuple(
                    p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p
                )
                seq = s.get("SequenceNumberRange", {})
                out.append(
                    _ShardInfo(
                        s["ShardId"],
                        parents,
                        seq.get("EndingSequenceNumber"),
                        seq.get("StartingSequenceNumber"),
                    )
                )
            token = page.get("NextToken")
            if not token:
                return out
            kwargs = {"NextToken": token}

    async def _renew(self) -> None:
        async with self._lease_lock:
            for shard_id, h in list(self._held.items()):
                try:
                    await self._write(h, self.leases.renew)
                except CommitRejected:
                    log.info("%s: lost the lease on %s", self.worker_id, shard_id)
                    self._drop(shard_id)

    async def _balance(self, leases: list[Lease]) -> None:
        for lease in plan_takes(leases, self.worker_id, set(self._held), self.leases.is_expired):
            await self._take(lease)

    async def _take(self, lease: Lease) -> None:
        async with self._lease_lock:
            if self.state is not SourceState.RUNNING or lease.shard_id in self._held:
                return
            h = _Held(lease)
            try:
                await self._write(h, self.leases.take)
            except CommitRejected:
                return
            h.space.set()
            self._held[lease.shard_id] = h
            if lease.shard_id not in self._rr:
                self._rr.append(lease.shard_id)
            h.reader = asyncio.create_task(
                self._read(lease.shard_id, h), name=f"kinesis-{lease.shard_id}"
            )
            log.info(
                "%s: took %s (was %s, checkpoint %s)",
                self.worker_id,
                lease.shard_id,
                lease.owner,
                lease.checkpoint,
            )

    # reading

    async def _read(self, shard_id: str, h: _Held) -> None:
        import botocore.exceptions as bx

        backoff = 0.0
        iterator: str | None = None
        while self._held.get(shard_id) is h:
            while len(h.buffer) >= self.max_buffered_records:
                h.space.clear()
                await h.space.wait()
            try:
                if iterator is None:
                    iterator = await asyncio.to_thread(self._iterator, shard_id, h)
                resp = await asyncio.to_thread(
                    self._kinesis.get_records,
                    ShardIterator=iterator,
                    Limit=self.max_records_per_call,
                )
            except (bx.ClientError, bx.BotoCoreError, ConnectorError) as exc:
                if isinstance(exc, bx.ClientError) and _code(exc) == "ExpiredIteratorException":
                    log.info("%s: iterator of %s expired, renewing", self.worker_id, shard_id)
                    iterator = None
                    continue
                err = exc if isinstance(exc, ConnectorError) else from_botocore(exc, shard_id)
                if not isinstance(err, Throttled):
                    self.last_error = err
                    log.warning("%s: reading %s failed: %s", self.worker_id, shard_id, err)
                backoff = min(self.backoff_max_s, max(0.1, backoff * 2))
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                continue
            backoff = 0.0
            records = resp.get("Records", [])
            for r in records:
                h.buffer.append(self._record(shard_id, r))
            if records:
                h.last_read = records[-1]["SequenceNumber"]
                self._data.set()
            iterator = resp.get("NextShardIterator")
            if iterator is None or (not records and self._closed_and_read(shard_id, h)):
                h.reached_end = True
                self._data.set()
                try:
                    await self._maybe_finish(shard_id, h)
                except ConnectorError as exc:
                    log.info("%s: finishing %s failed: %s", self.worker_id, shard_id, exc)
                return
            if not records:
                await asyncio.sleep(self.poll_interval_s)

    def _closed_and_read(self, shard_id: str, h: _Held) -> bool:
        info = self._shards.get(shard_id)
        if info is None or info.ending_sequence_number is None:
            return False
        position = h.last_read or (h.lease.checkpoint if h.lease.checkpoint != SHARD_END else None)
        if position is None:
            return int(info.ending_sequence_number) <= int(info.starting_sequence_number or 0)
        return int(position) >= int(info.ending_sequence_number)

    def _iterator(self, shard_id: str, h: _Held) -> str:
        import botocore.exceptions as bx

        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
        after = h.last_read or h.lease.checkpoint
        info = self._shards.get(shard_id)
        if after is not None and after != SHARD_END:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        elif info is not None and any(p in self._shards for p in info.parents):
            kwargs["ShardIteratorType"] = IteratorType.TRIM_HORIZON.value
        elif self.initial_position is IteratorType.AT_SEQUENCE_NUMBER:
            seq = self.start_sequence_numbers.get(shard_id)
            if seq is None:
                kwargs["ShardIteratorType"] = IteratorType.TRIM_HORIZON.value
            else:
                kwargs.update(ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq)
        elif self.initial_position is IteratorType.AT_TIMESTAMP:
            kwargs.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=self.start_timestamp)
        else:
            kwargs["ShardIteratorType"] = self.initial_position.value
        try:
            return str(self._kinesis.get_shard_iterator(**kwargs)["ShardIterator"])
        except (bx.ClientError, bx.BotoCoreError) as exc:
            raise from_botocore(exc, f"GetShardIterator {shard_id}") from exc

    def _record(self, shard_id: str, r: dict[str, Any]) -> Record:
        arrival = r.get("ApproximateArrivalTimestamp")
        return Record(
            source="kinesis",
            stream=self.stream_name,
            partition=shard_id,
            position=r["SequenceNumber"],
            value=bytes(r["Data"]),
            key=r["PartitionKey"].encode() if r.get("PartitionKey") is not None else None,
            timestamp_ms=int(arrival.timestamp() * 1000) if arrival is not None else 0,
        )


def _batch_key(records: tuple[Record, ...]) -> tuple[str, str, int]:
    return (records[0].position, records[-1].position, len(records))


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
