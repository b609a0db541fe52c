"""The engine on a failing log: a refused write is undone exactly (keys, index entries,
HNSW inserts, MULTI/EXEC, pipelined runs) and writes resume once the log takes them.

``os.write`` / ``os.fsync`` of the file log are replaced to raise ``ENOSPC`` / ``EIO``;
tests/server/test_disk_full.py drives a real full disk through a server process.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

from store import DurabilityError, Engine, EngineConfig
from store.commands.table import CommandSpec, resolve
from store.engine import EngineState, Submitted, to_bytes
from store.errors import RecordVoidedError
from store.snapshot.format import SnapshotReader
from store.wal import file_log as file_log_module
from tests.store.test_engine import create_index, vec

KNN = ["FT.SEARCH", "idx", "*=>[KNN 10 @vec $B]", "PARAMS", "2", "B", vec(1), "NOCONTENT",
       "DIALECT", "2"]  # fmt: skip


def full_disk(fd: int, data: object) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


def resolved(*args: object) -> tuple[CommandSpec, list[bytes]]:
    call = [to_bytes(a) for a in args]  # type: ignore[arg-type]
    return resolve(call), call


def submit(engine: Engine, *args: object) -> Submitted:
    return engine.submit(*resolved(*args))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(EngineConfig(data_dir=tmp_path / "data")) as e:
        create_index(e)
        e.execute("HSET", "doc:1", "vec", vec(1), "tag", "a", "n", 1)
        yield e


def assert_only_doc1(engine: Engine) -> None:
    assert engine.execute("KEYS", "*") == [b"doc:1"]
    assert engine.execute(*KNN) == [1, b"doc:1"]
    assert engine.execute("FT.SEARCH", "idx", "@tag:{b}", "NOCONTENT") == [0]


def test_refused_write_is_undone_and_writes_resume(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_log_module.os, "write", full_disk)
    with pytest.raises(DurabilityError, match="No space left"):
        engine.execute("HSET", "doc:2", "vec", vec(1.1), "tag", "b", "n", 2)
    assert_only_doc1(engine)
    with pytest.raises(DurabilityError, match="resume by themselves"):
        engine.execute("SET", "x", "1")
    with pytest.raises(DurabilityError):
        engine.transaction([["SET", "y", "1"], ["HSET", "doc:3", "vec", vec(1.2), "tag", "b"]])
    calls = [resolved("HSET", f"doc:{i}", "vec", vec(1 + i / 10), "tag", "b") for i in range(4, 8)]
    for done in engine.submit_many(calls):
        assert isinstance(done.error, DurabilityError)
    assert_only_doc1(engine)
    info = engine.execute("FT.INFO", "idx")
    assert info[info.index("num_docs") + 1] == 1

    monkeypatch.undo()  # space is back: the next write goes through, no restart
    engine.execute("HSET", "doc:9", "vec", vec(1.3), "tag", "b")
    assert engine.execute(*KNN) == [2, b"doc:1", b"doc:9"]
    engine.stop()
    with Engine(EngineConfig(data_dir=tmp_path / "data")) as again:
        assert sorted(again.execute("KEYS", "*")) == [b"doc:1", b"doc:9"]
        assert again.execute(*KNN) == [2, b"doc:1", b"doc:9"]


def test_failed_fsync_undoes_every_write_it_would_have_covered(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.execute("SAVE")  # the rollback starts from this snapshot, then replays the log
    engine.execute("HSET", "doc:2", "vec", vec(2), "tag", "a")
    engine.execute("DEL", "doc:2")

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_log_module.os, "fsync", broken_fsync)
    first = submit(engine, "HSET", "doc:5", "vec", vec(1), "tag", "b")
    second = submit(engine, "SET", "k", "v")
    assert first.seq is not None and second.seq is not None
    with pytest.raises(DurabilityError):
        engine.wait_durable(second.seq)
    monkeypatch.undo()
    assert_only_doc1(engine)  # the next command rolled both back
    for seq in (first.seq, second.seq):  # their seqs are void for good
        with pytest.raises(DurabilityError):
            engine.durable_future(seq).result(timeout=0)
    engine.execute("SET", "k", "w")
    assert engine.execute("GET", "k") == b"w"
    assert engine.state is EngineState.RUNNING
    with pytest.raises(RecordVoidedError):  # a late waiter does not fail the engine again
        engine.durable_future(first.seq).result(timeout=0)
    assert engine.state is EngineState.RUNNING
    engine.stop()
    with Engine(EngineConfig(data_dir=tmp_path / "data")) as again:
        assert sorted(again.execute("KEYS", "*")) == [b"doc:1", b"k"]
        assert again.execute("GET", "k") == b"w"


def test_rollback_loads_the_snapshot_graphs_through_scratch_space_off_the_full_disk(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.execute("SAVE")  # doc:1's HNSW graph is in the snapshot: a reload extracts it
    data = tmp_path / "data"
    real_extract = SnapshotReader.extract_to
    used: list[Path] = []

    def extract_off_the_full_disk(self: SnapshotReader, section: str, path: Path) -> None:
        if Path(path).is_relative_to(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        used.append(Path(path).parent)
        real_extract(self, section, path)

    monkeypatch.setattr(SnapshotReader, "extract_to", extract_off_the_full_disk)
    monkeypatch.setattr(file_log_module.os, "write", full_disk)
    with pytest.raises(DurabilityError):
        engine.execute("HSET", "doc:2", "vec", vec(1.1), "tag", "b")
    assert used and not used[0].is_relative_to(data)
    assert_only_doc1(engine)


def test_a_rollback_that_cannot_reload_refuses_every_command(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.execute("SAVE")

    def no_space(self: SnapshotReader, section: str, path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SnapshotReader, "extract_to", no_space)
    monkeypatch.setattr(file_log_module.os, "write", full_disk)
    with pytest.raises(DurabilityError):
        engine.execute("HSET", "doc:2", "vec", vec(1.1), "tag", "b")
    with pytest.raises(DurabilityError, match="could not reload the state"):
        engine.execute("KEYS", "*")  # half replaced: never served
    with pytest.raises(DurabilityError, match="could not reload the state"):
        engine.execute(*KNN)
