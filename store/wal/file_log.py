"""The file-backed transaction log: append-only segment files in one directory.

Implements :class:`store.wal.base.TransactionLog` (read its docstring for the contract).
Record bytes are in :mod:`store.wal.record`, file naming and scanning in
:mod:`store.wal.segments`, the operator's repair tool in :mod:`store.wal.repair`.

Writing. ``append`` encodes the record and hands it to the OS with ``os.write`` on an
``O_APPEND`` fd, under the log's own lock, and returns its seq; it never fsyncs, with
one exception: when the active segment would grow past ``segment_max_bytes`` it is
sealed (fsynced) and the next segment is created (and the directory fsynced) inside
that append, once per segment.

Group commit. Under ``always`` one flusher thread does every fsync. A waiter
(``wait_durable`` or ``durable_future``) records the seq it needs and wakes the
flusher; the flusher takes the last written seq, fsyncs the active segment once, and
releases every waiter and future up to that seq. Writers that append while an fsync
runs are all covered by the next one, so N concurrent writers cost far fewer than N
fsyncs (see ``fsync_count``). Under ``everysec`` the same thread fsyncs once a second if
anything was written; under ``no`` there is no thread. ``close()`` always fsyncs.

Failure. The first ``OSError`` from a write or fsync turns the log into ``FAILED``:
pending waiters and futures get :class:`DurabilityError`, and so does every later
``append``/``wait_durable``. A failed fsync is never retried (after it the page cache
may have dropped the dirty pages, so a retry could "succeed" without the data).

Rewind (``rewind()``, after a failure: a full disk). The active segment is truncated back
to the *durable boundary* (under ``always`` the end of what was last fsynced, under the
other policies the end of what was written) and that truncation is fsynced, so the
records after it are gone from the file whatever the page cache held: a write that was
refused is not found by a restart either. Their seqs are *void* for good: waiting for one
raises the failure that voided it. They are not reused: the next append first writes an
empty filler record for each of them (an empty payload replays as nothing), so seqs stay
contiguous on disk and a late waiter can never be acknowledged by someone else's record.
The log then accepts appends again (the flusher restarts); if the disk still refuses,
the next write fails the same way. A rewind that cannot truncate leaves the log failed.

Recovery (``open()``). Segments are checked oldest first: every record's CRC and seq,
and that each segment starts right after its predecessor. Bad bytes at the end of the
last segment with no intact record after them (a partial record, a record whose CRC
fails, zeros) are a torn tail: the file is truncated there, fsynced and the outcome is
``TRUNCATED_TAIL`` with a warning. Anything else (an intact record after the damage, a
bad byte in a sealed segment, a seq out of order, missing records between segments)
raises :class:`LogCorruptError` naming the file, the offset and the repair command.

Durable position. Under ``always`` it is what has been fsynced; under ``everysec`` and
``no`` it is what was handed to the OS, since that is all those policies promise.
"""

from __future__ import annotations

import bisect
import enum
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

from ..config import FsyncPolicy
from ..errors import DurabilityError, RecordVoidedError
from ..files import fsync_dir
from . import record, segments
from .base import (
    LogRecord,
    RecoveryOutcome,
    RecoveryReport,
    TransactionLog,
)
from .position import LogPosition
from .record import BadRecord
from .repair import corrupt_error
from .segments import SegmentFile
from .waiters import DurableFutures, copy_failure, settle, wait_until_durable

logger = logging.getLogger(__name__)

MiB = 1 << 20
DEFAULT_SEGMENT_MAX_BYTES = 64 * MiB
EVERYSEC_INTERVAL_S = 1.0


class LogState(enum.Enum):
    NEW = "new"  # constructed; call open()
    OPEN = "open"  # accepting appends
    FAILED = "failed"  # a write or fsync failed; appends raise DurabilityError
    CLOSED = "closed"


