"""FileLog behaviour: appends, reads, rotation, group commit, fsync policies, failures."""

from __future__ import annotations

import asyncio
import errno
import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.config import FsyncPolicy
from store.errors import DurabilityError
from store.wal import file_log as file_log_module
from store.wal.base import LogRecord, RecoveryOutcome
from store.wal.file_log import FileLog, LogState
from store.wal.position import LogPosition
from store.wal.segments import list_segments
from tests.harness.wait import wait_for


def opened(directory: Path, **kwargs: object) -> FileLog:
    log = FileLog(directory, **kwargs)  # type: ignore[arg-type]
    log.open()
    return log


def read_all(log: FileLog, start: int = 1) -> list[LogRecord]:
    return list(log.read_from(LogPosition(start)))


def test_append_and_read_back(tmp_path: Path) -> None:
    log = opened(tmp_path / "wal", epoch=3)
    seqs = [log.append(f"payload {i}".encode()) for i in range(10)]
    assert seqs == list(range(1, 11))
    log.wait_durable(10)
    assert log.next_position == LogPosition(11)
    assert log.durable_position == LogPosition(11)
    records = read_all(log)
    assert [r.payload for r in records] == [f"payload {i}".encode() for i in range(10)]
    assert {r.epoch for r in records} == {3}
    assert [r.seq for r in read_all(log, 7)] == [7, 8, 9, 10]
    assert read_all(log, 50) == []
    log.close()


def test_restart_continues_numbering(tmp_path: Path) -> None:
    log = opened(tmp_path, fsync=FsyncPolicy.NO)
    for i in range(5):
        log.append(bytes([i]))
    log.close()
    log = FileLog(tmp_path, epoch=9)
    report = log.open()
    assert report.outcome is RecoveryOutcome.CLEAN
    assert report.next_position == LogPosition(6)
    assert report.first_position == LogPosition(1)
    assert log.recovered_epoch == 0
    assert log.append(b"six") == 6
    log.wait_durable(6)
    assert [(r.seq, r.epoch) for r in read_all(log, 5)] == [(5, 0), (6, 9)]
    log.close()


def test_rotation_seals_segments_and_never_touches_them_again(tmp_path: Path) -> None:
    log = opened(tmp_path, fsync=FsyncPolicy.NO, segment_max_bytes=300)
    payload = b"p" * 100  # 125 bytes per record: two records per segment
    for _ in range(7):
        log.append(payload)
    segs = list_segments(tmp_path)
    assert [s.first_seq for s in segs] == [1, 3, 5, 7]
    assert [Path(s.path).name for s in segs][1] == "00000000000000000003.log"
    sealed = {s.path: Path(s.path).read_bytes() for s in segs[:-1]}
    assert all(len(b) == 250 for b in sealed.values())
    for _ in range(5):
        log.append(payload)
    for path, content in sealed.items():
        assert Path(path).read_bytes() == content
    assert [r.seq for r in read_all(log)] == list(range(1, 13))
    log.close()
    log = opened(tmp_path, fsync=FsyncPolicy.NO, segment_max_bytes=300)
    assert log.append(payload) == 13
    assert [r.seq for r in read_all(log, 4)] == list(range(4, 14))
    log.close()


def test_a_record_bigger_than_a_segment_gets_its_own(tmp_path: Path) -> None:
    log = opened(tmp_path, fsync=FsyncPolicy.NO, segment_max_bytes=100)
    log.append(b"a")
    log.append(b"b" * 500)
    log.append(b"c")
    assert [s.first_seq for s in list_segments(tmp_path)] == [1, 2, 3]
    assert [r.payload for r in read_all(log)] == [b"a", b"b" * 500, b"c"]
    log.close()


