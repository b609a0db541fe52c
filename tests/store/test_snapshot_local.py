"""Snapshot stores: the SnapshotStore contract, plus what is specific to the local directory.

The contract tests take a ``harness`` fixture so the S3 store can join the parametrization
later; the rest exercises files, temporary files and ``kill -9`` mid-publication.
"""

from __future__ import annotations

import logging
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest

from store.snapshot import (
    LocalSnapshotStore,
    SnapshotCorruptError,
    SnapshotInfo,
    SnapshotStore,
    SnapshotWriter,
)
from store.wal.position import LogPosition

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Harness:
    """A store under test plus a way to damage one of its snapshots."""

    store: SnapshotStore
    flip_byte: Callable[[SnapshotInfo, int], None]  # negative offsets count from the end
    truncate: Callable[[SnapshotInfo, int], None]


def _local_harness(directory: Path, clock: Callable[[], int]) -> Harness:
    store = LocalSnapshotStore(directory, clock_ms=clock)

    def flip_byte(info: SnapshotInfo, offset: int) -> None:
        path = store.path_of(info)
        data = bytearray(path.read_bytes())
        data[offset] ^= 0xFF
        path.write_bytes(bytes(data))

    def truncate(info: SnapshotInfo, size: int) -> None:
        os.truncate(store.path_of(info), size)

    return Harness(store, flip_byte, truncate)