class FileLog(TransactionLog):
    """Segment files in ``directory``; see the module docstring.

    ``segment_max_bytes`` trades recovery/deletion granularity (``drop_before`` frees
    whole segments only) against the number of files; a record larger than it gets a
    segment of its own. ``epoch`` is stamped on every record this instance appends.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = FsyncPolicy.ALWAYS,
        segment_max_bytes: int = DEFAULT_SEGMENT_MAX_BYTES,
        epoch: int = 0,
    ) -> None:
        if segment_max_bytes < 1:
            raise ValueError(f"segment_max_bytes must be positive, got {segment_max_bytes}")
        if not 0 <= epoch < 1 << 64:
            raise ValueError(f"epoch must fit in an unsigned 64-bit integer, got {epoch}")
        self._dir = os.path.abspath(os.fspath(directory))
        self._policy = FsyncPolicy(fsync)
        self._segment_max_bytes = segment_max_bytes
        self._epoch = epoch

        # _lock guards the write side: state, fds, segment list, sizes, seqs written.
        self._lock = threading.Lock()
        self._state = LogState.NEW
        self._segments: list[SegmentFile] = []
        self._fd = -1
        self._active_size = 0
        self._next_seq = 1
        self._written_seq = 0
        # the last positions handed out (next_position, durable_position), reused while
        # their seq holds
        self._next_at = LogPosition(1)
        self._durable_at = LogPosition(1)
        self._retired_fds: list[int] = []
        self._lock_fd = -1
        self._failure: DurabilityError | None = None
        self._recovered_epoch: int | None = None
        # seqs rewound after a failure: (first, last, the failure that voided them)
        self._voided: list[tuple[int, int, DurabilityError]] = []
        self._fillers_from = 0  # first void seq still to be written as a filler (0: none)

        # _sync_lock guards durability: synced/requested seqs, waiters, futures, counters.
        # Lock order: _lock before _sync_lock, never the reverse.
        self._sync_lock = threading.Lock()
        self._durable_cv = threading.Condition(self._sync_lock)
        self._work_cv = threading.Condition(self._sync_lock)
        self._synced_seq = 0
        # where the durable bytes end: (first seq of that segment, its size then)
        self._synced_end = (1, 0)
        # bumped by each rewind: an fsync that began before it covers truncated bytes
        self._rewinds = 0
        self._requested_seq = 0
        self._futures = DurableFutures()
        self._fsync_count = 0
        self._stopping = False
        self._flusher: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> RecoveryReport:
        with self._lock:
            if self._state is not LogState.NEW:
                raise RuntimeError(f"FileLog.open() is called once; the log is {self._state.value}")
            try:
                created = not os.path.isdir(self._dir)
                os.makedirs(self._dir, exist_ok=True)
                if created:
                    fsync_dir(os.path.dirname(self._dir))
                self._lock_fd = segments.lock_directory(self._dir)
            except OSError as exc:
                raise DurabilityError(
                    f"cannot open the transaction log directory {self._dir}: {exc}; "
                    "check that the path is a writable directory"
                ) from exc
            try:
                report = self._recover()
            except OSError as exc:
                self._release_files()
                raise DurabilityError(
                    f"cannot recover the transaction log in {self._dir}: {exc}; fix the disk "
                    "or permissions and start again"
                ) from exc
            except BaseException:
                self._release_files()
                raise
            self._state = LogState.OPEN
        if self._policy is not FsyncPolicy.NO:
            self._flusher = threading.Thread(
                target=self._flusher_run, name=f"wal-flusher:{self._dir}", daemon=True
            )
            self._flusher.start()
        return report

    def close(self) -> None:
        """Flush and fsync what was appended, stop the flusher, release files. Idempotent.

        Raises :class:`DurabilityError` if the final fsync fails.
        """
        with self._lock:
            if self._state in (LogState.CLOSED, LogState.NEW):
                self._state = LogState.CLOSED
                return
            self._state = LogState.CLOSED
        with self._sync_lock:
            self._stopping = True
            self._work_cv.notify_all()
        if self._flusher is not None:
            self._flusher.join()
        error: DurabilityError | None = None
        with self._lock:
            target = self._written_seq
            if self._failure is None and target > self._synced_seq:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    error = self._record_failure("fsync", exc)
                else:
                    with self._sync_lock:
                        self._fsync_count += 1
            if self._failure is None:
                with self._sync_lock:
                    self._synced_seq = max(self._synced_seq, target)
            self._release_files()
        self._settle_waiters()
        if error is not None:
            raise error

    # ------------------------------------------------------------------ writing

    def append(self, payload: bytes) -> int:
        return self._append(None, self._epoch, payload)

    def append_record(self, seq: int, epoch: int, payload: bytes) -> int:
        """Append a record that keeps another log's ``seq`` and ``epoch`` (replicas).

        ``seq`` must be exactly :attr:`next_position` (``ValueError`` otherwise): a replica
        copies its primary's log record by record, so gaps or repeats are bugs. Same
        durability rules as :meth:`append`.
        """
        return self._append(seq, epoch, payload)

    def set_epoch(self, epoch: int) -> None:
        """Stamp ``epoch`` on records appended from now on (promotion bumps it)."""
        if not 0 <= epoch < 1 << 64:
            raise ValueError(f"epoch must fit in an unsigned 64-bit integer, got {epoch}")
        with self._lock:
            self._epoch = epoch

    def reset(self, position: LogPosition) -> None:
        """Discard every record and continue at ``position`` (replica full resync).

        Under the log's lock: the active segment is fsynced and closed, every segment file
        is deleted, and a new empty segment whose first seq is ``position.seq`` is created
        (directory fsynced). Afterwards ``next_position == position`` and every seq before
        it counts as durable; ``read_from`` of an earlier position raises ``ValueError``
        (those records were dropped). Waiters for discarded seqs are released. The caller
        must hold a snapshot covering ``position`` (or the state is lost on restart).
        Raises :class:`DurabilityError` if the disk refuses.
        """
        with self._lock:
            if self._state is not LogState.OPEN:
                raise self._not_writable()
            try:
                if self._flusher is None:
                    os.close(self._fd)
                else:  # the flusher may be fsyncing it right now: it closes retired fds
                    self._retired_fds.append(self._fd)
                for seg in self._segments:
                    os.unlink(seg.path)
                path, self._fd = segments.create_segment(self._dir, position.seq)
                fsync_dir(self._dir)
            except OSError as exc:
                failed = self._record_failure("reset", exc)
                self._fd = -1
                raise failed from exc
            self._segments = [SegmentFile(position.seq, path)]
            self._active_size = 0
            self._next_seq = position.seq
            self._written_seq = position.seq - 1
            self._fillers_from = 0
            with self._sync_lock:
                self._synced_seq = self._requested_seq = position.seq - 1
                self._synced_end = (position.seq, 0)
        self._settle_waiters()

    def _append(self, given_seq: int | None, epoch: int, payload: bytes) -> int:
        failed: DurabilityError | None = None
        with self._lock:
            if self._state is not LogState.OPEN:
                raise self._not_writable()
            seq = self._next_seq
            if given_seq is not None and given_seq != seq:
                raise ValueError(
                    f"record seq {given_seq} does not follow this log (next is seq {seq}); "
                    "resynchronise the replica"
                )
            data = record.encode(seq, epoch, payload)
            if self._fillers_from:
                fillers = range(self._fillers_from, seq)
                data = b"".join([*(record.encode(s, epoch, b"") for s in fillers), data])
            try:
                if self._active_size and self._active_size + len(data) > self._segment_max_bytes:
                    self._rotate(seq)
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError as exc:
                failed = self._record_failure("write", exc)
            else:
                self._active_size += len(data)
                self._next_seq = seq + 1
                self._written_seq = seq
                self._fillers_from = 0
                return seq
        self._settle_waiters()
        raise failed

    def wait_durable(self, seq: int, timeout_s: float | None = None) -> None:
        """Block until ``seq`` is durable under the policy.

        Raises :class:`DurabilityError` if the log failed, ``TimeoutError`` if
        ``timeout_s`` passed first, ``ValueError`` for a seq that was never appended.
        """
        voided = self._voided_by(seq)
        if voided is not None:
            raise voided
        if self._policy is not FsyncPolicy.ALWAYS:
            self._check_not_failed()
            return
        with self._sync_lock:
            self._check_appended(seq)
            if self._synced_seq >= seq:
                return
            self._request(seq)
            wait_until_durable(
                self._durable_cv,
                seq,
                lambda: self._synced_seq,
                lambda: self._failure,
                timeout_s,
                lambda: (
                    f"record seq {seq} was not fsynced within {timeout_s} s "
                    f"(fsynced up to seq {self._synced_seq}); the disk may be stalled"
                ),
            )

    def durable_future(self, seq: int) -> Future[None]:
        """A future resolved when ``seq`` is durable (``asyncio.wrap_future`` it).

        It fails with :class:`DurabilityError` as ``wait_durable`` would raise. Futures are
        resolved by the flusher thread, not one thread per call.
        """
        future: Future[None] = Future()
        voided = self._voided_by(seq)
        if voided is not None:
            future.set_exception(voided)
            return future
        if self._policy is not FsyncPolicy.ALWAYS:
            if self._failure is not None:
                future.set_exception(self._failure_copy())
            else:
                future.set_result(None)
            return future
        with self._sync_lock:
            self._check_appended(seq)
            if self._failure is not None:
                future.set_exception(self._failure_copy())
            elif self._synced_seq >= seq:
                future.set_result(None)
            else:
                self._futures.add(seq, future)
                self._request(seq)
        return future

    @property
    def syncs_locally(self) -> bool:
        return self._policy is FsyncPolicy.ALWAYS

    def sync(self) -> bool:
        """Under ``always``, fsync what was appended, in the calling thread (see
        :meth:`TransactionLog.sync`); False under the other policies (nothing to do: their
        durability does not wait for an fsync).

        The fsync runs outside the log's lock, on a duplicate of the active segment's fd
        taken under it: appends from other threads proceed meanwhile (the server's gate
        runs this on a helper thread while the loop executes the next batch:
        docs/decisions/0011-fsync-off-the-loop.md), and a segment sealed and closed
        meanwhile cannot reuse the fd number under the fsync. Every record up to the seq
        read under the lock was written before it, so the fsync covers it; a rewind that
        happened meanwhile voids the round (as for the flusher's).
        """
        if self._policy is not FsyncPolicy.ALWAYS:
            return False
        with self._lock:
            target = self._written_seq
            if self._state is not LogState.OPEN or self._failure is not None:
                return True
            if target <= self._synced_seq:
                return True
            end = (self._segments[-1].first_seq, self._active_size)
            rewinds = self._rewinds
            try:
                fd = os.dup(self._fd)
            except OSError as exc:
                self._record_failure("fsync", exc)
                fd = -1
        if fd >= 0:
            try:
                os.fsync(fd)
            except OSError as exc:
                self._record_failure("fsync", exc)
            else:
                with self._sync_lock:
                    self._fsync_count += 1
                    if target > self._synced_seq and rewinds == self._rewinds:
                        self._synced_seq = target
                        self._synced_end = end
            finally:
                os.close(fd)
        self._settle_waiters()
        return True

    def rewind(self) -> LogPosition:
        """After a failure, drop what is not durable and accept appends again.

        Returns the position after the last record kept (every record before it is
        durable). The records after it are truncated away (the truncation is fsynced) and
        their seqs become void (see the module docstring). On an open log it changes
        nothing. Raises :class:`DurabilityError` if the log is closed, if the boundary is
        not in the active segment (a failed rotation), or if truncating fails; the log
        then stays failed.
        """
        with self._lock:
            if self._state is LogState.OPEN:
                return LogPosition(self._written_seq + 1)
            if self._state is not LogState.FAILED:
                raise self._not_writable()
            assert self._failure is not None
            failure = self._failure
            active = self._segments[-1].first_seq
            with self._sync_lock:
                # from here on a flusher's fsync that began earlier no longer counts
                self._rewinds += 1
                if self._policy is FsyncPolicy.ALWAYS:
                    (segment, size), kept = self._synced_end, self._synced_seq
                else:
                    (segment, size), kept = (active, self._active_size), self._written_seq
            if segment != active or self._fd < 0:
                raise self._failure_copy()
            try:
                os.ftruncate(self._fd, size)
                os.fsync(self._fd)
            except OSError as exc:
                raise DurabilityError(
                    f"could not truncate the transaction log in {self._dir} back to its "
                    f"durable end after a failure ({exc}); restart the node after fixing "
                    "the disk"
                ) from exc
            void = (kept + 1, self._next_seq - 1)
            if void[1] >= void[0]:
                self._voided.append((*void, failure))
                self._fillers_from = self._fillers_from or kept + 1
            self._active_size = size
            self._written_seq = kept
            with self._sync_lock:
                self._fsync_count += 1
                self._failure = None
                self._synced_seq = self._requested_seq = kept
                self._synced_end = (active, size)
                self._work_cv.notify_all()  # the flusher idles while the log is failed
            self._state = LogState.OPEN
        if void[1] >= void[0]:
            logger.warning(
                "transaction log %s: records %d..%d were not durable when the log failed; "
                "truncated them (their seqs are void), the log accepts writes again",
                self._dir,
                *void,
            )
        return LogPosition(kept + 1)

    def _voided_by(self, seq: int) -> RecordVoidedError | None:
        for first, last, failure in self._voided:
            if first <= seq <= last:
                error = RecordVoidedError(
                    f"record seq {seq} was dropped after {failure.message}; its write was undone"
                )
                error.__cause__ = failure.__cause__
                return error
        return None

    def drop_before(self, position: LogPosition) -> int:
        with self._lock:
            if self._state is LogState.NEW:
                raise RuntimeError("call FileLog.open() before drop_before()")
            drop = 0
            for i in range(len(self._segments) - 1):
                if self._segments[i + 1].first_seq - 1 < position.seq:
                    drop = i + 1
                else:
                    break
            dropped, self._segments = self._segments[:drop], self._segments[drop:]
        if not dropped:
            return 0
        try:
            for seg in dropped:
                os.unlink(seg.path)
            fsync_dir(self._dir)
        except OSError as exc:
            raise DurabilityError(
                f"could not delete old log segments in {self._dir}: {exc}; they are no longer "
                "read and may be removed by hand"
            ) from exc
        return len(dropped)

    # ------------------------------------------------------------------ reading

    def read_from(self, position: LogPosition) -> Iterator[LogRecord]:
        """Yield records ``>= position.seq`` in order, across segments.

        Yields at most the records appended before the call; each segment is read up to
        what was written when the reader reached it. Raises
        ``ValueError`` if records at ``position`` were already dropped (load a snapshot
        instead), :class:`LogCorruptError` if a segment turns out damaged.
        """
        wanted = position.seq
        with self._lock:
            # stop at what was appended when the read began, so a reader never chases a
            # writer that is faster than it (replicas call again to tail)
            limit = self._next_seq
        while wanted < limit:
            with self._lock:
                if self._state is LogState.NEW:
                    raise RuntimeError("call FileLog.open() before read_from()")
                segs = list(self._segments)
                active_size = self._active_size
            index = bisect.bisect_right([s.first_seq for s in segs], wanted) - 1
            if index < 0:
                raise self._dropped_error(wanted, segs)
            seg = segs[index]
            is_active = index == len(segs) - 1
            try:
                end = active_size if is_active else os.path.getsize(seg.path)
                expected, offset = seg.first_seq, 0
                for item in segments.read_records(seg.path, end):
                    if isinstance(item, BadRecord):
                        raise corrupt_error(self._dir, seg.path, item.offset, item.reason)
                    if item.seq != expected:
                        reason = f"found seq {item.seq}, expected {expected}"
                        raise corrupt_error(self._dir, seg.path, offset, reason)
                    expected += 1
                    offset += record.HEADER_BYTES + len(item.payload)
                    if item.seq >= limit:
                        return
                    if item.seq >= wanted:
                        wanted = item.seq + 1
                        yield item
            except FileNotFoundError:
                raise self._dropped_error(wanted, segs) from None
            if is_active:
                return
            successor = segs[index + 1].first_seq
            if expected != successor:
                reason = f"segment ends at seq {expected - 1} but the next starts at {successor}"
                raise corrupt_error(self._dir, seg.path, offset, reason)
            wanted = max(wanted, successor)

    # ------------------------------------------------------------------ properties

    @property
    def next_position(self) -> LogPosition:
        seq = self._next_seq
        held = self._next_at
        if held.seq != seq:  # one LogPosition per seq, not per call (several per command)
            held = self._next_at = LogPosition(seq)
        return held

    @property
    def durable_position(self) -> LogPosition:
        seq = (self._synced_seq if self._policy is FsyncPolicy.ALWAYS else self._written_seq) + 1
        held = self._durable_at
        if held.seq != seq:  # as next_position: positions are immutable, so shared
            held = self._durable_at = LogPosition(seq)
        return held

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def recovered_epoch(self) -> int | None:
        """The epoch of the last record found by ``open()`` (``None`` if there was none)."""
        return self._recovered_epoch

    @property
    def fsync_count(self) -> int:
        """Segment fsyncs done so far (flusher, sealing and close), for group-commit checks."""
        return self._fsync_count

    @property
    def policy(self) -> FsyncPolicy:
        return self._policy

    @property
    def directory(self) -> str:
        return self._dir

    @property
    def state(self) -> LogState:
        return self._state

    # ------------------------------------------------------------------ recovery

    def _recover(self) -> RecoveryReport:
        found = segments.list_segments(self._dir)
        if not found:
            path, self._fd = segments.create_segment(self._dir, 1)
            self._segments = [SegmentFile(1, path)]
            self._synced_end = (1, 0)
            start = LogPosition.start()
            return RecoveryReport(RecoveryOutcome.EMPTY, start, start)
        expected = found[0].first_seq
        truncated: tuple[str, int, int] | None = None
        last_scan = None
        for i, seg in enumerate(found):
            if seg.first_seq != expected:
                raise corrupt_error(
                    self._dir,
                    seg.path,
                    0,
                    f"segment starts at seq {seg.first_seq} but the one before ends at seq "
                    f"{expected - 1}: records are missing",
                )
            scan = segments.scan_segment(seg.path, seg.first_seq)
            if scan.bad is not None:
                if i < len(found) - 1:
                    raise corrupt_error(
                        self._dir,
                        seg.path,
                        scan.bad.offset,
                        f"{scan.bad.reason} in a sealed segment",
                    )
                if not scan.torn:
                    raise corrupt_error(
                        self._dir,
                        seg.path,
                        scan.bad.offset,
                        f"{scan.bad.reason}, with intact records after it",
                    )
            if scan.last_epoch is not None:
                self._recovered_epoch = scan.last_epoch
            expected = scan.next_seq
            last_scan = scan
        assert last_scan is not None
        self._fd = segments.open_for_append(last_scan.path)
        if last_scan.bad is not None:
            os.ftruncate(self._fd, last_scan.good_end)
            removed = last_scan.size - last_scan.good_end
            truncated = (last_scan.path, last_scan.good_end, removed)
            logger.warning(
                "transaction log %s: torn record at byte %d (%s); truncated %d bytes there. "
                "Records up to seq %d are intact; a torn record is never one acknowledged "
                "under fsync=always.",
                last_scan.path,
                last_scan.good_end,
                last_scan.bad.reason,
                removed,
                expected - 1,
            )
        os.fsync(self._fd)
        self._segments = found
        self._active_size = last_scan.good_end
        self._next_seq = expected
        self._written_seq = self._synced_seq = self._requested_seq = expected - 1
        self._synced_end = (found[-1].first_seq, last_scan.good_end)
        next_pos = LogPosition(expected)
        first_pos = LogPosition(found[0].first_seq)
        if truncated is not None:
            path, offset, removed = truncated
            return RecoveryReport(
                RecoveryOutcome.TRUNCATED_TAIL, next_pos, first_pos, path, offset, removed
            )
        outcome = RecoveryOutcome.EMPTY if expected == 1 else RecoveryOutcome.CLEAN
        return RecoveryReport(outcome, next_pos, first_pos)

    # ------------------------------------------------------------------ internals

    def _rotate(self, first_seq: int) -> None:
        """Seal the active segment and start the next one (caller holds ``_lock``)."""
        segments.seal_segment(self._fd)
        with self._sync_lock:
            self._fsync_count += 1
        path, fd = segments.create_segment(self._dir, first_seq)
        if self._flusher is None:
            os.close(self._fd)
        else:
            self._retired_fds.append(self._fd)
        self._fd = fd
        self._segments.append(SegmentFile(first_seq, path))
        self._active_size = 0
        with self._sync_lock:  # sealing fsynced every record before first_seq
            self._synced_seq = max(self._synced_seq, first_seq - 1)
            self._synced_end = (first_seq, 0)

    def _flusher_run(self) -> None:
        next_tick = time.monotonic() + EVERYSEC_INTERVAL_S
        while True:
            with self._sync_lock:
                if self._policy is FsyncPolicy.ALWAYS:
                    # a failed log is idle until rewind() clears the failure (or close())
                    while not self._stopping and (
                        self._failure is not None or self._requested_seq <= self._synced_seq
                    ):
                        self._work_cv.wait()
                else:
                    while not self._stopping and (wait := next_tick - time.monotonic()) > 0:
                        self._work_cv.wait(wait)
                    next_tick = time.monotonic() + EVERYSEC_INTERVAL_S
                if self._stopping:
                    return
            self._sync_once()

    def _sync_once(self) -> bool:
        """One group-commit round: fsync everything written so far. False if failed."""
        with self._lock:
            if self._failure is not None:
                return False
            target, fd = self._written_seq, self._fd
            end = (self._segments[-1].first_seq, self._active_size)
            rewinds = self._rewinds
            retired, self._retired_fds = self._retired_fds, []
        for old in retired:
            os.close(old)
        if target <= self._synced_seq:
            return True
        try:
            os.fsync(fd)
        except OSError as exc:
            self._record_failure("fsync", exc)
            self._settle_waiters()
            return False
        with self._sync_lock:
            self._fsync_count += 1
            if target > self._synced_seq and rewinds == self._rewinds:
                self._synced_seq = target
                self._synced_end = end
        self._settle_waiters()
        return True

    def _settle_waiters(self) -> None:
        """Wake waiters and resolve (or fail) the futures that are due. Holds no lock on return."""
        with self._sync_lock:
            failure, synced = self._failure, self._synced_seq
            due = self._futures.due(synced, failure is not None)
            self._durable_cv.notify_all()
        settle(due, synced, failure)

    def _record_failure(self, what: str, exc: OSError) -> DurabilityError:
        """Mark the log failed (first failure wins) and return the error to raise."""
        error = DurabilityError(
            f"the log failed ({what} to {self._dir}: {exc}); the write was not acknowledged "
            "and no more writes are accepted until the log is rewound (the engine does that "
            "by itself) or you restart the node after fixing the disk"
        )
        error.__cause__ = exc
        with self._sync_lock:
            if self._failure is None:
                self._failure = error
                if self._state is LogState.OPEN:
                    self._state = LogState.FAILED
            self._durable_cv.notify_all()
            self._work_cv.notify_all()
        return self._failure_copy()

    def _failure_copy(self) -> DurabilityError:
        assert self._failure is not None
        return copy_failure(self._failure)

    def _check_not_failed(self) -> None:
        if self._failure is not None:
            raise self._failure_copy()

    def _check_appended(self, seq: int) -> None:
        if not 1 <= seq <= self._written_seq:
            raise ValueError(
                f"record seq {seq} was never appended to this log (last appended: "
                f"{self._written_seq}); wait only for seqs returned by append()"
            )

    def _request(self, seq: int) -> None:
        if seq > self._requested_seq:
            self._requested_seq = seq
            self._work_cv.notify()

    def _not_writable(self) -> Exception:
        if self._state is LogState.NEW:
            return RuntimeError("call FileLog.open() before append()")
        if self._failure is not None:
            return self._failure_copy()
        return DurabilityError(
            f"the transaction log in {self._dir} is closed; no more writes are accepted"
        )

    def _dropped_error(self, wanted: int, segs: list[SegmentFile]) -> ValueError:
        first = segs[0].first_seq if segs else None
        return ValueError(
            f"log records from seq {wanted} were dropped (the oldest kept is seq {first}); "
            "load a snapshot and read from the position it covers"
        )

    def _release_files(self) -> None:
        for fd in [self._fd, *self._retired_fds, self._lock_fd]:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    logger.warning("closing a transaction log file in %s failed", self._dir)
        self._fd = self._lock_fd = -1
        self._retired_fds = []