def test_drop_before_deletes_only_sealed_segments_entirely_before(tmp_path: Path) -> None:
    log = opened(tmp_path, fsync=FsyncPolicy.NO, segment_max_bytes=60)
    for i in range(6):  # 26..27-byte records, two per segment: [1,2] [3,4] [5,6]
        log.append(bytes([i, i]))
    assert [s.first_seq for s in list_segments(tmp_path)] == [1, 3, 5]
    assert log.drop_before(LogPosition(4)) == 1  # [1,2] only; seq 3 is still needed
    assert [s.first_seq for s in list_segments(tmp_path)] == [3, 5]
    assert [r.seq for r in read_all(log, 3)] == [3, 4, 5, 6]
    with pytest.raises(ValueError, match="load a snapshot"):
        read_all(log, 1)
    assert log.drop_before(LogPosition(100)) == 1  # never the active segment
    assert [s.first_seq for s in list_segments(tmp_path)] == [5]
    log.close()
    log = FileLog(tmp_path)
    report = log.open()
    assert report.first_position == LogPosition(5)
    assert report.next_position == LogPosition(7)
    log.close()


def test_read_from_while_appending(tmp_path: Path) -> None:
    log = opened(tmp_path, fsync=FsyncPolicy.NO, segment_max_bytes=2000)
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            log.append(b"w" * 50)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for(lambda: log.next_position.seq > 200, 10)
        for _ in range(5):
            seqs = [r.seq for r in read_all(log)]
            assert seqs == list(range(1, len(seqs) + 1))
            assert len(seqs) >= 200
    finally:
        stop.set()
        thread.join()
    log.close()


def test_group_commit_shares_fsyncs(tmp_path: Path) -> None:
    log = opened(tmp_path)
    threads_n, per_thread = 8, 50
    barrier = threading.Barrier(threads_n)
    acked: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                seq = log.append(b"x" * 200)
                log.wait_durable(seq, timeout_s=30)
                assert log.durable_position.seq > seq
                acked.append(seq)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = threads_n * per_thread
    assert sorted(acked) == list(range(1, total + 1))
    assert log.durable_position == LogPosition(total + 1)
    assert 1 <= log.fsync_count <= total // 2, f"{log.fsync_count} fsyncs for {total} writes"
    log.close()


async def test_durable_future_for_asyncio(tmp_path: Path) -> None:
    threads_before = threading.active_count()
    log = opened(tmp_path)
    seqs = [log.append(b"a") for _ in range(20)]
    await asyncio.gather(*(asyncio.wrap_future(log.durable_future(s)) for s in seqs))
    assert log.durable_position == LogPosition(21)
    assert log.durable_future(5).result(timeout=0) is None
    # no thread per future: at most the log's own flusher was added
    assert threading.active_count() <= threads_before + 2
    log.close()


def test_sync_in_the_callers_thread_makes_every_append_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = opened(tmp_path)
    seqs = [log.append(b"x" * 50) for _ in range(30)]
    waiting = log.durable_future(seqs[3])  # another waiter: settled by the caller's sync
    before = log.fsync_count
    assert log.sync() is True
    assert log.durable_position == LogPosition(31)
    assert waiting.result(timeout=0) is None
    # the flusher, woken by the future, may fsync too (neither holds the log's lock then)
    synced = log.fsync_count
    assert synced - before <= 2
    assert log.sync() is True and log.fsync_count == synced  # nothing new: no fsync

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_log_module.os, "fsync", broken_fsync)
    seq = log.append(b"lost")
    assert log.sync() is True
    assert log.durable_position == LogPosition(31)
    assert log.state is LogState.FAILED
    with pytest.raises(DurabilityError, match="restart the node"):
        log.durable_future(seq).result(timeout=0)
    log.close()


