"""A node's role on the Kafka log (follower or writer), and what it may acknowledge.

:class:`Roles` is the state of one :class:`store.wal.kafka.log.KafkaTransactionLog`
without any I/O: the reader (:mod:`store.wal.kafka.reading`), the writer's next seq and
epoch, the records queued for the producer, the waiters, the pending promotion. The log's
event-loop thread feeds it what the broker said (:meth:`Roles.read`,
:meth:`Roles.acked`, :meth:`Roles.marker_acked`, :meth:`Roles.fail`); the engine's
threads append and wait. Every method is thread-safe (one lock).

What counts as durable. A writer's record is confirmed once the reader accepted it
*while this node was the writer and not failed*: that proves the broker committed it and
that no higher-epoch marker precedes it. A record acknowledged by the broker at the very
next offset the reader has to read is read at once (nothing unknown precedes it); one
acknowledged further on waits for the tailing consumer. In follower mode every accepted
record is confirmed and queued for :meth:`Roles.take`.

Failing (``FAILED``, never left; the node must restart): a writer that reads a marker of
a higher epoch (*fenced*), a record of its own read as a gap (an earlier one was lost), a
failed delivery or read (:meth:`Roles.fail`). After that nothing more is confirmed or
delivered (its engine may hold writes the log does not), every unconfirmed waiter fails,
and appends raise :class:`store.errors.DurabilityError`.

Promotion (:meth:`Roles.begin_promotion`): resolved with the marker's seq once the reader
accepts the node's own marker (the node is then the writer, even if the caller gave up
waiting); failed once a marker of a higher epoch is accepted, once its own marker is read
but not accepted, on any failure, and on :meth:`Roles.close`.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import deque
from concurrent.futures import Future

from ...errors import DurabilityError
from .. import record
from ..base import LogRecord
from ..position import LogPosition
from ..waiters import DurableFutures, copy_failure, settle, wait_until_durable
from .reading import START, ReaderState, Verdict, interpret
from .replay import Samples

logger = logging.getLogger(__name__)


class KafkaLogState(enum.Enum):
    NEW = "new"  # constructed; call open()
    FOLLOWER = "follower"  # reading only; records go to take()
    WRITER = "writer"  # appends allowed (after promote())
    FAILED = "failed"  # fenced or a delivery failed; appends raise DurabilityError
    CLOSED = "closed"


class Roles:
    """The role state machine of one Kafka log; see the module docstring."""

    def __init__(self, topic: str, bootstrap: str) -> None:
        self.topic = topic
        self.bootstrap = bootstrap
        self.samples = Samples()
        self.first_seq = 1
        self._lock = threading.RLock()  # _process may fail (and settle) holding it
        self._cv = threading.Condition(self._lock)
        self._state = KafkaLogState.NEW
        self._closing = False
        self._reader = START
        self._epoch = 0  # the writer epoch (stamped on appends)
        self._next_seq = 1
        self._confirmed_seq = 0  # writer: own records accepted; follower: records accepted
        self._failure: DurabilityError | None = None
        self._outbox: list[bytes] = []
        self._draining = False
        self._acked: dict[int, bytes] = {}  # offset -> value, our records the broker acked
        self._futures = DurableFutures()
        self._untaken: deque[LogRecord] = deque()
        self._promoting: tuple[int, Future[int]] | None = None

    # ------------------------------------------------------------------ lifecycle

    def opened(self, end: ReaderState) -> LogPosition:
        """The topic was read to ``end``: follow from there. Returns the next position."""
        with self._lock:
            if self._state is not KafkaLogState.NEW:
                raise RuntimeError(f"open() is called once; the log is {self._state.value}")
            self._reader = end
            self.first_seq = self.samples.first_seq or end.expected or 1
            self._next_seq = end.expected or 1
            self._confirmed_seq = self._next_seq - 1
            self._state = KafkaLogState.FOLLOWER
            return LogPosition(self._next_seq)

    def closing(self) -> int | None:
        """Refuse appends from now on. Returns the last seq to wait for before
        :meth:`closed` (0: none), or None if closing already began."""
        with self._lock:
            if self._closing:
                return None
            self._closing = True
            if self._state is KafkaLogState.NEW:
                self._state = KafkaLogState.CLOSED
                return None
            return self._next_seq - 1 if self._state is KafkaLogState.WRITER else 0

    def closed(self) -> None:
        """Fail every waiter and promotion still pending (after :meth:`closing`)."""
        with self._lock:
            self._state = KafkaLogState.CLOSED
            if self._failure is None:
                unconfirmed = self._confirmed_seq < self._next_seq - 1 or len(self._futures)
                self._failure = DurabilityError(
                    "the Kafka log was closed before the broker confirmed this write"
                    if unconfirmed
                    else f"the Kafka log {self.topic!r} is closed"
                )
            self._fail_promotion(copy_failure(self._failure))
        self._settle()

    # ------------------------------------------------------------------ writing

    def append(self, payload: bytes) -> tuple[int, bool]:
        """Queue a record: its seq, and whether the producer must be started."""
        with self._lock:
            if self._state is not KafkaLogState.WRITER or self._closing:
                raise self._not_writable()
            seq = self._next_seq
            self._next_seq = seq + 1
            self._outbox.append(record.encode(seq, self._epoch, payload))
            start = not self._draining
            self._draining = True
            return seq, start

    def outbox(self) -> list[bytes]:
        """The queued records, oldest first; empty (and the producer idle) when none is left
        or the log failed (records after a failed one are never acknowledged)."""
        with self._lock:
            batch, self._outbox = self._outbox, []
            if not batch or self._failure is not None:
                self._draining = False
                return []
            return batch

    def begin_promotion(self, epoch: int) -> Future[int]:
        with self._lock:
            if (
                self._state is not KafkaLogState.FOLLOWER
                or self._failure is not None
                or self._closing
            ):
                raise self._not_writable()
            if self._promoting is not None:
                raise DurabilityError("a promotion of this node is already under way; wait")
            if self._reader.expected == 0:
                raise DurabilityError(
                    "this node has not read a record of the Kafka log yet (its start expired "
                    "and there is no checkpoint), so it cannot tell the next seq; restore a "
                    "snapshot with its checkpoint, or promote another node"
                )
            if epoch <= self._reader.epoch:
                raise ValueError(f"epoch {epoch} must exceed the log's {self._reader.epoch}")
            future: Future[int] = Future()
            self._promoting = (epoch, future)
            return future

    def become_follower(self, timeout_s: float) -> None:
        with self._lock:
            if self._failure is not None:
                raise copy_failure(self._failure)
            if self._state is not KafkaLogState.WRITER:
                return
            last = self._next_seq - 1
        if last:
            self.wait_durable(last, timeout_s)
        with self._lock:
            if self._state is KafkaLogState.WRITER:
                self._state = KafkaLogState.FOLLOWER

    def wait_durable(self, seq: int, timeout_s: float | None) -> None:
        with self._lock:
            wait_until_durable(
                self._cv,
                seq,
                lambda: self._confirmed_seq,
                lambda: self._failure,
                timeout_s,
                lambda: (
                    f"record seq {seq} was not confirmed by the Kafka log within {timeout_s} "
                    f"s; check the broker at {self.bootstrap}"
                ),
            )

    def durable_future(self, seq: int) -> Future[None]:
        future: Future[None] = Future()
        with self._lock:
            if self._confirmed_seq >= seq:
                future.set_result(None)
            elif self._failure is not None:
                future.set_exception(copy_failure(self._failure))
            else:
                self._futures.add(seq, future)
        return future

    def take(self, timeout_s: float) -> list[LogRecord]:
        with self._lock:
            if not self._untaken:
                self._cv.wait(timeout_s)
            out = list(self._untaken)
            self._untaken.clear()
        return out

    # ------------------------------------------------------------------ what the broker said

    def read(self, messages: list[tuple[int, bytes]]) -> None:
        """Messages the tailing consumer fetched, in offset order."""
        with self._lock:
            for offset, value in messages:
                self._acked.pop(offset, None)
                if offset >= self._reader.offset:
                    self._process(offset, value)
            self._process_acked()
        self._settle()

    def acked(self, offset: int, value: bytes) -> None:
        """The broker took our record ``value`` at ``offset``."""
        with self._lock:
            self._note_acked(offset, value)
        self._settle()

    def marker_acked(self, offset: int, value: bytes) -> None:
        """The broker took our epoch marker at ``offset``."""
        with self._lock:
            self._note_acked(offset, value)
            if self._promoting is not None and self._reader.offset > offset:
                self._fail_promotion(
                    DurabilityError("the epoch marker was not accepted; promotion failed")
                )
        self._settle()

    def fail(self, reason: str) -> None:
        with self._lock:
            if self._failure is None:
                logger.error("Kafka log %s failed: %s", self.topic, reason)
                self._failure = DurabilityError(
                    f"the Kafka log failed ({reason}); the write was not acknowledged and no "
                    "more writes are accepted"
                )
                if self._state is KafkaLogState.WRITER:
                    self._state = KafkaLogState.FAILED
            self._fail_promotion(copy_failure(self._failure))
        self._settle()

    def fail_promotion(self, error: DurabilityError) -> None:
        with self._lock:
            self._fail_promotion(error)

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> KafkaLogState:
        return self._state

    @property
    def reader(self) -> ReaderState:
        return self._reader

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def untaken(self) -> int:
        return len(self._untaken)

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

    # ------------------------------------------------------------------ internals (lock held)

    def _process(self, offset: int, value: bytes) -> None:
        before = self._reader
        self._reader, verdict, rec = interpret(before, offset, value)
        if self._promoting is not None:
            self._check_promotion(verdict, rec)
        if not verdict.accepted:
            if (
                verdict is Verdict.GAP
                and self._state is KafkaLogState.WRITER
                and rec.epoch == self._epoch
            ):
                self.fail(
                    f"record seq {rec.seq} landed at offset {offset} where seq "
                    f"{self._reader.expected} was due (an earlier record was lost)"
                )
            return
        self.samples.remember(before, rec.seq)
        if rec.seq == 0:  # a marker read unanchored: it only sets the epoch
            return
        if self._state is KafkaLogState.WRITER:
            if rec.epoch > self._epoch:
                self.fail(
                    f"fenced: epoch {rec.epoch} took over the log at offset {offset}; this "
                    "node's unconfirmed writes were not acknowledged. Restart it as a "
                    "follower (--replicaof) so it rebuilds its state from the log"
                )
            elif rec.epoch == self._epoch:
                self._confirmed_seq = rec.seq
        elif self._state is KafkaLogState.FOLLOWER:
            self._untaken.append(rec)
            self._confirmed_seq = rec.seq
            if (
                verdict is Verdict.MARKER
                and self._promoting is not None
                and rec.epoch == self._promoting[0]
            ):
                future = self._promoting[1]
                self._promoting = None
                self._state = KafkaLogState.WRITER  # even if the caller gave up: the topic says so
                self._epoch = rec.epoch
                self._next_seq = rec.seq + 1
                if future.set_running_or_notify_cancel():
                    future.set_result(rec.seq)

    def _check_promotion(self, verdict: Verdict, rec: LogRecord) -> None:
        """Fail the pending promotion once the topic shows it cannot win."""
        assert self._promoting is not None
        epoch = self._promoting[0]
        if verdict is Verdict.MARKER and rec.epoch > epoch:
            self._fail_promotion(
                DurabilityError(f"epoch {rec.epoch} took over the log first; promotion failed")
            )
        elif verdict is Verdict.MARKER and rec.epoch == epoch and rec.seq == 0:
            self._fail_promotion(
                DurabilityError("the epoch marker was read unanchored; promotion failed")
            )
        elif not verdict.accepted and rec.epoch == epoch and not rec.payload:
            self._fail_promotion(
                DurabilityError("another node became the writer first; promotion failed")
            )

    def _fail_promotion(self, error: DurabilityError) -> None:
        if self._promoting is not None:
            future = self._promoting[1]
            self._promoting = None
            if future.set_running_or_notify_cancel():
                future.set_exception(error)

    def _note_acked(self, offset: int, value: bytes) -> None:
        if offset >= self._reader.offset:
            self._acked[offset] = value
        self._process_acked()

    def _process_acked(self) -> None:
        while (value := self._acked.pop(self._reader.offset, None)) is not None:
            self._process(self._reader.offset, value)
        for old in [o for o in self._acked if o < self._reader.offset]:
            del self._acked[old]

    def _settle(self) -> None:
        """Wake waiters; resolve or fail due futures (outside the lock unless the caller
        holds it)."""
        with self._lock:
            self._cv.notify_all()
            failure, done = self._failure, self._confirmed_seq
            due = self._futures.due(done, failure is not None)
        settle(due, done, failure)

    def _not_writable(self) -> Exception:
        if self._failure is not None:
            return copy_failure(self._failure)
        if self._state is KafkaLogState.NEW:
            return RuntimeError("call open() before append()")
        if self._closing:
            return DurabilityError(f"the Kafka log {self.topic!r} is closed")
        return DurabilityError(
            f"this node does not write the Kafka log {self.topic!r} ({self._state.value}); "
            "promote it with REPLICAOF NO ONE first"
        )