@pytest.fixture(params=["local"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    ticks = count(1_700_000_000_000, 1000)
    return _local_harness(tmp_path / "snapshots", lambda: next(ticks))


def docs_build(payload: bytes, file: Path | None = None) -> Callable[[SnapshotWriter], None]:
    def build(writer: SnapshotWriter) -> None:
        writer.add_bytes("indexes", b"idx-definitions")
        with writer.section("docs") as sink:
            sink.write(payload)
        if file is not None:
            writer.add_file("hnsw/idx", file)

    return build


# --- the SnapshotStore contract ---------------------------------------------------------


def test_publish_then_open_newest_valid(harness: Harness, tmp_path: Path) -> None:
    store = harness.store
    assert store.list() == []
    assert store.open_newest_valid() is None
    assert store.latest_position() is None

    index_file = tmp_path / "idx.bin"
    index_file.write_bytes(os.urandom(2 << 20))
    info = store.publish(
        LogPosition(11), docs_build(b"doc-bytes", index_file), epoch=3, meta={"v": 1}
    )
    assert info.position == LogPosition(11)
    assert info.created_at_ms == 1_700_000_000_000
    assert info.size_bytes > 2 << 20
    assert store.list() == [info]
    assert store.latest_position() == LogPosition(11)

    reader = store.open_newest_valid()
    assert reader is not None
    with reader:
        assert (reader.position, reader.epoch, reader.meta) == (LogPosition(11), 3, {"v": 1})
        assert reader.created_at_ms == info.created_at_ms
        assert reader.read_bytes("docs") == b"doc-bytes"
        assert reader.read_bytes("hnsw/idx") == index_file.read_bytes()


def test_list_is_newest_first_by_position_then_time(harness: Harness) -> None:
    store = harness.store
    published = [store.publish(LogPosition(seq), docs_build(b"x")) for seq in (10, 30, 20, 30)]
    listed = store.list()
    assert [i.position.seq for i in listed] == [30, 30, 20, 10]
    assert listed[0] == published[3] and listed[1] == published[1]
    assert listed[0].created_at_ms > listed[1].created_at_ms
    assert store.latest_position() == LogPosition(30)
    assert store.oldest_position() == LogPosition(10)


def test_newest_valid_is_chosen(harness: Harness) -> None:
    store = harness.store
    for seq in (5, 9, 7):
        store.publish(LogPosition(seq), docs_build(f"state@{seq}".encode()))
    reader = store.open_newest_valid()
    assert reader is not None
    with reader:
        assert reader.position == LogPosition(9)
        assert reader.read_bytes("docs") == b"state@9"


def test_corrupt_newest_falls_back_with_a_warning(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    store = harness.store
    older = store.publish(LogPosition(5), docs_build(b"older"))
    newest = store.publish(LogPosition(8), docs_build(b"newest" * 100))
    harness.flip_byte(newest, 100)  # inside the "docs" section

    with caplog.at_level(logging.WARNING, logger="store.snapshot"):
        reader = store.open_newest_valid()
    assert reader is not None
    with reader:
        assert reader.position == older.position
        assert reader.read_bytes("docs") == b"older"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert newest.name in warnings[0] and "'docs'" in warnings[0]
    assert store.list()[0] == newest  # left in place for the operator; prune removes it


def test_truncated_and_header_damaged_snapshots_are_skipped(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    store = harness.store
    good = store.publish(LogPosition(2), docs_build(b"good"))
    torn = store.publish(LogPosition(3), docs_build(b"torn"))
    bad_header = store.publish(LogPosition(4), docs_build(b"bad header"))
    harness.truncate(torn, torn.size_bytes - 1)
    harness.flip_byte(bad_header, 9)

    with caplog.at_level(logging.WARNING, logger="store.snapshot"):
        reader = store.open_newest_valid()
    assert reader is not None
    with reader:
        assert reader.position == good.position
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert torn.name in logged and bad_header.name in logged


def test_all_corrupt_means_no_snapshot(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    store = harness.store
    infos = [store.publish(LogPosition(seq), docs_build(b"x")) for seq in (1, 2)]
    for info in infos:
        harness.flip_byte(info, -1)
    with caplog.at_level(logging.WARNING, logger="store.snapshot"):
        assert store.open_newest_valid() is None
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


def test_failed_build_publishes_nothing(harness: Harness) -> None:
    store = harness.store
    kept = store.publish(LogPosition(1), docs_build(b"ok"))

    def build(writer: SnapshotWriter) -> None:
        writer.add_bytes("indexes", b"defs")
        with writer.section("docs") as sink:
            sink.write(b"half of the documents")
            raise RuntimeError("engine failed mid-snapshot")

    with pytest.raises(RuntimeError, match="mid-snapshot"):
        store.publish(LogPosition(50), build)
    assert store.list() == [kept]


def test_prune_keeps_the_newest(harness: Harness) -> None:
    store = harness.store
    infos = [store.publish(LogPosition(seq), docs_build(b"x")) for seq in (1, 2, 3, 4, 5)]
    deleted = store.prune(keep=2)
    assert deleted == [infos[2], infos[1], infos[0]]
    assert store.list() == [infos[4], infos[3]]
    assert store.prune(keep=2) == []
    with pytest.raises(ValueError, match="keep"):
        store.prune(keep=0)
    store.delete(infos[0])  # already gone: not an error


def test_publish_file_written_elsewhere(harness: Harness, tmp_path: Path) -> None:
    store = harness.store
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    finished = outside / "bgsave.mvs"
    with open(finished, "wb") as out:
        writer = SnapshotWriter(out, LogPosition(77), meta={"by": "child"})
        writer.add_bytes("docs", b"from a child")
        writer.finish()
    info = store.publish_file(finished)
    assert not finished.exists()
    assert info.position == LogPosition(77)
    assert store.list() == [info]
    reader = store.open_newest_valid()
    assert reader is not None
    with reader:
        assert reader.meta == {"by": "child"}

    broken = outside / "broken.mvs"
    with open(broken, "wb") as out:
        writer = SnapshotWriter(out, LogPosition(78))
        writer.add_bytes("docs", b"x")
    with pytest.raises(SnapshotCorruptError):
        store.publish_file(broken)
    assert broken.exists()
    assert store.list() == [info]


# --- the local directory store ------------------------------------------------------------


def test_layout_and_stale_tmp_cleanup(tmp_path: Path) -> None:
    directory = tmp_path / "snaps"
    store = LocalSnapshotStore(directory, clock_ms=lambda: 1_700_000_000_123)
    info = store.publish(LogPosition(42), docs_build(b"x"))
    assert info.name == "snap-00000000000000000042-1700000000123.mvs"
    assert sorted(p.name for p in directory.iterdir()) == [info.name]

    stale = directory / "snap-crashed123.tmp"
    stale.write_bytes(b"half a snapshot")
    (directory / "README").write_text("not a snapshot")
    (directory / "snap-1-2.mvs").write_bytes(b"wrong name pattern")
    inspector = LocalSnapshotStore(directory, remove_stale_tmp=False)
    assert stale.exists()
    assert inspector.list() == [info]

    reopened = LocalSnapshotStore(directory)
    assert not stale.exists()
    assert (directory / "README").exists()
    assert reopened.list() == [info]


def test_failed_build_leaves_no_tmp_file(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path)

    def build(writer: SnapshotWriter) -> None:
        writer.add_bytes("docs", b"y" * 100_000)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.publish(LogPosition(3), build)
    assert list(tmp_path.iterdir()) == []


def test_same_position_same_millisecond_gets_distinct_names(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path, clock_ms=lambda: 1_700_000_000_000)
    first = store.publish(LogPosition(9), docs_build(b"first"))
    second = store.publish(LogPosition(9), docs_build(b"second"))
    assert first.name != second.name
    assert store.list() == [second, first]
    reader = store.open_newest_valid()
    assert reader is not None
    with reader:
        assert reader.read_bytes("docs") == b"second"
        assert reader.created_at_ms == second.created_at_ms


def test_renamed_snapshot_is_not_trusted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = LocalSnapshotStore(tmp_path)
    real = store.publish(LogPosition(5), docs_build(b"x"))
    fake_name = real.name.replace("00005-", "00099-")
    os.replace(store.path_of(real), tmp_path / fake_name)
    with caplog.at_level(logging.WARNING, logger="store.snapshot"):
        assert store.open_newest_valid() is None
    assert fake_name in caplog.text


_CHILD = """
import os, sys
from store.snapshot import LocalSnapshotStore
from store.wal.position import LogPosition

store = LocalSnapshotStore(sys.argv[1])
seq = int(sys.argv[2])
blob = os.urandom(1 << 20)

def build(writer):
    writer.add_bytes("indexes", b"defs" * 100)
    with writer.section("docs") as sink:
        for i in range(0, len(blob), 65536):
            sink.write(blob[i : i + 65536])

while True:
    info = store.publish(LogPosition(seq), build)
    store.prune(keep=3)
    print(info.name, flush=True)
    seq += 1
"""


def _read_lines(proc: subprocess.Popen[bytes], want: int, timeout_s: float) -> Iterator[str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    buf = b""
    got = 0
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while got < want:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"child reported {got}/{want} publications in {timeout_s}s"
            if not sel.select(remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, f"child exited early: rc={proc.wait()}"
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                got += 1
                yield line.decode()


def _seq_of(name: str) -> int:
    return int(name.split("-")[1])


def test_publication_is_atomic_under_kill_9(tmp_path: Path) -> None:
    directory = tmp_path / "snaps"
    rng = random.Random(1234)
    for round_no in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(directory), str(round_no * 1000 + 1)],
            stdout=subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        try:
            reported = list(_read_lines(proc, want=1 + round_no % 3, timeout_s=60))
            # A random few ms moves the kill across publish/fsync/rename/prune; the loop
            # publishes continuously, so any point is mid-something.
            time.sleep(rng.uniform(0, 0.03))
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()

        inspector = LocalSnapshotStore(directory, remove_stale_tmp=False)
        visible = inspector.list()
        assert visible, "a publication was reported but nothing is visible"
        assert visible[0].position.seq >= max(_seq_of(name) for name in reported)
        for info in visible:
            with inspector.open(info) as reader:
                reader.verify()
                assert reader.position == info.position

    LocalSnapshotStore(directory)
    assert not list(directory.glob("*.tmp"))
