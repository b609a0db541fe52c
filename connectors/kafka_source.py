"""Kafka consumer-group source: batches of one partition, commits only acknowledged work.

Contract (on top of :class:`connectors.base.Source`):

- ``get_batch`` hands out a :class:`Batch` of records of *one* partition, in offset order
  within that partition. It fetches with ``getmany`` and keeps the records of the other
  partitions queued for the next calls (partitions take turns), so batches of several
  partitions can be in flight at once. Concurrent calls are served one after another.
- ``ack(batch)`` marks the batch done and commits ``last offset + 1`` of its partition,
  but only once every batch handed out before it on that partition is acknowledged too
  (a :class:`PartitionLedger` tracks the contiguous acknowledged prefix). A commit never
  runs past work that was handed out and not acknowledged.
- Rebalance (aiokafka's eager protocol: every rebalance revokes every partition, then
  assigns the new set): on revoke the source commits what is contiguously acknowledged
  for the revoked partitions, drops records fetched but not handed out, and *abandons*
  batches handed out and not acknowledged: a later ``ack`` of such a batch is a no-op,
  not a commit. The partition's next owner (possibly this source again) resumes from the
  last commit and redoes them: at-least-once, never a skipped record.
- A commit the broker rejects because the group rebalanced (``CommitFailedError``) is not
  raised from ``ack``: the acknowledged position stays pending and goes with the next
  commit of that partition, or its records are redone by the next owner. Other Kafka
  errors are raised as :mod:`connectors.errors` types (``from_kafka``).
- ``stop`` commits what is contiguously acknowledged, abandons the rest and leaves the
  group; it is idempotent. A stopped source is not restarted: create a new one. A
  ``get_batch`` waiting in another task when ``stop`` is called returns None.

Tombstones (records with a null value) are handed out with ``value=b""``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    ConsumerStoppedError,
    IllegalStateError,
    KafkaError,
)

from connectors.base import Batch, Record, Source
from connectors.errors import ConnectorError, EndpointUnavailable, from_kafka
from connectors.kafka_config import KafkaClientState, KafkaSecurity, client_kwargs
from store.aio import within

__all__ = ["KafkaSource", "PartitionLedger"]

log = logging.getLogger(__name__)


@dataclass
class _Handed:
    batch: Batch
    next_offset: int
    acked: bool = False


class PartitionLedger:
    """One partition during one assignment: batches handed out, acknowledged, committed.

    Batches are handed out in offset order. ``commit_point`` is the offset after the
    longest prefix of handed-out batches that are all acknowledged, the only position that
    may be committed; a batch acknowledged out of order waits for the ones before it.
    Batches are matched by identity, so an equal batch fetched again after a rebalance is
    a different batch.
    """

    def __init__(self) -> None:
        self._handed: deque[_Handed] = deque()
        self.commit_point: int | None = None
        self.committed: int | None = None

    @property
    def in_flight(self) -> int:
        """Batches handed out and not yet part of the acknowledged prefix."""
        return len(self._handed)

    def hand_out(self, batch: Batch, next_offset: int) -> None:
        self._handed.append(_Handed(batch, next_offset))

    def ack(self, batch: Batch) -> bool:
        """Mark ``batch`` acknowledged; False if it is not in flight here."""
        for entry in self._handed:
            if entry.batch is batch:
                entry.acked = True
                break
        else:
            return False
        while self._handed and self._handed[0].acked:
            self.commit_point = self._handed.popleft().next_offset
        return True

    def to_commit(self) -> int | None:
        """The position to commit now, or None if the broker already has it."""
        if self.commit_point is None:
            return None
        if self.committed is not None and self.commit_point <= self.committed:
            return None
        return self.commit_point

    def mark_committed(self, offset: int) -> None:
        self.committed = offset if self.committed is None else max(self.committed, offset)

    def abandon(self) -> list[Batch]:
        """Forget every batch in flight (acknowledged ones behind a gap included)."""
        batches = [entry.batch for entry in self._handed]
        self._handed.clear()
        return batches


@dataclass
class _Assignment:
    """A partition from the moment it is assigned to this member until it is revoked."""

    tp: TopicPartition
    ledger: PartitionLedger = field(default_factory=PartitionLedger)
    pending: deque[ConsumerRecord[Any, Any]] = field(default_factory=deque)
    next_fetch: int | None = None


def _record(message: ConsumerRecord[Any, Any]) -> Record:
    return Record(
        source="kafka",
        stream=message.topic,
        partition=str(message.partition),
        position=str(message.offset),
        value=message.value if message.value is not None else b"",
        key=message.key,
        timestamp_ms=message.timestamp,
        headers=tuple((name, bytes(value or b"")) for name, value in message.headers),
    )


class _Listener(ConsumerRebalanceListener):
    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._source._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._source._on_assigned(assigned)


class KafkaSource(Source):
    """A member of consumer group ``group_id`` reading ``topics``; see the module contract.

    Settings and their trade-offs:

    - ``auto_offset_reset``: where a partition without a committed offset starts
      ("earliest" reads the whole topic, "latest" only what arrives after joining).
    - ``session_timeout_ms`` / ``heartbeat_interval_ms``: how fast a dead member's
      partitions move to the others, against how long the event loop may be blocked before
      this member is evicted. ``rebalance_timeout_ms``: how long the group waits for
      members to rejoin (None: the session timeout). ``max_poll_interval_ms``: a member
      that does not call ``get_batch`` for this long leaves the group.
    - ``commit_timeout_ms``: how long ``ack`` waits for a commit before raising
      ``EndpointUnavailable`` (the position stays pending and goes with the next commit).
    - ``join_timeout_s``: when set, ``start`` returns only once the group assigned this
      member its partitions (possibly none), raising ``EndpointUnavailable`` after this
      long; None returns at once and the first ``get_batch`` calls find nothing until the
      group has formed.
    - ``security``: TLS/SASL for MSK; ``client_options``: any other ``AIOKafkaConsumer``
      argument, applied last.
    """

    def __init__(
        self,
        bootstrap_servers: str | list[str],
        topics: Sequence[str],
        group_id: str,
        *,
        auto_offset_reset: str = "earliest",
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        rebalance_timeout_ms: int | None = None,
        max_poll_interval_ms: int = 300_000,
        fetch_max_wait_ms: int = 500,
        commit_timeout_ms: int = 30_000,
        join_timeout_s: float | None = None,
        client_id: str = "memvec",
        security: KafkaSecurity | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not topics:
            raise ValueError("KafkaSource needs at least one topic")
        self.topics = tuple(topics)
        self.group_id = group_id
        self.commit_timeout_s = commit_timeout_ms / 1000
        self.join_timeout_s = join_timeout_s
        self._kwargs = client_kwargs(
            bootstrap_servers,
            security,
            client_options,
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset=auto_offset_reset,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            rebalance_timeout_ms=rebalance_timeout_ms,
            max_poll_interval_ms=max_poll_interval_ms,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )
        self._state = KafkaClientState.NEW
        self._consumer: AIOKafkaConsumer | None = None
        self._assigned: dict[TopicPartition, _Assignment] = {}
        self._ready: deque[TopicPartition] = deque()
        self._owners: dict[int, tuple[_Assignment, Batch]] = {}
        self._abandoned: weakref.WeakValueDictionary[int, Batch] = weakref.WeakValueDictionary()
        self._commit_lock = asyncio.Lock()
        self._fetch_lock = asyncio.Lock()
        self._joined = asyncio.Event()
        self.abandoned_batches = 0
        """Batches handed out and then abandoned (revoked or stopped before their ack)."""
        self.rebalances = 0
        """Rebalances that took partitions from this member."""

    @property
    def state(self) -> KafkaClientState:
        return self._state

    @property
    def assignment(self) -> frozenset[tuple[str, int]]:
        """The (topic, partition) pairs this member owns now."""
        return frozenset((tp.topic, tp.partition) for tp in self._assigned)

    def committed(self) -> dict[tuple[str, int], int]:
        """Offsets this member committed for the partitions it owns now."""
        return {
            (tp.topic, tp.partition): a.ledger.committed
            for tp, a in self._assigned.items()
            if a.ledger.committed is not None
        }

    async def start(self) -> None:
        if self._state is KafkaClientState.RUNNING:
            return
        if self._state is KafkaClientState.STOPPED:
            raise RuntimeError("a stopped KafkaSource cannot start again: create a new one")
        consumer = AIOKafkaConsumer(**self._kwargs)
        consumer.subscribe(topics=list(self.topics), listener=_Listener(self))
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise from_kafka(exc, f"joining group {self.group_id}") from exc
        self._consumer = consumer
        self._state = KafkaClientState.RUNNING
        if self.join_timeout_s is not None:
            try:
                await within(self._joined.wait(), self.join_timeout_s)
            except TimeoutError:
                await self.stop()
                raise EndpointUnavailable(
                    f"group {self.group_id} assigned no partitions within "
                    f"{self.join_timeout_s} s; is the broker's group coordinator up, or are "
                    "other members slow to rejoin?"
                ) from None

    async def stop(self) -> None:
        if self._state is not KafkaClientState.RUNNING:
            self._state = KafkaClientState.STOPPED
            return
        self._state = KafkaClientState.STOPPED
        consumer = self._consumer
        assert consumer is not None
        try:
            async with self._commit_lock:
                try:
                    await self._commit_locked(list(self._assigned.values()))
                except ConnectorError as exc:
                    log.warning("final commit of group %s failed: %s", self.group_id, exc)
                for assignment in list(self._assigned.values()):
                    self._drop(assignment)
        finally:
            try:
                await consumer.stop()
            except KafkaError as exc:
                log.warning("leaving group %s failed: %s", self.group_id, exc)

    async def __aenter__(self) -> KafkaSource:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def get_batch(self, max_records: int, timeout_s: float) -> Batch | None:
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, got {max_records}")
        async with self._fetch_lock:
            consumer = self._running_consumer()
            batch = self._hand_out(max_records)
            if batch is not None:
                return batch
            try:
                fetched = await consumer.getmany(
                    timeout_ms=max(0, int(timeout_s * 1000)), max_records=max_records
                )
            except ConsumerStoppedError:
                return None
            except KafkaError as exc:
                raise from_kafka(exc, f"fetching {', '.join(self.topics)}") from exc
            self._enqueue(fetched)
            return self._hand_out(max_records)

    async def ack(self, batch: Batch) -> None:
        owner = self._owners.pop(id(batch), None)
        if owner is None or owner[1] is not batch:
            if owner is not None:
                self._owners[id(batch)] = owner
            if self._abandoned.get(id(batch)) is batch:
                log.debug("ack of an abandoned batch of %s/%s ignored", batch.stream,
                          batch.partition)  # fmt: skip
                return
            raise ValueError(
                "ack of a batch this source did not hand out, or acknowledged twice: "
                "pass the Batch object get_batch returned, once"
            )
        assignment = owner[0]
        assignment.ledger.ack(batch)
        async with self._commit_lock:
            await self._commit_locked([assignment])

    async def _commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        """The one place offsets go to the broker (tests wrap it to check every commit)."""
        assert self._consumer is not None
        await self._consumer.commit(offsets)

    async def _commit_locked(self, assignments: Sequence[_Assignment]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for assignment in assignments:
            offset = assignment.ledger.to_commit()
            if offset is not None and self._assigned.get(assignment.tp) is assignment:
                offsets[assignment.tp] = offset
        if not offsets:
            return
        try:
            await within(self._commit_offsets(offsets), self.commit_timeout_s)
        except (CommitFailedError, IllegalStateError) as exc:
            log.info(
                "commit %s of group %s lost to a rebalance (%s); the next owner resumes "
                "from the last commit",
                offsets, self.group_id, exc,
            )  # fmt: skip
            return
        except TimeoutError as exc:
            raise EndpointUnavailable(
                f"commit of {offsets} took over {self.commit_timeout_s} s; the position "
                "stays pending and goes with the next commit; is the broker up?"
            ) from exc
        except KafkaError as exc:
            raise from_kafka(exc, f"committing {offsets}") from exc
        for assignment in assignments:
            if assignment.tp in offsets:
                assignment.ledger.mark_committed(offsets[assignment.tp])

    def _running_consumer(self) -> AIOKafkaConsumer:
        if self._state is not KafkaClientState.RUNNING or self._consumer is None:
            raise RuntimeError(f"KafkaSource is {self._state.value}: call start() first")
        return self._consumer

    def _enqueue(self, fetched: Mapping[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> None:
        for tp, messages in fetched.items():
            assignment = self._assigned.get(tp)
            if assignment is None or not messages:
                continue
            if assignment.next_fetch is not None:
                messages = [m for m in messages if m.offset >= assignment.next_fetch]
                if not messages:
                    continue
            if not assignment.pending:
                self._ready.append(tp)
            assignment.pending.extend(messages)
            assignment.next_fetch = messages[-1].offset + 1

    def _hand_out(self, max_records: int) -> Batch | None:
        while self._ready:
            tp = self._ready.popleft()
            assignment = self._assigned.get(tp)
            if assignment is None or not assignment.pending:
                continue
            take = min(max_records, len(assignment.pending))
            messages = [assignment.pending.popleft() for _ in range(take)]
            if assignment.pending:
                self._ready.append(tp)
            batch = Batch(
                stream=tp.topic,
                partition=str(tp.partition),
                records=tuple(_record(m) for m in messages),
            )
            assignment.ledger.hand_out(batch, messages[-1].offset + 1)
            self._owners[id(batch)] = (assignment, batch)
            return batch
        return None

    def _drop(self, assignment: _Assignment) -> None:
        """Forget a partition: queued records dropped, in-flight batches abandoned."""
        if self._assigned.get(assignment.tp) is assignment:
            del self._assigned[assignment.tp]
        assignment.pending.clear()
        for batch in assignment.ledger.abandon():
            if self._owners.pop(id(batch), None) is not None:
                self._abandoned[id(batch)] = batch
                self.abandoned_batches += 1

    async def _on_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self._commit_lock:
            leaving = [self._assigned[tp] for tp in revoked if tp in self._assigned]
            if leaving:
                self.rebalances += 1
            try:
                await self._commit_locked(leaving)
            except ConnectorError as exc:
                log.warning("commit on revoke of group %s failed: %s", self.group_id, exc)
            for assignment in leaving:
                self._drop(assignment)

    def _on_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        for tp in assigned:
            if tp not in self._assigned:
                self._assigned[tp] = _Assignment(tp)
        self._joined.set()
