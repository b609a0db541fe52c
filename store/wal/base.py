"""The transaction-log interface the engine writes through.

The engine never touches files or brokers; it talks to a :class:`TransactionLog`. The
file backend (``store.wal.file_log``) is the embedded default; ``store.wal.kafka.log`` keeps
the log in a Kafka topic shared by a group of nodes.

Contract, in the order the engine uses it:

1. ``open()`` once, before anything else. It scans what exists, repairs a torn tail
   (truncating it), and returns a :class:`RecoveryReport` naming the outcome. Damage
   before the tail raises :class:`store.errors.LogCorruptError` and opens nothing.
2. ``read_from(pos)`` yields every record with ``seq >= pos.seq`` in order (startup
   replay, replicas). It may be called while appends happen; it yields what was written
   when each segment was read.
3. ``append(payload)`` is called by the engine *under its write lock*, in commit order. It
   assigns the next sequence number, hands the bytes to the OS (or the producer), and
   returns the seq without waiting for durability. It must be fast; it must not fsync.
4. ``wait_durable(seq)`` blocks until record ``seq`` is as durable as the policy promises
   (``always``: fsynced; ``everysec``/``no``: returns at once). Concurrent waiters share
   one fsync (group commit). ``durable_future(seq)`` is the same for asyncio callers.
   If durability fails, both raise :class:`store.errors.DurabilityError` and every later
   append raises it too (the node must stop taking writes).
5. ``drop_before(pos)`` may delete sealed segments whose records are all ``< pos.seq``
   (after a snapshot covers them). It never touches the active segment.
6. ``close()`` flushes and fsyncs what was appended, then releases files. Idempotent.

Replication and fencing (``store.replication``) use three more, each called under the
engine lock:

7. ``recovered_epoch`` (after ``open()``): the epoch of the newest record found, or None.
8. ``set_epoch(epoch)``: the epoch stamped on records appended from now on (promotion).
9. ``append_record(seq, epoch, payload)``: hold a record another log wrote, keeping its
   seq and epoch (a replica copying its primary); same durability rules as ``append``.
10. ``reset(pos)`` (optional; the default refuses): drop every record and continue at
    ``pos`` (a replica's full resync from a snapshot).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from ..errors import DurabilityError
from .position import LogPosition


class RecoveryOutcome(enum.Enum):
    CLEAN = "clean"  # every record intact
    TRUNCATED_TAIL = "truncated_tail"  # last record torn; cut at ``offset`` with a warning
    EMPTY = "empty"  # missing or empty directory: fresh start
    # corruption before the tail is not an outcome: open() raises LogCorruptError


@dataclass(frozen=True)
class RecoveryReport:
    outcome: RecoveryOutcome
    next_position: LogPosition  # where the next append will land
    first_position: LogPosition  # oldest record still held (== next_position if none)
    truncated_path: str | None = None
    truncated_offset: int | None = None
    truncated_bytes: int = 0


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record as read back: its sequence number, writer epoch and payload bytes."""

    seq: int
    epoch: int
    payload: bytes


class TransactionLog(ABC):
    """See the module docstring for the full contract."""

    @abstractmethod
    def open(self) -> RecoveryReport: ...

    @abstractmethod
    def read_from(self, position: LogPosition) -> Iterator[LogRecord]: ...

    @abstractmethod
    def append(self, payload: bytes) -> int: ...

    @abstractmethod
    def wait_durable(self, seq: int, timeout_s: float | None = None) -> None: ...

    @abstractmethod
    def durable_future(self, seq: int) -> Future[None]: ...

    @abstractmethod
    def drop_before(self, position: LogPosition) -> int:
        """Delete sealed segments entirely before ``position``; return how many."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def next_position(self) -> LogPosition:
        """Where the next append will land."""

    @property
    @abstractmethod
    def durable_position(self) -> LogPosition:
        """Every record before this is durable under the policy."""

    @property
    def epoch(self) -> int:
        """The writer epoch stamped on appended records (fencing; 0 until replication)."""
        return 0

    @property
    @abstractmethod
    def recovered_epoch(self) -> int | None:
        """The epoch of the newest record ``open()`` found; None if it found none (or the
        log does not keep epochs with its records)."""

    @abstractmethod
    def set_epoch(self, epoch: int) -> None:
        """Stamp ``epoch`` on records appended from now on. A log whose writer epoch is
        decided elsewhere (the Kafka log: by its own promotion) may ignore it."""

    @abstractmethod
    def append_record(self, seq: int, epoch: int, payload: bytes) -> int:
        """Hold a record another log wrote, with its ``seq`` and ``epoch`` (a replica).

        ``seq`` must be exactly :attr:`next_position` (``ValueError`` otherwise). Returns
        ``seq``; wait for it like an :meth:`append`.
        """

    @property
    def syncs_locally(self) -> bool:
        """Whether :meth:`sync` is a local call that makes what was appended durable."""
        return False

    def sync(self) -> bool:
        """Make every record appended so far durable in the calling thread; True if done.

        For a caller that batches its waits itself and can afford to block on the disk
        (the server's event loop, once per iteration, as Redis's ``beforeSleep`` does under
        ``appendfsync always``): no other thread is woken, no future is settled. Afterwards
        ``durable_position`` says what is durable; on a failure the log is failed exactly
        as if its own flusher had failed. Optional: this default does nothing and returns
        False (wait with :meth:`durable_future` instead), for logs whose durability is not
        a local call.
        """
        return False

    def reset(self, position: LogPosition) -> None:
        """Discard every record and continue at ``position`` (a replica's full resync).

        Optional: this default raises :class:`DurabilityError`, for logs that cannot.
        """
        raise DurabilityError("this transaction log cannot restart at a position")

    def rewind(self) -> LogPosition:
        """After a failure (a full disk), drop every record that is not durable and accept
        appends again; return the position after the last record kept.

        The dropped records' seqs are void: waiting for one raises the failure, and no
        later record reuses them. Optional: this default raises :class:`DurabilityError`
        (the failure is then permanent until restart), for logs that cannot.
        """
        raise DurabilityError("this transaction log cannot recover from a failure; restart")
