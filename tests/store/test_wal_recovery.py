"""FileLog recovery: named outcomes, torn tails, corruption, the repair command, kill -9."""

from __future__ import annotations

import logging
import os
import random
import shlex
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from store.config import FsyncPolicy
from store.errors import LogCorruptError
from store.wal import record
from store.wal.base import LogRecord, RecoveryOutcome, RecoveryReport
from store.wal.file_log import FileLog
from store.wal.position import LogPosition
from store.wal.segments import list_segments, segment_name

REPO_ROOT = Path(__file__).resolve().parents[2]


def payload_for(seq: int) -> bytes:
    return f"record {seq} ".encode() * (seq % 7 + 1)


def write_log(directory: Path, count: int, segment_max_bytes: int = 1 << 20) -> list[int]:
    """Append ``count`` records; return the byte offset of each (all in one segment)."""
    log = FileLog(directory, fsync=FsyncPolicy.NO, segment_max_bytes=segment_max_bytes)
    log.open()
    offsets, offset = [], 0
    for seq in range(1, count + 1):
        assert log.append(payload_for(seq)) == seq
        offsets.append(offset)
        offset += record.HEADER_BYTES + len(payload_for(seq))
    log.close()
    return offsets


def reopen(directory: Path) -> tuple[RecoveryReport, list[LogRecord], FileLog]:
    log = FileLog(directory)
    report = log.open()
    return report, list(log.read_from(LogPosition.start())), log