def test_appends_proceed_while_a_sync_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's gate runs sync() on a helper thread while the loop appends the next
    batch: the fsync must not hold the log's lock, and covers only what was appended
    before it began."""
    log = opened(tmp_path)
    first = [log.append(b"a" * 20) for _ in range(5)]
    log.sync()
    real_fsync = os.fsync
    entered, release = threading.Event(), threading.Event()

    def slow_fsync(fd: int) -> None:
        entered.set()
        assert release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(file_log_module.os, "fsync", slow_fsync)
    pending = log.append(b"b" * 20)
    syncer = threading.Thread(target=log.sync)
    syncer.start()
    assert entered.wait(10)
    appended: list[int] = []
    appender = threading.Thread(target=lambda: appended.append(log.append(b"c" * 20)))
    appender.start()
    appender.join(5)
    stuck = appender.is_alive()
    release.set()
    syncer.join(10)
    appender.join(10)
    assert not stuck, "append waited for the fsync of a sync() on another thread"
    assert log.durable_position == LogPosition(pending + 1)
    monkeypatch.setattr(file_log_module.os, "fsync", real_fsync)
    log.sync()
    assert log.durable_position == LogPosition(appended[0] + 1)
    assert first[-1] < pending < appended[0]
    log.close()


def test_sync_is_not_local_under_the_other_policies(tmp_path: Path) -> None:
    for policy in (FsyncPolicy.EVERYSEC, FsyncPolicy.NO):
        log = opened(tmp_path / policy.value, fsync=policy)
        log.append(b"x")
        assert not log.syncs_locally
        assert log.sync() is False
        log.close()
    log = opened(tmp_path / "always")
    assert log.syncs_locally
    log.close()


def test_everysec_syncs_in_the_background(tmp_path: Path) -> None:
    log = opened(tmp_path, fsync=FsyncPolicy.EVERYSEC)
    seq = log.append(b"x")
    log.wait_durable(seq)
    assert log.durable_future(seq).done()
    assert log.durable_position == LogPosition(2)
    wait_for(lambda: log.fsync_count >= 1, 5, message="everysec never fsynced")
    log.close()


def test_no_policy_never_fsyncs_until_close(tmp_path: Path) -> None:
    log = opened(tmp_path, fsync=FsyncPolicy.NO)
    for _ in range(10):
        log.wait_durable(log.append(b"x"))
    assert log.fsync_count == 0
    assert log.durable_position == LogPosition(11)
    log.close()
    assert log.fsync_count == 1


def test_lifecycle_errors(tmp_path: Path) -> None:
    log = FileLog(tmp_path)
    with pytest.raises(RuntimeError, match="open"):
        log.append(b"x")
    log.open()
    with pytest.raises(RuntimeError, match="once"):
        log.open()
    with pytest.raises(DurabilityError, match="in use"):
        FileLog(tmp_path).open()
    with pytest.raises(ValueError, match="never appended"):
        log.wait_durable(1)
    log.append(b"x")
    log.close()
    log.close()
    assert log.state is LogState.CLOSED
    with pytest.raises(DurabilityError, match="closed"):
        log.append(b"y")
    log.wait_durable(1)
    again = opened(tmp_path)  # the lock was released
    again.close()


def test_wait_durable_times_out_on_a_stalled_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = opened(tmp_path)
    release = threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(file_log_module.os, "fsync", slow_fsync)
    seq = log.append(b"x")
    with pytest.raises(TimeoutError, match="not fsynced"):
        log.wait_durable(seq, timeout_s=0.05)
    release.set()
    log.wait_durable(seq, timeout_s=10)
    log.close()


def test_fsync_failure_fails_waiters_futures_and_later_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = opened(tmp_path)
    log.wait_durable(log.append(b"before"))

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_log_module.os, "fsync", broken_fsync)
    seq = log.append(b"lost")
    future = log.durable_future(seq)
    with pytest.raises(DurabilityError, match="restart the node") as info:
        log.wait_durable(seq, timeout_s=10)
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.EIO
    with pytest.raises(DurabilityError):
        future.result(timeout=10)
    with pytest.raises(DurabilityError, match="fixing the disk"):
        log.append(b"after")
    with pytest.raises(DurabilityError):
        log.durable_future(seq).result(timeout=0)
    assert log.state is LogState.FAILED
    log.close()  # does not retry the fsync
    monkeypatch.undo()
    reopened = FileLog(tmp_path)
    assert reopened.open().next_position == LogPosition(3)
    reopened.close()


def test_write_failure_fails_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = opened(tmp_path, fsync=FsyncPolicy.EVERYSEC)
    log.append(b"ok")

    def full_disk(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_log_module.os, "write", full_disk)
    with pytest.raises(DurabilityError, match="No space left"):
        log.append(b"x")
    monkeypatch.undo()
    with pytest.raises(DurabilityError, match="restart the node"):
        log.append(b"y")
    with pytest.raises(DurabilityError):
        log.wait_durable(1)
    log.close()


def test_rewind_after_a_failed_fsync_voids_what_was_not_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = opened(tmp_path)
    log.wait_durable(log.append(b"kept"))

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_log_module.os, "fsync", broken_fsync)
    lost = [log.append(b"lost-1"), log.append(b"lost-2")]
    with pytest.raises(DurabilityError):
        log.wait_durable(lost[-1], timeout_s=10)
    monkeypatch.undo()
    assert log.rewind() == LogPosition(2)
    assert log.state is LogState.OPEN
    for seq in lost:  # void for good, and never reused by a later record
        with pytest.raises(DurabilityError, match="Input/output error"):
            log.wait_durable(seq, timeout_s=0)
        with pytest.raises(DurabilityError):
            log.durable_future(seq).result(timeout=0)
    after = log.append(b"after")
    assert after == 4
    log.wait_durable(after, timeout_s=10)
    payloads = [(r.seq, r.payload) for r in log.read_from(LogPosition(1))]
    assert payloads == [(1, b"kept"), (2, b""), (3, b""), (4, b"after")]
    log.close()
    reopened = FileLog(tmp_path)
    report = reopened.open()
    assert report.outcome is RecoveryOutcome.CLEAN and report.next_position == LogPosition(5)
    assert [r.payload for r in reopened.read_from(LogPosition(1))] == [b"kept", b"", b"", b"after"]
    reopened.close()


def test_rewind_after_a_short_write_removes_the_partial_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = opened(tmp_path)
    log.wait_durable(log.append(b"kept"))
    real_write = os.write

    def disk_fills_midway(fd: int, data: bytes) -> int:
        if len(data) > 8:
            return real_write(fd, bytes(data)[:8])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_log_module.os, "write", disk_fills_midway)
    with pytest.raises(DurabilityError, match="No space left"):
        log.append(b"refused")
    assert log.rewind() == LogPosition(2)
    with pytest.raises(DurabilityError, match="No space left"):  # still full: fails again
        log.append(b"refused again")
    monkeypatch.undo()
    assert log.rewind() == LogPosition(2)
    log.wait_durable(log.append(b"after"), timeout_s=10)
    log.close()
    reopened = FileLog(tmp_path)
    assert reopened.open().outcome is RecoveryOutcome.CLEAN
    assert [r.payload for r in reopened.read_from(LogPosition(1))] == [b"kept", b"after"]
    reopened.close()


def test_rewind_of_an_open_log_changes_nothing(tmp_path: Path) -> None:
    log = opened(tmp_path)
    log.wait_durable(log.append(b"a"))
    assert log.rewind() == LogPosition(2)
    assert log.append(b"b") == 2
    log.close()
    with pytest.raises(DurabilityError, match="closed"):
        log.rewind()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    payloads=st.lists(st.binary(max_size=300), max_size=40),
    segment_max_bytes=st.integers(min_value=30, max_value=2000),
    policy=st.sampled_from(list(FsyncPolicy)),
)
def test_any_payloads_survive_close_and_reopen(
    payloads: list[bytes], segment_max_bytes: int, policy: FsyncPolicy
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        log = opened(Path(directory), fsync=policy, segment_max_bytes=segment_max_bytes)
        for p in payloads:
            log.append(p)
        log.close()
        log = FileLog(directory, segment_max_bytes=segment_max_bytes)
        report = log.open()
        expected = RecoveryOutcome.CLEAN if payloads else RecoveryOutcome.EMPTY
        assert report.outcome is expected
        assert [r.payload for r in read_all(log)] == payloads
        assert [r.seq for r in read_all(log)] == list(range(1, len(payloads) + 1))
        log.close()
