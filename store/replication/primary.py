"""The primary side of replication: a backlog of recent records and one feeder per replica.

Contract:

* :class:`Backlog` keeps the newest records the engine appended (``append_listeners``,
  called under the engine lock from any thread), up to ``limit_bytes`` of payload. A
  feeder reads from it; a replica further behind is caught up from the log file first.
  As in Redis, the backlog fills only once a replica has attached (until then it holds
  nothing and costs no memory: a lone primary's partial resyncs read the log file).
* ``PSYNC <next_seq> <last_epoch>`` on a client connection turns it into a replica link
  (:meth:`PrimarySide.attach`): partial resync when this node's log (or backlog) holds
  ``next_seq`` onwards *and* its record ``next_seq - 1`` has ``last_epoch`` (the two
  histories agree up to there), full resync otherwise (a snapshot written by a forked
  child, then the records after it). Counted in ``sync_full`` / ``sync_partial_ok`` /
  ``sync_partial_err`` as Redis does.
* Records are sent as soon as they are appended (before they are durable here, as Redis
  does); a replica acknowledges each batch once it is durable in *its* log
  (``REPLCONF ACK``). :meth:`PrimarySide.wait_acks` resolves when enough replicas acked a
  seq: ``--min-replicas-to-ack`` and ``WAIT`` use it.
* A ping (``REPLPING``) goes to each replica at least once a second, also while records
  flow, with this node's newest seq and the bytes it has not sent that replica yet.
* Lag in bytes (:meth:`PrimarySide.lag_bytes`, ``lag_bytes=`` in INFO): log-record bytes
  after a replica's last ACK, exact while the backlog holds those records.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from store.aio import within

from ..wal.base import LogRecord
from ..wal.position import LogPosition
from . import protocol

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("memvec.replication")

PING_INTERVAL_S = 1.0
CATCH_UP_BATCH = 512
WRITE_BUFFER_HIGH_BYTES = 4 * 1024 * 1024
SNAPSHOT_CHUNK_BYTES = 1024 * 1024


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ReplicaChannel(Protocol):
    """The connection a replica attached on (``PSYNC``), as the primary side uses it.

    The server's client connection is one. After :meth:`PrimarySide.attach` the primary
    side owns its output: it writes the resync and the record stream to ``transport``
    (None once the connection is gone) with flow control on its write buffer, and the
    server sends nothing else on it. ``closing`` turns True when the connection ends;
    ``kill()`` closes it now. ``addr`` is the peer's ``host:port``.
    """

    @property
    def addr(self) -> str: ...

    @property
    def transport(self) -> asyncio.Transport | None: ...

    @property
    def closing(self) -> bool: ...

    def kill(self) -> None: ...


class Backlog:
    """Recent records in seq order (thread-safe; appended under the engine lock)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._lock = threading.Lock()
        self._items: list[tuple[LogRecord, int]] = []
        self._bytes = 0
        # running total of record_bytes() over every record added, and its value before
        # each kept record: bytes between two seqs are a subtraction
        self._total = 0
        self._before: list[int] = []
        self.wake: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._wake_pending = False
        self.streaming = 0  # feeders waiting for records; no wake-ups without them
        self.active = False  # set when the first replica attaches

    def add(self, rec: LogRecord) -> None:
        if not self.active:
            return
        with self._lock:
            items = self._items
            if items and items[-1][0].seq + 1 != rec.seq:
                items.clear()  # the log jumped (full resync of this node): start over
                self._before.clear()
                self._bytes = 0
            items.append((rec, now_ms()))
            self._before.append(self._total)
            self._total += protocol.record_bytes(rec)
            self._bytes += len(rec.payload) + 64
            if self._bytes > self.limit_bytes and len(items) > 1:
                drop = 0
                target = self.limit_bytes * 3 // 4
                size = self._bytes
                while size > target and drop < len(items) - 1:
                    size -= len(items[drop][0].payload) + 64
                    drop += 1
                del items[:drop]
                del self._before[:drop]
                self._bytes = size
        self._notify()

    def _notify(self) -> None:
        loop, wake = self.loop, self.wake
        if loop is None or wake is None or self._wake_pending or not self.streaming:
            return
        self._wake_pending = True
        try:
            loop.call_soon_threadsafe(self._do_wake)
        except RuntimeError:  # loop closed (shutdown)
            self._wake_pending = False

    def _do_wake(self) -> None:
        self._wake_pending = False
        if self.wake is not None:
            self.wake.set()
            self.wake = asyncio.Event()

    def first_seq(self) -> int | None:
        with self._lock:
            return self._items[0][0].seq if self._items else None

    def since(self, seq: int, limit: int = 4096) -> list[tuple[LogRecord, int]] | None:
        """Records from ``seq`` on (at most ``limit``); None if ``seq`` is older than the
        backlog; [] if there is nothing yet."""
        with self._lock:
            items = self._items
            if not items:
                return None
            first = items[0][0].seq
            if seq < first:
                return None
            i = seq - first
            return items[i : i + limit]

    def epoch_of(self, seq: int) -> int | None:
        with self._lock:
            if self._items and self._items[0][0].seq <= seq <= self._items[-1][0].seq:
                return self._items[seq - self._items[0][0].seq][0].epoch
        return None

    def bytes_after(self, seq: int, last_seq: int) -> int:
        """Log-record bytes (:func:`protocol.record_bytes`) of the records ``seq + 1`` to
        ``last_seq``: exact for those the backlog holds; each one it does not hold (older
        than the backlog, or not added yet) counts as the backlog's mean record size."""
        if seq >= last_seq:
            return 0
        with self._lock:
            items = self._items
            if not items:
                return (last_seq - seq) * protocol.record_bytes(LogRecord(0, 0, b""))
            first, newest = items[0][0].seq, items[-1][0].seq
            mean = (self._total - self._before[0]) // len(items)
            lo = min(max(seq + 1, first), newest + 1)  # first held record counted
            hi = min(last_seq, newest)
            exact = 0
            if lo <= hi:
                exact = (self._before[hi + 1 - first] if hi < newest else self._total) - (
                    self._before[lo - first]
                )
            held = max(0, hi - lo + 1)
            return exact + (last_seq - seq - held) * mean

    @property
    def size_bytes(self) -> int:
        return self._bytes


