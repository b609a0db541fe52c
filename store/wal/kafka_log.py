"""The Kafka-backed transaction log: one single-partition topic is the log of a node group.

Implements :class:`store.wal.base.TransactionLog` (read its docstring for the contract).
Kafka's replication keeps the copies (``acks=all``; give the topic a replication factor
of 3 and ``min.insync.replicas=2`` for a multi-AZ log); this module adds the rules that
make a topic a log of one writer at a time, without broker transactions.

Message value. Each Kafka message's value is exactly one record of
:mod:`store.wal.record` (magic, length, CRC32C, epoch, seq, payload); keys, headers and
timestamps are not used. An *epoch marker* is a record with an empty payload and seq 0
on the wire, written by a node that becomes the writer.

Reading (every reader, the writer included, applies the same rules in topic order, so
all of them agree on the log). A reader holds ``(offset, expected seq, current epoch)``
and, for each message:

* epoch lower than the current epoch: *stale*, ignored (a deposed writer's record that
  landed after the marker that deposed it);
* empty payload and a higher epoch: a *marker*; it takes seq ``expected`` and the
  current epoch becomes its epoch;
* otherwise (a higher epoch without its marker only when reading started after it):
  seq below ``expected`` is a *duplicate* (a producer retry of a record that had landed:
  tansu has no idempotent producer, so retries may duplicate, and correctness never
  depends on idempotence), seq above ``expected`` is a *gap* (records after one whose
  delivery failed; its writer had failed them all) and is ignored; seq ``expected`` is
  accepted.

Writing. ``append`` runs under the engine's write lock: it assigns the next seq, encodes
the record and queues it for the producer, which runs on this log's own event-loop
thread; it never waits for the network. A record is *durable* (``wait_durable`` and
``durable_future`` return) once this log's reader accepted it, which proves both that the
broker committed it and that no higher-epoch marker precedes it. The reader learns of a
record either from the produce acknowledgement (when the acknowledged offset is the very
next one it has to read, nothing unknown precedes it, so the ack alone settles it: about
one broker round trip) or from its tailing consumer (when something else landed in
between, e.g. another node's marker). A writer that reads a higher-epoch marker before
its record is *fenced*: every record it has not yet seen accepted fails with
:class:`store.errors.DurabilityError`, so is never acknowledged, and so does every later
append (restart the node as a follower). Its records that land after the marker are
stale for everyone. A failed delivery fails the log the same way.

Becoming the writer (:meth:`promote`): produce a marker with an epoch above every epoch
seen; keep reading (and delivering records to the follower, which applies them) until the
reader reaches the marker; if the marker was accepted, appends continue at the seq after
it. Records a deposed writer got into the topic before the marker are applied by the new
writer, so any of them it acknowledged are kept.

Following: in follower mode the reader delivers accepted records to :meth:`take`
(:mod:`store.replication.log_follower` applies them through ``Engine.replicate``, whose
:meth:`append_record` is a no-op here because the topic already holds them).

Startup (``open``): the topic is read from a checkpoint (``kafka-checkpoint.json`` in
``checkpoint_dir``, written by :meth:`drop_before` after a snapshot: the reader state at
an offset no later than the oldest kept snapshot) or from its first offset, to its end.
:meth:`read_from` then replays from a remembered reader state at or before the wanted
seq, so a restart reads the tail after the snapshot twice (once to find the end, once to
apply); the tail after the newest snapshot is what snapshots keep short. If the topic's
start was deleted by retention and there is no checkpoint, reading starts *unanchored*
(the first record read sets the seq and epoch): keep a snapshot (and so a checkpoint)
newer than the retention period.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import itertools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..errors import DurabilityError, LogCorruptError
from . import record
from .base import LogRecord, RecoveryOutcome, RecoveryReport, TransactionLog
from .position import LogPosition

logger = logging.getLogger(__name__)

T = TypeVar("T")
PARTITION = 0
CHECKPOINT_FILE = "kafka-checkpoint.json"
SAMPLE_EVERY = 64  # a reader state is remembered every this many accepted records
SAMPLES_KEPT = 4096
MAX_UNTAKEN = 10_000  # follower records read but not yet taken before reading pauses
CLOSE_WAIT_S = 5.0


class KafkaLogState(enum.Enum):
    NEW = "new"  # constructed; call open()
    FOLLOWER = "follower"  # reading only; records go to take()
    WRITER = "writer"  # appends allowed (after promote())
    FAILED = "failed"  # fenced or a delivery failed; appends raise DurabilityError
    CLOSED = "closed"


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    MARKER = "marker"  # accepted, and the current epoch changed
    DUPLICATE = "duplicate"
    STALE = "stale"
    GAP = "gap"


@dataclass(frozen=True, slots=True)
class ReaderState:
    """Where a reader is: the next offset, the next seq it accepts (0: not known yet,
    the next record sets it) and the current epoch."""

    offset: int
    expected: int
    epoch: int


def interpret(
    state: ReaderState, offset: int, value: bytes
) -> tuple[ReaderState, Verdict, LogRecord]:
    """Apply the reading rules of the module docstring to the message at ``offset``.

    Returns the state after it, the verdict and the record (for a marker, with the seq
    it takes). Raises :class:`LogCorruptError` for a value that is not an intact record.
    """
    try:
        rec = record.decode(value)
    except ValueError as exc:
        raise LogCorruptError(
            f"the Kafka log message at offset {offset} is not a memvec record ({exc}); "
            "something else writes to this topic: give memvec a topic of its own",
            path=f"offset {offset}",
            offset=offset,
            repair_command="",
        ) from exc
    nxt = offset + 1
    if rec.epoch < state.epoch:
        return replace(state, offset=nxt), Verdict.STALE, rec
    if not rec.payload and rec.epoch > state.epoch:
        seq = state.expected or 1
        marker = LogRecord(seq, rec.epoch, b"")
        return ReaderState(nxt, seq + 1, rec.epoch), Verdict.MARKER, marker
    expected = state.expected or rec.seq
    if rec.seq < expected:
        return ReaderState(nxt, expected, max(state.epoch, rec.epoch)), Verdict.DUPLICATE, rec
    if rec.seq > expected:
        return ReaderState(nxt, expected, max(state.epoch, rec.epoch)), Verdict.GAP, rec
    return ReaderState(nxt, rec.seq + 1, rec.epoch), Verdict.ACCEPTED, rec


def parse_kafka_url(url: str) -> tuple[str, str]:
    """``kafka://host:port[,host:port]/topic`` -> ``(bootstrap, topic)``; ``ValueError``."""
    parts = urlsplit(url)
    topic = parts.path.strip("/")
    if parts.scheme != "kafka" or not parts.netloc or not topic or "/" in topic:
        raise ValueError(f"{url!r} is not kafka://HOST:PORT[,HOST:PORT]/TOPIC")
    return parts.netloc, topic


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
        self._client_options = dict(client_options or {})

        self._lock = threading.RLock()  # the tail and ack paths call _fail holding it
        self._cv = threading.Condition(self._lock)
        self._state = KafkaLogState.NEW
        self._reader = ReaderState(0, 1, 0)
        self._first_seq = 1
        self._samples: deque[ReaderState] = deque(maxlen=SAMPLES_KEPT)
        self._epoch = 0  # the writer epoch (stamped on appends)
        self._next_seq = 1
        self._confirmed_seq = 0
        self._failure: DurabilityError | None = None
        self._outbox: list[tuple[int, bytes]] = []
        self._draining = False
        self._acked: dict[int, bytes] = {}  # offset -> value, our records the broker acked
        self._futures: list[tuple[int, int, Future[None]]] = []
        self._future_ids = itertools.count()
        self._untaken: deque[LogRecord] = deque()
        self._promoting: tuple[int, Future[int]] | None = None
        self._promote_offset: int | None = None

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._producer: Any = None
        self._tail_task: asyncio.Task[None] | None = None

    @classmethod
    def from_url(
        cls, url: str, *, checkpoint_dir: str | os.PathLike[str] | None = None
    ) -> KafkaTransactionLog:
        bootstrap, topic = parse_kafka_url(url)
        return cls(bootstrap, topic, checkpoint_dir=checkpoint_dir)

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> RecoveryReport:
        """Connect, create the topic if needed, and read it to its end (follower mode)."""
        with self._lock:
            if self._state is not KafkaLogState.NEW:
                raise RuntimeError(f"open() is called once; the log is {self._state.value}")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"kafka-log:{self.topic}", daemon=True
        )
        self._thread.start()
        try:
            start = self._run(self._connect(), 60)
            end = self._run(self._scan(start), None)
        except BaseException:
            self._shutdown_loop()
            raise
        with self._lock:
            self._reader = end
            self._next_seq = end.expected or 1
            self._confirmed_seq = self._next_seq - 1
            self._state = KafkaLogState.FOLLOWER
        next_pos = LogPosition(self._next_seq)
        first = LogPosition(min(self._first_seq, next_pos.seq))
        outcome = RecoveryOutcome.EMPTY if next_pos.seq == 1 else RecoveryOutcome.CLEAN
        return RecoveryReport(outcome, next_pos, first)

    def close(self) -> None:
        """Wait (briefly) for unconfirmed appends, stop the clients. Idempotent."""
        with self._lock:
            if self._state in (KafkaLogState.NEW, KafkaLogState.CLOSED):
                self._state = KafkaLogState.CLOSED
                return
            pending = self._next_seq - 1 if self._state is KafkaLogState.WRITER else 0
        if pending > self._confirmed_seq:
            with contextlib.suppress(DurabilityError, TimeoutError):
                self.wait_durable(pending, CLOSE_WAIT_S)
        with self._lock:
            self._state = KafkaLogState.CLOSED
            if self._failure is None and self._confirmed_seq < self._next_seq - 1:
                self._failure = DurabilityError(
                    "the Kafka log was closed before the broker confirmed this write"
                )
            self._settle()
        self._shutdown_loop()

    def _shutdown_loop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(Exception):
            self._run(self._stop_clients(), 15)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None

    # ------------------------------------------------------------------ writing

    def append(self, payload: bytes) -> int:
        with self._lock:
            if self._state is not KafkaLogState.WRITER:
                raise self._not_writable()
            seq = self._next_seq
            self._next_seq = seq + 1
            self._outbox.append((seq, record.encode(seq, self._epoch, payload)))
            if not self._draining:
                self._draining = True
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._start_drain)
        return seq

    def append_record(self, seq: int, epoch: int, payload: bytes) -> int:
        """A record this log's own reader delivered (``Engine.replicate`` on a follower):
        the topic already holds it, so there is nothing to write."""
        return seq

    def set_epoch(self, epoch: int) -> None:
        """Only :meth:`promote` changes the writer epoch here (it must win in the topic)."""

    def start_tail(self) -> None:
        """Start reading new records (after recovery replayed :meth:`read_from`): a
        follower gets them from :meth:`take`; a writer needs it to confirm. Idempotent."""
        with self._lock:
            if self._state is KafkaLogState.NEW:
                raise RuntimeError("call open() before start_tail()")
            if self._tail_task is not None or self._loop is None:
                return
        self._tail_task = self._run(self._start_tail(), 30)

    def promote(self, epoch: int) -> Future[int]:
        """Become the writer at ``epoch``: produce a marker and resolve (with the marker's
        seq) once the reader accepted it; records before it keep going to :meth:`take`.
        Fails with :class:`DurabilityError` if another marker won."""
        future: Future[int] = Future()
        with self._lock:
            if self._state is not KafkaLogState.FOLLOWER or self._failure is not None:
                raise self._not_writable()
            if epoch <= self._reader.epoch:
                raise ValueError(f"epoch {epoch} must exceed the log's {self._reader.epoch}")
            self._promoting = (epoch, future)
        self.start_tail()
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._send_marker(epoch), self._loop)
        return future

    def become_follower(self, timeout_s: float = 10.0) -> None:
        """Stop writing: wait until every append is accepted, then deliver records again."""
        with self._lock:
            if self._state is not KafkaLogState.WRITER:
                return
            last = self._next_seq - 1
        if last:
            self.wait_durable(last, timeout_s)
        with self._lock:
            if self._state is KafkaLogState.WRITER:
                self._state = KafkaLogState.FOLLOWER

    def wait_durable(self, seq: int, timeout_s: float | None = None) -> None:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            while self._confirmed_seq < seq:
                if self._failure is not None:
                    raise self._failure_copy()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(
                        f"record seq {seq} was not confirmed by the Kafka log within "
                        f"{timeout_s} s; check the broker at {self.bootstrap}"
                    )
                self._cv.wait(remaining)

    def durable_future(self, seq: int) -> Future[None]:
        future: Future[None] = Future()
        with self._lock:
            if self._confirmed_seq >= seq:
                future.set_result(None)
            elif self._failure is not None:
                future.set_exception(self._failure_copy())
            else:
                heapq.heappush(self._futures, (seq, next(self._future_ids), future))
        return future

    def drop_before(self, position: LogPosition) -> int:
        """Save the newest remembered reader state at or before ``position`` as the restart
        checkpoint. Deletes nothing: topic retention is the broker's (see docs)."""
        with self._lock:
            usable = [s for s in self._samples if 0 < s.expected <= position.seq]
        if self._checkpoint is None or not usable:
            return 0
        data = json.dumps({"topic": self.topic, **asdict(usable[-1])}).encode()
        tmp = self._checkpoint.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._checkpoint)
        except OSError as exc:
            logger.warning("could not save the Kafka log checkpoint %s: %s", self._checkpoint, exc)
        return 0

    # ------------------------------------------------------------------ reading

    def read_from(self, position: LogPosition) -> Iterator[LogRecord]:
        """Accepted records with ``seq >= position.seq`` up to what the reader has reached."""
        with self._lock:
            if self._state is KafkaLogState.NEW:
                raise RuntimeError("call open() before read_from()")
            stop = self._reader.offset
            if position.seq >= self._reader.expected:
                return
            starts = [s for s in self._samples if 0 < s.expected <= position.seq]
        if not starts and position.seq < self._first_seq:
            raise ValueError(
                f"log records from seq {position.seq} are not in the topic any more (the "
                f"oldest read is seq {self._first_seq}); load a snapshot that covers them"
            )
        state = starts[-1] if starts else self._load_checkpoint() or ReaderState(0, 1, 0)
        consumer = self._run(self._new_consumer(state.offset), 30)
        try:
            while state.offset < stop:
                batch = self._run(consumer.getmany(timeout_ms=1000), 30)
                for msg in batch.get(self._tp(), []):
                    if msg.offset < state.offset or msg.offset >= stop:
                        continue
                    state, verdict, rec = interpret(state, msg.offset, msg.value)
                    if verdict in (Verdict.ACCEPTED, Verdict.MARKER) and rec.seq >= position.seq:
                        yield rec
        finally:
            self._run(consumer.stop(), 10)

    def take(self, timeout_s: float) -> list[LogRecord]:
        """Records accepted in follower mode since the last call (waits up to ``timeout_s``)."""
        with self._lock:
            if not self._untaken:
                self._cv.wait(timeout_s)
            out = list(self._untaken)
            self._untaken.clear()
        return out

    # ------------------------------------------------------------------ properties

    @property
    def next_position(self) -> LogPosition:
        with self._lock:
            if self._state is KafkaLogState.WRITER:
                return LogPosition(self._next_seq)
            return LogPosition(self._reader.expected or 1)

    @property
    def durable_position(self) -> LogPosition:
        with self._lock:
            return LogPosition(self._confirmed_seq + 1)

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def highest_epoch(self) -> int:
        """The current epoch of the topic as read so far."""
        return self._reader.epoch

    @property
    def state(self) -> KafkaLogState:
        return self._state

    @property
    def read_offset(self) -> int:
        """The next topic offset the reader will look at."""
        return self._reader.offset

    # ------------------------------------------------------------------ event loop side

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def _tp(self) -> Any:
        from aiokafka import TopicPartition

        return TopicPartition(self.topic, PARTITION)

    async def _connect(self) -> ReaderState:
        from aiokafka import AIOKafkaProducer
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        opts = {"bootstrap_servers": self.bootstrap, **self._client_options}
        admin = AIOKafkaAdminClient(**opts)
        try:
            await admin.start()
            resp = await admin.create_topics([NewTopic(self.topic, 1, self._replication_factor)])
            for _, code, message in resp.topic_errors:
                if code not in (0, 36):  # 36: the topic already exists
                    raise DurabilityError(
                        f"cannot create the Kafka log topic {self.topic!r}: {message} (error "
                        f"{code}); create it with one partition and start again"
                    )
        except DurabilityError:
            raise
        except Exception as exc:  # aiokafka raises many kinds; all mean the same here
            raise DurabilityError(
                f"cannot reach the Kafka log at {self.bootstrap} ({exc}); check the broker "
                "address in --log"
            ) from exc
        finally:
            await admin.close()
        self._producer = AIOKafkaProducer(acks="all", enable_idempotence=False, linger_ms=0, **opts)
        await self._producer.start()
        consumer = await self._new_consumer(None)
        try:
            first = (await consumer.beginning_offsets([self._tp()]))[self._tp()]
        finally:
            await consumer.stop()
        saved = self._load_checkpoint()
        if saved is not None and saved.offset >= first:
            return saved
        if first == 0:
            return ReaderState(0, 1, 0)
        logger.warning(
            "the Kafka log %s starts at offset %d (older records expired) and there is no "
            "checkpoint: reading unanchored from there",
            self.topic,
            first,
        )
        return ReaderState(first, 0, 0)

    async def _new_consumer(self, offset: int | None) -> Any:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._fetch_max_wait_ms,
            **self._client_options,
        )
        await consumer.start()
        consumer.assign([self._tp()])
        if offset is not None:
            consumer.seek(self._tp(), offset)
        return consumer

    async def _scan(self, state: ReaderState) -> ReaderState:
        """Read from ``state`` to the end of the topic (its high watermark once fetched),
        remembering samples and the first accepted seq."""
        consumer = await self._new_consumer(state.offset)
        first: int | None = None
        end: int | None = None  # the high watermark first seen: records after it are the tail's
        empty_polls = 0
        try:
            while end is None or state.offset < end:
                batch = await consumer.getmany(timeout_ms=200)
                empty_polls = 0 if batch else empty_polls + 1
                for msg in batch.get(self._tp(), []):
                    if msg.offset < state.offset:
                        continue
                    before = state
                    state, verdict, rec = interpret(state, msg.offset, msg.value)
                    if verdict in (Verdict.ACCEPTED, Verdict.MARKER):
                        first = rec.seq if first is None else first
                        self._remember(before, rec.seq)
                end = consumer.highwater(self._tp()) if end is None else end
                if end is None and empty_polls >= 10:  # no fetch answered with a watermark
                    break
        finally:
            await consumer.stop()
        self._first_seq = first if first is not None else (state.expected or 1)
        return state

    def _remember(self, before: ReaderState, seq: int) -> None:
        if seq % SAMPLE_EVERY == 1 or not self._samples:
            self._samples.append(before)

    async def _start_tail(self) -> asyncio.Task[None]:
        consumer = await self._new_consumer(self._reader.offset)
        return asyncio.get_running_loop().create_task(self._tail(consumer))

    async def _tail(self, consumer: Any) -> None:
        try:
            while True:
                while len(self._untaken) > MAX_UNTAKEN:
                    await asyncio.sleep(0.005)
                try:
                    batch = await consumer.getmany(timeout_ms=1000)
                except Exception as exc:  # aiokafka raises many kinds; all mean the same here
                    self._fail(f"reading the topic failed: {exc}")
                    return
                with self._lock:
                    for msg in batch.get(self._tp(), []):
                        self._acked.pop(msg.offset, None)
                        if msg.offset >= self._reader.offset:
                            self._process(msg.offset, msg.value)
                    self._process_acked()
                    self._settle()
        finally:
            await consumer.stop()

    def _process(self, offset: int, value: bytes) -> None:
        """Advance the reader over one message (caller holds ``_lock``)."""
        before = self._reader
        self._reader, verdict, rec = interpret(before, offset, value)
        if verdict not in (Verdict.ACCEPTED, Verdict.MARKER):
            if offset == self._promote_offset and self._promoting is not None:
                self._promoting[1].set_exception(
                    DurabilityError("another node became the writer first; promotion failed")
                )
                self._promoting = None
            return
        self._remember(before, rec.seq)
        if self._state is KafkaLogState.WRITER:
            if rec.epoch > self._epoch:
                self._fail(
                    f"fenced: epoch {rec.epoch} took over the log at offset {offset}; this "
                    "node's unconfirmed writes were not acknowledged. Restart it as a "
                    "follower (--replicaof) so it rebuilds its state from the log"
                )
            elif rec.epoch == self._epoch:
                self._confirmed_seq = rec.seq
            return
        self._untaken.append(rec)
        self._confirmed_seq = rec.seq
        promoting = self._promoting
        if promoting is not None and verdict is Verdict.MARKER:
            epoch, future = promoting
            self._promoting = None
            if rec.epoch == epoch and self._state is KafkaLogState.FOLLOWER:
                self._state = KafkaLogState.WRITER
                self._epoch = epoch
                self._next_seq = rec.seq + 1
                self._confirmed_seq = rec.seq
                future.set_result(rec.seq)
            else:
                future.set_exception(
                    DurabilityError(f"epoch {rec.epoch} took over the log first; promotion failed")
                )

    def _process_acked(self) -> None:
        while (value := self._acked.pop(self._reader.offset, None)) is not None:
            self._process(self._reader.offset, value)
        if self._acked:
            for offset in [o for o in self._acked if o < self._reader.offset]:
                del self._acked[offset]

    def _on_acked(self, value: bytes, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            self._fail("the producer was stopped before the broker took a record")
            return
        if (exc := future.exception()) is not None:
            self._fail(f"the broker did not take a record: {exc}")
            return
        with self._lock:
            offset = future.result().offset
            if offset >= self._reader.offset:
                self._acked[offset] = value
                self._process_acked()
                self._settle()

    def _start_drain(self) -> None:
        asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            with self._lock:
                batch, self._outbox = self._outbox, []
                if not batch:
                    self._draining = False
                    return
            for _, value in batch:
                if self._failure is not None:
                    return  # the records after a failed one are never acknowledged: drop them
                try:
                    sent = await self._producer.send(self.topic, value, partition=PARTITION)
                except Exception as exc:  # aiokafka raises many kinds; all mean the same here
                    self._fail(f"handing a record to the producer failed: {exc}")
                    continue
                sent.add_done_callback(lambda f, v=value: self._on_acked(v, f))

    async def _send_marker(self, epoch: int) -> None:
        value = record.encode(0, epoch, b"")
        try:
            metadata = await (await self._producer.send(self.topic, value, partition=PARTITION))
        except Exception as exc:  # aiokafka raises many kinds; all mean the same here
            with self._lock:
                if self._promoting is not None:
                    self._promoting[1].set_exception(
                        DurabilityError(f"writing the epoch marker failed: {exc}")
                    )
                    self._promoting = None
            return
        with self._lock:
            self._promote_offset = metadata.offset
            if metadata.offset >= self._reader.offset:
                self._acked[metadata.offset] = value
                self._process_acked()
                self._settle()

    async def _stop_clients(self) -> None:
        if self._tail_task is not None:
            self._tail_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._tail_task
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()

    # ------------------------------------------------------------------ failure, waiters

    def _fail(self, reason: str) -> None:
        with self._lock:
            if self._failure is None:
                logger.error("Kafka log %s failed: %s", self.topic, reason)
                self._failure = DurabilityError(
                    f"the Kafka log failed ({reason}); the write was not acknowledged and no "
                    "more writes are accepted"
                )
                if self._state is KafkaLogState.WRITER:
                    self._state = KafkaLogState.FAILED
            self._settle()

    def _settle(self) -> None:
        """Wake waiters; resolve or fail due futures (caller holds ``_lock``)."""
        self._cv.notify_all()
        done = self._confirmed_seq
        while self._futures and (self._futures[0][0] <= done or self._failure is not None):
            seq, _, future = heapq.heappop(self._futures)
            if seq <= done:
                future.set_result(None)
            else:
                future.set_exception(self._failure_copy())

    def _failure_copy(self) -> DurabilityError:
        assert self._failure is not None
        return DurabilityError(self._failure.message)

    def _not_writable(self) -> Exception:
        if self._failure is not None:
            return self._failure_copy()
        if self._state is KafkaLogState.NEW:
            return RuntimeError("call open() before append()")
        return DurabilityError(
            f"this node does not write the Kafka log {self.topic!r} ({self._state.value}); "
            "promote it with REPLICAOF NO ONE first"
        )

    def _load_checkpoint(self) -> ReaderState | None:
        if self._checkpoint is None or not self._checkpoint.exists():
            return None
        try:
            data = json.loads(self._checkpoint.read_text())
            if data.get("topic") != self.topic:
                return None
            return ReaderState(int(data["offset"]), int(data["expected"]), int(data["epoch"]))
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring the Kafka log checkpoint %s: %s", self._checkpoint, exc)
            return None
