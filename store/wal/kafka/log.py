"""The Kafka-backed transaction log: one single-partition topic is the log of a node group.

Implements :class:`store.wal.base.TransactionLog` (read its docstring for the contract).
Kafka's replication keeps the copies (``acks=all``; give the topic a replication factor
of 3 and ``min.insync.replicas=2`` for a multi-AZ log); this module adds the rules that
make a topic a log of one writer at a time, without broker transactions.

Modules: the message format and the reading rules (every reader, the writer included,
applies them in topic order, so all agree on the log) are in
:mod:`store.wal.kafka.reading`; what a node may acknowledge as follower or writer in
:mod:`store.wal.kafka.roles`; remembered reader states and replay in
:mod:`store.wal.kafka.replay`; the URL, the event-loop thread and the aiokafka clients in
:mod:`store.wal.kafka.client`. This module connects them into the
:class:`~store.wal.base.TransactionLog`; the package (:mod:`store.wal.kafka`) re-exports
the public names.

Writing. ``append`` runs under the engine's write lock: it assigns the next seq, encodes
the record and queues it for the producer, which runs on this log's own event-loop
thread; it never waits for the network. A record is *durable* (``wait_durable`` and
``durable_future`` return) once this log's reader accepted it *while this log was the
writer*, which proves both that the broker committed it and that no higher-epoch marker
precedes it. The reader learns of a record either from the produce acknowledgement (when
the acknowledged offset is the very next one it has to read, nothing unknown precedes
it, so the ack alone settles it: about one broker round trip) or from its tailing
consumer (when something else landed in between, e.g. another node's marker). A writer
that reads a higher-epoch marker before its record is *fenced*: every record it has not
yet seen accepted fails with :class:`store.errors.DurabilityError`, so is never
acknowledged, and so does every later append (restart the node as a follower: its state
may hold writes the log does not). Its records that land after the marker are stale for
everyone. A failed delivery, a record of its own read as a gap, or a read position the
topic no longer has (the topic lost records) fails the log the same way.

Becoming the writer (:meth:`promote`): produce a marker with an epoch above every epoch
seen; keep reading (and delivering records to the follower, which applies them) until the
reader reaches the marker; if the marker was accepted, appends continue at the seq after
it. Records a deposed writer got into the topic before the marker are applied by the new
writer, so any of them it acknowledged are kept. Promotion fails if a marker with a
higher epoch is accepted first, or if its own marker was not accepted.

Following: in follower mode the reader delivers accepted records to :meth:`take`
(:mod:`store.replication.log_follower` applies them through ``Engine.replicate``, whose
:meth:`append_record` is a no-op here because the topic already holds them).

Startup (``open``): the topic is read from the checkpoint (written by :meth:`drop_before`
after a snapshot: the reader state at an offset no later than the oldest kept snapshot)
or from its first offset, to its end. :meth:`read_from` then replays from a remembered
reader state at or before the wanted seq, so a restart reads the tail after the snapshot
twice (once to find the end, once to apply). If the topic's start was deleted by
retention and there is no checkpoint, reading starts *unanchored* (the first data record
sets the seq): keep a snapshot (and so a checkpoint) newer than the retention period.

Closing (:meth:`close`, idempotent): waits up to ``CLOSE_WAIT_S`` for this writer's
records to be accepted, fails every future and promotion still pending, then stops the
clients and the event-loop thread (no task, socket or thread outlives it).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ...errors import DurabilityError
from .. import record
from ..base import LogRecord, RecoveryOutcome, RecoveryReport, TransactionLog
from ..position import LogPosition
from .client import (
    PARTITION,
    LoopThread,
    create_topic,
    first_offset,
    new_consumer,
    new_producer,
    parse_kafka_url,
    topic_partition,
)
from .reading import (
    CHECKPOINT_FILE,
    START,
    ReaderState,
    load_checkpoint,
    save_checkpoint,
)
from .replay import read_range, scan
from .roles import KafkaLogState, Roles

__all__ = ["KafkaTransactionLog"]

logger = logging.getLogger(__name__)

MAX_UNTAKEN = 10_000  # follower records read but not yet taken before reading pauses
CLOSE_WAIT_S = 5.0  # close() waits this long for unconfirmed appends
PRODUCER_STOP_S = 3.0  # then the producer this long (what it still sends is not acknowledged)
TAIL_POLL_MS = 1000


class KafkaTransactionLog(TransactionLog):
    """One topic (partition 0) as the log; see the module docstring.

    ``checkpoint_dir``: where the restart checkpoint is kept (the node's data directory;
    None: always read the topic from its start). ``fetch_max_wait_ms``: how long the
    tailing consumer's fetch waits for new records; it bounds a follower's lag and how
    soon a writer learns of another node's marker, at the cost of one fetch that often
    while idle. ``replication_factor`` is used only if the topic does not exist yet.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        fetch_max_wait_ms: int = 50,
        replication_factor: int = 1,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._checkpoint = (
            Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
        )
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._replication_factor = replication_factor
        self._options = {"bootstrap_servers": bootstrap, **(client_options or {})}
        self._roles = Roles(topic, bootstrap)
        self._loop = LoopThread(f"kafka-log:{topic}")
        self._producer: Any = None
        self._tail_started = False

    @classmethod
    def from_url(
        cls, url: str, *, checkpoint_dir: str | os.PathLike[str] | None = None
    ) -> KafkaTransactionLog:
        bootstrap, topic = parse_kafka_url(url)
        return cls(bootstrap, topic, checkpoint_dir=checkpoint_dir)

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> RecoveryReport:
        """Connect, create the topic if needed, and read it to its end (follower mode)."""
        if self._roles.state is not KafkaLogState.NEW or self._loop.running:
            raise RuntimeError(f"open() is called once; the log is {self._roles.state.value}")
        self._loop.start()
        try:
            start = self._loop.run(self._connect(), 60)
            end = self._loop.run(self._scan(start), None)
        except BaseException:
            self._loop.stop(self._stop_clients)
            raise
        next_pos = self._roles.opened(end)
        first = LogPosition(min(self._roles.first_seq, next_pos.seq))
        outcome = RecoveryOutcome.EMPTY if next_pos.seq == 1 else RecoveryOutcome.CLEAN
        return RecoveryReport(outcome, next_pos, first)

    def close(self) -> None:
        """Wait (briefly) for unconfirmed appends, fail what is left, stop. Idempotent."""
        pending = self._roles.closing()
        if pending is None:
            return
        if pending:
            try:
                self._roles.wait_durable(pending, CLOSE_WAIT_S)
            except (DurabilityError, TimeoutError) as exc:
                logger.warning("closing the Kafka log %s: %s", self.topic, exc)
        self._roles.closed()
        self._loop.stop(self._stop_clients, PRODUCER_STOP_S)

    # ------------------------------------------------------------------ writing

    def append(self, payload: bytes) -> int:
        seq, start_producer = self._roles.append(payload)
        if start_producer:
            self._loop.call_soon(self._start_drain)
        return seq

    def append_record(self, seq: int, epoch: int, payload: bytes) -> int:
        """A record this log's own reader delivered (``Engine.replicate`` on a follower):
        the topic already holds it, so there is nothing to write."""
        return seq

    def set_epoch(self, epoch: int) -> None:
        """Only :meth:`promote` changes the writer epoch here (it must win in the topic)."""

    @property
    def recovered_epoch(self) -> int | None:
        """None: the topic's epochs are followed by the reader (:attr:`highest_epoch`)."""
        return None

    def start_tail(self) -> None:
        """Start reading new records (after recovery replayed :meth:`read_from`): a
        follower gets them from :meth:`take`; a writer needs it to confirm. Idempotent."""
        if self._roles.state is KafkaLogState.NEW:
            raise RuntimeError("call open() before start_tail()")
        if self._tail_started or not self._loop.running:
            return
        self._tail_started = True
        offset = self._roles.reader.offset
        try:
            consumer = self._loop.run(self._new_consumer(offset), 30)
        except BaseException:
            self._tail_started = False
            raise
        self._loop.spawn(self._tail(consumer, offset))

    def promote(self, epoch: int) -> Future[int]:
        """Become the writer at ``epoch``: produce a marker and resolve (with the marker's
        seq) once the reader accepted it; records before it keep going to :meth:`take`.
        Fails with :class:`DurabilityError` if a higher marker won or the log closed."""
        future = self._roles.begin_promotion(epoch)
        try:
            self.start_tail()
            self._loop.spawn(self._send_marker(epoch))
        except BaseException as exc:
            self._roles.fail_promotion(DurabilityError(f"promotion failed to start: {exc!r}"))
            raise
        return future

    def become_follower(self, timeout_s: float = 10.0) -> None:
        """Stop writing: wait until every append is accepted, then deliver records again.

        Raises the log's :class:`DurabilityError` if it failed (a fenced node's state may
        hold writes the log does not: restart it as a follower instead)."""
        self._roles.become_follower(timeout_s)

    def wait_durable(self, seq: int, timeout_s: float | None = None) -> None:
        self._roles.wait_durable(seq, timeout_s)

    def durable_future(self, seq: int) -> Future[None]:
        return self._roles.durable_future(seq)

    def drop_before(self, position: LogPosition) -> int:
        """Save the newest remembered reader state at or before ``position`` as the restart
        checkpoint. Deletes nothing: topic retention is the broker's (see docs)."""
        state = self._roles.samples.at_or_before(position.seq)
        if self._checkpoint is None or state is None:
            return 0
        try:
            save_checkpoint(self._checkpoint, self.topic, state)
        except OSError as exc:
            logger.warning("could not save the Kafka log checkpoint %s: %s", self._checkpoint, exc)
        return 0

    # ------------------------------------------------------------------ reading

    def read_from(self, position: LogPosition) -> Iterator[LogRecord]:
        """Accepted records with ``seq >= position.seq`` up to what the reader has reached."""
        if self._roles.state is KafkaLogState.NEW:
            raise RuntimeError("call open() before read_from()")
        reader = self._roles.reader
        if position.seq >= reader.expected:
            return
        start = self._roles.samples.at_or_before(position.seq)
        if start is None and position.seq < self._roles.first_seq:
            raise ValueError(
                f"log records from seq {position.seq} are not in the topic any more (the "
                f"oldest read is seq {self._roles.first_seq}); load a snapshot that covers them"
            )
        if start is None:
            start = load_checkpoint(self._checkpoint, self.topic) or START
        consumer = self._loop.run(self._new_consumer(start.offset), 30)

        def fetch() -> dict[Any, list[Any]]:
            return self._loop.run(consumer.getmany(timeout_ms=TAIL_POLL_MS), 30)

        try:
            tp = topic_partition(self.topic)
            yield from read_range(fetch, tp, start, reader.offset, position.seq)
        finally:
            self._loop.run(consumer.stop(), 10)

    def take(self, timeout_s: float) -> list[LogRecord]:
        """Records accepted in follower mode since the last call (waits up to ``timeout_s``)."""
        return self._roles.take(timeout_s)

    # ------------------------------------------------------------------ properties

    @property
    def next_position(self) -> LogPosition:
        return self._roles.next_position

    @property
    def durable_position(self) -> LogPosition:
        return self._roles.durable_position

    @property
    def epoch(self) -> int:
        return self._roles.epoch

    @property
    def highest_epoch(self) -> int:
        """The current epoch of the topic as read so far."""
        return self._roles.reader.epoch

    @property
    def state(self) -> KafkaLogState:
        return self._roles.state

    @property
    def read_offset(self) -> int:
        """The next topic offset the reader will look at."""
        return self._roles.reader.offset

    # ------------------------------------------------------------------ event loop side

    async def _connect(self) -> ReaderState:
        await create_topic(self._options, self.topic, self._replication_factor)
        self._producer = await new_producer(self._options)
        first = await first_offset(self._options, self.topic)
        saved = load_checkpoint(self._checkpoint, self.topic)
        if saved is not None and saved.offset >= first:
            return saved
        if first == 0:
            return START
        logger.warning(
            "the Kafka log %s starts at offset %d (older records expired) and there is no "
            "checkpoint: reading unanchored from there",
            self.topic,
            first,
        )
        return ReaderState(first, 0, 0)

    async def _new_consumer(self, offset: int) -> Any:
        return await new_consumer(self._options, self.topic, offset, self._fetch_max_wait_ms)

    async def _scan(self, state: ReaderState) -> ReaderState:
        consumer = await self._new_consumer(state.offset)
        try:
            return await scan(consumer, self.topic, state, self._roles.samples)
        finally:
            await consumer.stop()

    async def _tail(self, consumer: Any, position: int) -> None:
        """Read new messages until cancelled; ``position``: the consumer's next offset."""
        tp = topic_partition(self.topic)
        try:
            while True:
                while self._roles.untaken > MAX_UNTAKEN:
                    await asyncio.sleep(0.005)
                try:
                    batch = await consumer.getmany(timeout_ms=TAIL_POLL_MS)
                except Exception as exc:  # aiokafka raises many kinds; all mean the same here
                    self._roles.fail(f"reading the topic failed: {exc!r}")
                    return
                messages = batch.get(tp, [])
                position = messages[-1].offset + 1 if messages else position
                end = consumer.highwater(tp)
                if end is not None and end < position:  # a broker never does this on its own
                    self._roles.fail(
                        f"the topic now ends at offset {end}, before offset {position} that was "
                        "already read: it was deleted and recreated, or the broker lost records"
                    )
                    return
                self._roles.read([(m.offset, m.value) for m in messages])
        finally:
            await consumer.stop()

    def _on_acked(self, value: bytes, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            self._roles.fail("the producer was stopped before the broker took a record")
        elif (exc := future.exception()) is not None:
            self._roles.fail(f"the broker did not take a record: {exc!r}")
        else:
            self._roles.acked(future.result().offset, value)

    def _start_drain(self) -> None:
        self._loop.spawn(self._drain())

    async def _drain(self) -> None:
        while batch := self._roles.outbox():
            for value in batch:
                try:
                    sent = await self._producer.send(self.topic, value, partition=PARTITION)
                except Exception as exc:  # aiokafka raises many kinds; all mean the same here
                    self._roles.fail(f"handing a record to the producer failed: {exc!r}")
                    break
                sent.add_done_callback(lambda f, v=value: self._on_acked(v, f))

    async def _send_marker(self, epoch: int) -> None:
        value = record.encode(0, epoch, b"")
        try:
            metadata = await (await self._producer.send(self.topic, value, partition=PARTITION))
        except Exception as exc:  # aiokafka raises many kinds; all mean the same here
            self._roles.fail_promotion(DurabilityError(f"writing the epoch marker failed: {exc!r}"))
            return
        self._roles.marker_acked(metadata.offset, value)

    async def _stop_clients(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