@dataclass
class ReplicaState:
    """One attached replica, as INFO shows it."""

    conn: ReplicaChannel
    ip: str
    port: int
    id: int
    state: str = "wait_bgsave"
    sent_seq: int = 0
    ack_seq: int = 0
    ack_time: float = field(default_factory=time.monotonic)
    task: asyncio.Task[None] | None = None


@dataclass
class SyncStats:
    sync_full: int = 0
    sync_partial_ok: int = 0
    sync_partial_err: int = 0


class PrimarySide:
    """Serves replicas of this node (see the module docstring)."""

    def __init__(self, engine: Engine, replid: str, backlog_bytes: int) -> None:
        self.engine = engine
        self.replid = replid
        self.backlog = Backlog(backlog_bytes)
        self.replicas: dict[int, ReplicaState] = {}
        self.stats = SyncStats()
        self._ids = itertools.count(1)
        self._ack_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.backlog.loop = loop
        self.backlog.wake = asyncio.Event()
        self.engine.append_listeners.append(self.backlog.add)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.engine.append_listeners.remove(self.backlog.add)
        self.disconnect_all()
        tasks = [r.task for r in self.replicas.values() if r.task is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def disconnect_all(self) -> None:
        for r in list(self.replicas.values()):
            r.conn.kill()

    # -- PSYNC -----------------------------------------------------------------------------
    def attach(self, conn: ReplicaChannel, next_seq: int, last_epoch: int, port: int) -> None:
        host = conn.addr.rsplit(":", 1)[0].strip("[]")
        self.backlog.active = True  # before the snapshot position is taken: nothing is missed
        state = ReplicaState(conn, host, port, next(self._ids))
        self.replicas[state.id] = state
        state.task = asyncio.get_running_loop().create_task(self._feed(state, next_seq, last_epoch))

    def _can_continue(self, next_seq: int, last_epoch: int) -> bool:
        engine = self.engine
        if next_seq > engine.applied_position.seq:
            return False
        if next_seq == 1:
            return self._holds(1)
        epoch = self._epoch_of(next_seq - 1)
        return epoch is not None and epoch == last_epoch and self._holds(next_seq)

    def _holds(self, seq: int) -> bool:
        """Whether records from ``seq`` on can be sent (blocking: may read the log)."""
        if seq == self.engine.applied_position.seq:
            return True
        first = self.backlog.first_seq()
        if first is not None and seq >= first:
            return True
        tlog = self.engine.transaction_log
        if tlog is None:
            return False
        try:
            rec = next(iter(tlog.read_from(LogPosition(seq))), None)
        except ValueError:
            return False
        return rec is not None and rec.seq == seq

    def _epoch_of(self, seq: int) -> int | None:
        if seq == self.engine.applied_position.seq - 1:
            return self.engine.last_epoch
        epoch = self.backlog.epoch_of(seq)
        if epoch is not None:
            return epoch
        tlog = self.engine.transaction_log
        if tlog is None or seq < 1:
            return None
        try:
            rec = next(iter(tlog.read_from(LogPosition(seq))), None)
        except ValueError:
            return None
        return rec.epoch if rec is not None and rec.seq == seq else None

    async def _feed(self, r: ReplicaState, next_seq: int, last_epoch: int) -> None:
        transport = r.conn.transport
        loop = asyncio.get_running_loop()
        try:
            assert transport is not None
            if await loop.run_in_executor(None, self._can_continue, next_seq, last_epoch):
                self.stats.sync_partial_ok += 1
                transport.write(protocol.continue_line(self.replid, self.engine.last_epoch))
                log.info("replica %s:%d: partial resync from seq %d", r.ip, r.port, next_seq)
            else:
                if next_seq > 1:
                    self.stats.sync_partial_err += 1
                self.stats.sync_full += 1
                next_seq = await self._send_snapshot(r)
            r.state = "online"
            r.sent_seq = next_seq - 1
            self.backlog.streaming += 1
            try:
                await self._stream(r, next_seq)
            finally:
                self.backlog.streaming -= 1
        except (ConnectionError, OSError) as exc:
            log.info("replica %s:%d disconnected: %s", r.ip, r.port, exc)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("feeding replica %s:%d failed; closing its link", r.ip, r.port)
        finally:
            self.replicas.pop(r.id, None)
            r.conn.kill()

    async def _send_snapshot(self, r: ReplicaState) -> int:
        loop = asyncio.get_running_loop()
        position, path = await loop.run_in_executor(
            None, self.engine.persistence.write_temp_snapshot
        )
        transport = r.conn.transport
        assert transport is not None
        try:
            size = path.stat().st_size
            transport.write(
                protocol.fullresync_header(self.replid, position.seq, self.engine.last_epoch, size)
            )
            with open(path, "rb") as f:
                while chunk := f.read(SNAPSHOT_CHUNK_BYTES):
                    await self._drain(r)
                    transport.write(chunk)
            transport.write(b"\r\n")
        finally:
            path.unlink(missing_ok=True)
        log.info("replica %s:%d: full resync at %s (%d bytes)", r.ip, r.port, position, size)
        return position.seq

    async def _drain(self, r: ReplicaState) -> None:
        transport = r.conn.transport
        while transport is not None and transport.get_write_buffer_size() > WRITE_BUFFER_HIGH_BYTES:
            if transport.is_closing():
                raise ConnectionError("replica link closed")
            await asyncio.sleep(0.005)

    async def _stream(self, r: ReplicaState, next_seq: int) -> None:
        transport = r.conn.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        last_ping = time.monotonic()
        while True:
            if transport.is_closing() or r.conn.closing:
                return
            wake = self.backlog.wake
            items = self.backlog.since(next_seq)
            if items is None and next_seq < self.engine.applied_position.seq:
                items = await loop.run_in_executor(None, self._read_log, next_seq)
                if not items and self.backlog.since(next_seq) is None:
                    raise ConnectionError(f"records from seq {next_seq} are gone; resync")
            if items:
                out = [protocol.encode_record(rec, ms) for rec, ms in items]
                transport.write(b"".join(out))
                next_seq = items[-1][0].seq + 1
                r.sent_seq = next_seq - 1
            timeout = PING_INTERVAL_S - (time.monotonic() - last_ping)
            if timeout <= 0:
                last = self.last_seq()
                unsent = self.backlog.bytes_after(r.sent_seq, last)
                transport.write(protocol.encode_ping(now_ms(), last, unsent))
                last_ping = time.monotonic()
                continue
            if items:
                await self._drain(r)
                continue
            assert wake is not None
            with contextlib.suppress(asyncio.TimeoutError):
                await within(wake.wait(), timeout)

    def _read_log(self, seq: int) -> list[tuple[LogRecord, int]]:
        tlog = self.engine.transaction_log
        if tlog is None:
            return []
        out: list[tuple[LogRecord, int]] = []
        try:
            for rec in tlog.read_from(LogPosition(seq)):
                out.append((rec, 0))
                if len(out) >= CATCH_UP_BATCH:
                    break
        except ValueError:
            return []
        return out

    # -- acknowledgements ------------------------------------------------------------------
    def on_ack(self, conn: ReplicaChannel, seq: int) -> None:
        for r in self.replicas.values():
            if r.conn is conn:
                r.ack_seq = max(r.ack_seq, seq)
                r.ack_time = time.monotonic()
        if self._ack_waiters:
            still = []
            for need_seq, n, fut in self._ack_waiters:
                if fut.done():
                    continue
                if self.acked(need_seq) >= n:
                    fut.set_result(None)
                else:
                    still.append((need_seq, n, fut))
            self._ack_waiters = still

    def acked(self, seq: int) -> int:
        return sum(1 for r in self.replicas.values() if r.state == "online" and r.ack_seq >= seq)

    async def wait_acks(self, seq: int, n: int, timeout_ms: int) -> int:
        """Wait until ``n`` replicas acked ``seq`` or ``timeout_ms`` passed (0: forever);
        return how many have."""
        if n <= 0 or self.acked(seq) >= n:
            return self.acked(seq)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ack_waiters.append((seq, n, fut))
        with contextlib.suppress(asyncio.TimeoutError):
            await within(fut, timeout_ms / 1000 if timeout_ms > 0 else None)
        return self.acked(seq)

    def last_seq(self) -> int:
        """This node's newest record."""
        return self.engine.applied_position.seq - 1

    def lag_bytes(self, r: ReplicaState) -> int:
        """Log-record bytes this node has after the last record ``r`` acknowledged."""
        return self.backlog.bytes_after(r.ack_seq, self.last_seq())

    def info_fields(self) -> list[tuple[str, object]]:
        last = self.last_seq()
        fields: list[tuple[str, object]] = [("connected_slaves", len(self.replicas))]
        now = time.monotonic()
        worst = 0
        for i, r in enumerate(self.replicas.values()):
            lag_bytes = self.lag_bytes(r)
            worst = max(worst, lag_bytes)
            fields.append(
                (
                    f"slave{i}",
                    f"ip={r.ip},port={r.port},state={r.state},offset={r.ack_seq},"
                    f"lag={int(now - r.ack_time)},lag_records={max(0, last - r.ack_seq)},"
                    f"lag_bytes={lag_bytes}",
                )
            )
        fields.append(("memvec_replicas_lag_bytes_max", worst))
        return fields