def first_segment(directory: Path) -> Path:
    return directory / segment_name(1)


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def run_repair(command: str) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "store.wal.repair"]
    return subprocess.run(
        [sys.executable, *argv[1:]], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_missing_or_empty_directory_is_empty(tmp_path: Path, make: str) -> None:
    directory = tmp_path / "wal"
    if make == "empty":
        directory.mkdir()
    report, records, log = reopen(directory)
    assert report == RecoveryReport(RecoveryOutcome.EMPTY, LogPosition(1), LogPosition(1))
    assert records == []
    assert log.append(b"first") == 1
    log.close()


def test_clean_reopen(tmp_path: Path) -> None:
    write_log(tmp_path, 5)
    report, records, log = reopen(tmp_path)
    assert report.outcome is RecoveryOutcome.CLEAN
    assert [r.payload for r in records] == [payload_for(s) for s in range(1, 6)]
    log.close()


@pytest.mark.parametrize("keep", [1, 10, record.HEADER_BYTES - 1, record.HEADER_BYTES, 26, -1])
def test_torn_last_record_is_truncated(
    tmp_path: Path, keep: int, caplog: pytest.LogCaptureFixture
) -> None:
    offsets = write_log(tmp_path, 6)
    path = first_segment(tmp_path)
    size = path.stat().st_size
    last = offsets[-1]
    cut = size - 1 if keep == -1 else last + keep
    os.truncate(path, cut)
    with caplog.at_level(logging.WARNING, logger="store.wal.file_log"):
        report, records, log = reopen(tmp_path)
    assert report.outcome is RecoveryOutcome.TRUNCATED_TAIL
    assert report.truncated_path == str(path)
    assert report.truncated_offset == last
    assert report.truncated_bytes == cut - last
    assert report.next_position == LogPosition(6)
    assert path.stat().st_size == last
    assert [r.payload for r in records] == [payload_for(s) for s in range(1, 6)]
    assert str(path) in caplog.text and f"byte {last}" in caplog.text
    assert log.append(b"after") == 6
    log.close()
    report, records, log = reopen(tmp_path)
    assert report.outcome is RecoveryOutcome.CLEAN
    assert records[-1] == LogRecord(6, 0, b"after")
    log.close()


def test_torn_first_and_only_record(tmp_path: Path) -> None:
    write_log(tmp_path, 1)
    os.truncate(first_segment(tmp_path), 7)
    report, records, log = reopen(tmp_path)
    assert (report.outcome, report.truncated_offset, records) == (
        RecoveryOutcome.TRUNCATED_TAIL,
        0,
        [],
    )
    assert log.append(b"x") == 1
    log.close()


@pytest.mark.parametrize("tail", [bytes(4096), b"\xa1\x05" + bytes(100)])
def test_zero_filled_or_partial_tail_is_torn(tmp_path: Path, tail: bytes) -> None:
    write_log(tmp_path, 4)
    path = first_segment(tmp_path)
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(tail)
    report, records, log = reopen(tmp_path)
    assert report.outcome is RecoveryOutcome.TRUNCATED_TAIL
    assert (report.truncated_offset, report.truncated_bytes) == (size, len(tail))
    assert len(records) == 4
    log.close()


@pytest.mark.parametrize("field_offset", [0, 1, 3, 6, 10, 18, 25, -1])
def test_flipped_byte_in_last_record_is_a_torn_tail(tmp_path: Path, field_offset: int) -> None:
    offsets = write_log(tmp_path, 5)
    path = first_segment(tmp_path)
    target = path.stat().st_size - 1 if field_offset == -1 else offsets[-1] + field_offset
    flip(path, target)
    report, records, log = reopen(tmp_path)
    assert report.outcome is RecoveryOutcome.TRUNCATED_TAIL
    assert report.truncated_offset == offsets[-1]
    assert [r.seq for r in records] == [1, 2, 3, 4]
    log.close()


@pytest.mark.parametrize("field_offset", [0, 1, 4, 6, 12, 20, 27])
def test_flipped_byte_mid_log_raises_and_repair_cuts_there(
    tmp_path: Path, field_offset: int
) -> None:
    offsets = write_log(tmp_path, 8)
    path = first_segment(tmp_path)
    flip(path, offsets[3] + field_offset)
    log = FileLog(tmp_path)
    with pytest.raises(LogCorruptError) as info:
        log.open()
    err = info.value
    assert (err.path, err.offset) == (str(path), offsets[3])
    assert err.repair_command == (
        f"python -m store.wal.repair --dir {tmp_path} --file {path.name} --offset {offsets[3]}"
    )
    assert err.repair_command in err.message and str(path) in err.message
    assert not err.retriable
    log.close()

    done = run_repair(err.repair_command)
    assert done.returncode == 0, done.stderr
    assert f"truncated at byte {offsets[3]}" in done.stdout

    report, records, log = reopen(tmp_path)
    assert report.outcome is RecoveryOutcome.CLEAN
    assert [r.payload for r in records] == [payload_for(s) for s in (1, 2, 3)]
    assert log.append(b"next") == 4
    log.close()


def test_corrupt_length_claiming_past_the_end_is_mid_log_damage(tmp_path: Path) -> None:
    offsets = write_log(tmp_path, 5)
    path = first_segment(tmp_path)
    data = bytearray(path.read_bytes())
    data[offsets[2] + 1 : offsets[2] + 5] = (10**6).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(LogCorruptError) as info:
        FileLog(tmp_path).open()
    assert info.value.offset == offsets[2]


def test_damage_in_a_sealed_segment_raises(tmp_path: Path) -> None:
    write_log(tmp_path, 9, segment_max_bytes=150)
    segs = list_segments(tmp_path)
    assert len(segs) >= 3
    sealed = Path(segs[1].path)
    flip(sealed, sealed.stat().st_size - 1)  # its last record: a tail only if it were last
    with pytest.raises(LogCorruptError, match="sealed segment") as info:
        FileLog(tmp_path).open()
    assert info.value.path == str(sealed)
    done = run_repair(info.value.repair_command)
    assert done.returncode == 0, done.stderr
    report, records, log = reopen(tmp_path)
    assert report.outcome is RecoveryOutcome.CLEAN
    assert [s.first_seq for s in list_segments(tmp_path)] == [segs[0].first_seq, segs[1].first_seq]
    assert [r.seq for r in records] == list(range(1, report.next_position.seq))
    assert report.next_position.seq == segs[2].first_seq - 1
    log.close()


def test_missing_segment_is_a_gap(tmp_path: Path) -> None:
    write_log(tmp_path, 9, segment_max_bytes=150)
    segs = list_segments(tmp_path)
    os.unlink(segs[1].path)
    with pytest.raises(LogCorruptError, match="records are missing") as info:
        FileLog(tmp_path).open()
    assert (info.value.path, info.value.offset) == (segs[2].path, 0)
    assert run_repair(info.value.repair_command).returncode == 0
    report, records, log = reopen(tmp_path)
    assert report.outcome is RecoveryOutcome.CLEAN
    assert [r.seq for r in records] == list(range(1, segs[1].first_seq))
    log.close()


def test_out_of_order_seq_is_corruption_even_at_the_tail(tmp_path: Path) -> None:
    write_log(tmp_path, 3)
    path = first_segment(tmp_path)
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(record.encode(7, 0, b"stray"))
    with pytest.raises(LogCorruptError, match="out of order") as info:
        FileLog(tmp_path).open()
    assert info.value.offset == size


def test_repair_refuses_while_the_log_is_open(tmp_path: Path) -> None:
    write_log(tmp_path, 2)
    log = FileLog(tmp_path)
    log.open()
    command = f"python -m store.wal.repair --dir {tmp_path} --file {segment_name(1)} --offset 0"
    done = run_repair(command)
    assert done.returncode == 1
    assert "in use" in done.stderr
    log.close()
    bad = run_repair(f"python -m store.wal.repair --dir {tmp_path} --file LOCK --offset 0")
    assert bad.returncode == 2


WRITER = textwrap.dedent(
    """
    import sys
    from store.wal.file_log import FileLog

    log = FileLog(sys.argv[1], segment_max_bytes=4096)
    log.open()
    while True:
        seq = log.append(f"record {len(sys.argv)} ".encode() * 40)
        log.wait_durable(seq)
        sys.stdout.write(f"{seq}\\n")
        sys.stdout.flush()
    """
)


def test_kill_9_never_loses_an_acknowledged_record(tmp_path: Path) -> None:
    rng = random.Random(1234)
    acknowledged: set[int] = set()
    for _ in range(10):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        try:
            want = rng.randint(3, 60)
            for _ in range(want):
                line = writer.stdout.readline()
                assert line, "the writer exited early"
                acknowledged.add(int(line))
        finally:
            writer.send_signal(signal.SIGKILL)
            rest, _ = writer.communicate(timeout=30)
        acknowledged.update(int(x) for x in rest.split())
        report, records, log = reopen(tmp_path)
        log.close()
        assert report.outcome in (RecoveryOutcome.CLEAN, RecoveryOutcome.TRUNCATED_TAIL)
        seqs = [r.seq for r in records]
        assert seqs == list(range(1, len(seqs) + 1))
        assert acknowledged <= set(seqs)
        assert all(r.payload == b"record 2 " * 40 for r in records)
    assert len(acknowledged) >= 30
    assert len(list_segments(tmp_path)) > 1
