"""The snapshot file format: golden bytes, round trips, streaming, and damage detection."""

from __future__ import annotations

import filecmp
import io
import os
import tracemalloc
from pathlib import Path

import pytest

from store.errors import StoreError
from store.snapshot import SnapshotCorruptError, SnapshotReader, SnapshotWriter
from store.snapshot.format import MIN_FILE_BYTES
from store.wal.position import LogPosition

MB = 1 << 20

GOLDEN = bytes.fromhex(
    # header
    "4d56534e4150"  # magic "MVSNAP"
    "01"  # version
    "00"  # flags
    "0500000000000000"  # position seq 5
    "0200000000000000"  # epoch 2
    "0068e5cf8b010000"  # created_at_ms 1_700_000_000_000
    "09000000"  # meta length 9
    "7b226b223a2276227d"  # {"k":"v"}  -> header ends at 45
    # section data
    "68656c6c6f"  # section "a" = b"hello" at 45; section "b" is empty, at 50
    # section table at 50
    "02000000"  # 2 sections
    "0100"  # name length 1
    "61"  # "a"
    "2d00000000000000"  # offset 45
    "0500000000000000"  # length 5
    "4cbb719a"  # CRC32C(b"hello")
    "0100"  # name length 1
    "62"  # "b"
    "3200000000000000"  # offset 50
    "0000000000000000"  # length 0
    "00000000"  # CRC32C(b"")
    # trailer
    "3200000000000000"  # table offset 50
    "32000000"  # table length 50
    "3bd24077"  # CRC32C of header + table
    "4d56534e41504654"  # end magic "MVSNAPFT"
)


def write_tiny(out: io.BytesIO | io.BufferedWriter) -> int:
    writer = SnapshotWriter(out, LogPosition(5), 2, {"k": "v"}, created_at_ms=1_700_000_000_000)
    writer.add_bytes("a", b"hello")
    writer.add_bytes("b", b"")
    return writer.finish()


def small_snapshot(path: Path) -> dict[str, tuple[int, int]]:
    """Write a ~200-byte snapshot with three sections; return name -> (offset, length)."""
    with open(path, "wb") as out:
        writer = SnapshotWriter(out, LogPosition(42), 7, {"engine": "test", "n": [1, 2]})
        writer.add_bytes("indexes", b'{"idx": {"dim": 4}}')
        with writer.section("docs") as sink:
            for i in range(5):
                sink.write(f"doc:{i}=value-{i};".encode())
        writer.add_bytes("hnsw/idx", bytes(range(40)))
        writer.finish()
    with SnapshotReader(path) as reader:
        return {
            name: (reader.section(name).offset, reader.section(name).length)
            for name in reader.section_names()
        }


def test_golden_bytes(tmp_path: Path) -> None:
    out = io.BytesIO()
    assert write_tiny(out) == len(GOLDEN)
    assert out.getvalue() == GOLDEN

    path = tmp_path / "golden.mvs"
    path.write_bytes(GOLDEN)
    with SnapshotReader(path) as reader:
        reader.verify()
        assert reader.position == LogPosition(5)
        assert (reader.epoch, reader.created_at_ms) == (2, 1_700_000_000_000)
        assert reader.meta == {"k": "v"}
        assert reader.section_names() == ["a", "b"]
        assert reader.read_bytes("a") == b"hello"
        assert reader.read_bytes("b") == b""


def test_round_trip_bytes_streamed_and_multi_mb_file_sections(tmp_path: Path) -> None:
    big = tmp_path / "index.bin"
    big.write_bytes(os.urandom(5 * MB + 123))
    docs = [f"doc:{i}|{'x' * (i % 50)}\n".encode() for i in range(2000)]
    snap = tmp_path / "snap.mvs"
    with open(snap, "wb") as out:
        writer = SnapshotWriter(out, LogPosition(1001), meta={"dims": 384, "nested": {"a": [1]}})
        writer.add_bytes("indexes", b"FT.CREATE idx ...")
        with writer.section("docs") as sink:
            for doc in docs:
                sink.write(doc)
        assert writer.add_file("hnsw/idx", big, chunk_bytes=256 * 1024) == big.stat().st_size
        assert writer.add_stream("extra", io.BytesIO(b"abc" * 1000), chunk_bytes=7) == 3000
        total = writer.finish()
    assert total == snap.stat().st_size

    with SnapshotReader(snap) as reader:
        reader.verify()
        assert reader.position == LogPosition(1001)
        assert reader.epoch == 0
        assert reader.meta == {"dims": 384, "nested": {"a": [1]}}
        assert reader.section_names() == ["indexes", "docs", "hnsw/idx", "extra"]
        assert reader.read_bytes("indexes") == b"FT.CREATE idx ..."
        assert reader.read_bytes("docs") == b"".join(docs)
        assert reader.read_bytes("extra") == b"abc" * 1000
        out_path = tmp_path / "loaded.bin"
        assert reader.extract_to("hnsw/idx", out_path) == big.stat().st_size
        assert filecmp.cmp(big, out_path, shallow=False)
        chunks = list(reader.iter_chunks("hnsw/idx", chunk_bytes=MB))
        assert [len(c) for c in chunks] == [MB] * 5 + [123]


def test_empty_snapshot_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "empty.mvs"
    with open(path, "wb") as out:
        assert SnapshotWriter(out, LogPosition.start()).finish() == MIN_FILE_BYTES + 2
    with SnapshotReader(path) as reader:
        reader.verify()
        assert reader.section_names() == []
        assert reader.meta == {}


def test_file_sections_stream_in_bounded_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(16 * MB))
    snap = tmp_path / "snap.mvs"
    tracemalloc.start()
    try:
        with open(snap, "wb") as out:
            writer = SnapshotWriter(out, LogPosition(2))
            writer.add_file("hnsw/idx", big)
            writer.finish()
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with SnapshotReader(snap) as reader:
            reader.verify()
            reader.extract_to("hnsw/idx", tmp_path / "out.bin")
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert write_peak < 4 * MB, write_peak
    assert read_peak < 4 * MB, read_peak


def test_writer_never_seeks() -> None:
    class WriteOnly:
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def write(self, data: bytes | bytearray | memoryview) -> int:
            self.parts.append(bytes(data))
            return len(data)

    sink = WriteOnly()
    write_tiny(sink)  # type: ignore[arg-type]
    assert b"".join(sink.parts) == GOLDEN


def test_truncation_at_every_offset_is_detected_on_open(tmp_path: Path) -> None:
    full = tmp_path / "full.mvs"
    small_snapshot(full)
    data = full.read_bytes()
    cut = tmp_path / "cut.mvs"
    for size in range(len(data)):
        cut.write_bytes(data[:size])
        with pytest.raises(SnapshotCorruptError) as info:
            SnapshotReader(cut)
        assert str(cut) in str(info.value)


def test_truncated_large_snapshot_is_detected(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * MB))
    full = tmp_path / "full.mvs"
    with open(full, "wb") as out:
        writer = SnapshotWriter(out, LogPosition(9))
        writer.add_file("hnsw/idx", big)
        writer.finish()
    size = full.stat().st_size
    for cut_at in (0, 10, 36, 1000, MB, 3 * MB, size - 25, size - 24, size - 1):
        cut = tmp_path / f"cut-{cut_at}.mvs"
        with open(full, "rb") as src, open(cut, "wb") as dst:
            dst.write(src.read(cut_at))
        with pytest.raises(SnapshotCorruptError, match=r"truncated|shorter"):
            SnapshotReader(cut)


def test_every_flipped_byte_is_detected(tmp_path: Path) -> None:
    good = tmp_path / "good.mvs"
    sections = small_snapshot(good)
    data = good.read_bytes()
    header_end = min(offset for offset, _ in sections.values())
    bad = tmp_path / "bad.mvs"
    for i in range(len(data)):
        bad.write_bytes(data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1 :])
        in_section = [n for n, (off, length) in sections.items() if off <= i < off + length]
        with pytest.raises(SnapshotCorruptError) as info:
            reader = SnapshotReader(bad)
            assert i >= header_end, f"header byte {i} flipped but the file opened"
            try:
                reader.verify()
            finally:
                reader.close()
        err = info.value
        assert err.path == str(bad)
        if in_section:
            (name,) = in_section
            assert err.section == name
            assert repr(name) in str(err)
            assert err.offset == sections[name][0]


def test_flipped_section_byte_fails_reads_and_extract(tmp_path: Path) -> None:
    good = tmp_path / "good.mvs"
    sections = small_snapshot(good)
    data = bytearray(good.read_bytes())
    offset, _ = sections["hnsw/idx"]
    data[offset + 3] ^= 1
    bad = tmp_path / "bad.mvs"
    bad.write_bytes(bytes(data))
    with SnapshotReader(bad) as reader:
        assert reader.read_bytes("docs").startswith(b"doc:0")
        with pytest.raises(SnapshotCorruptError, match="section 'hnsw/idx'"):
            reader.read_bytes("hnsw/idx")
        out = tmp_path / "idx.bin"
        with pytest.raises(SnapshotCorruptError):
            reader.extract_to("hnsw/idx", out)
        assert not out.exists()


def test_corrupt_error_is_a_store_error_that_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "junk.mvs"
    path.write_bytes(b"not a snapshot at all, just some bytes that are long enough" * 2)
    with pytest.raises(SnapshotCorruptError) as info:
        SnapshotReader(path)
    err = info.value
    assert isinstance(err, StoreError)
    assert err.prefix == "ERR" and not err.retriable
    assert "not a memvec snapshot" in str(err)
    assert "previous snapshot" in str(err) and "delete the file" in str(err)


def test_unknown_section_names_what_exists(tmp_path: Path) -> None:
    path = tmp_path / "s.mvs"
    small_snapshot(path)
    with SnapshotReader(path) as reader, pytest.raises(KeyError, match="docs"):
        reader.read_bytes("nope")


def test_writer_rejects_misuse() -> None:
    writer = SnapshotWriter(io.BytesIO(), LogPosition(3))
    writer.add_bytes("a", b"1")
    with pytest.raises(ValueError, match="already added"):
        writer.add_bytes("a", b"2")
    with pytest.raises(ValueError, match="non-empty"):
        writer.add_bytes("", b"2")
    with writer.section("b") as sink, pytest.raises(RuntimeError, match="still open"):
        writer.add_bytes("c", b"x")
        sink.write(b"unreachable")
    with pytest.raises(RuntimeError, match="closed"):
        sink.write(b"late")
    writer.finish()
    with pytest.raises(RuntimeError, match="already finished"):
        writer.add_bytes("d", b"")

    failing = SnapshotWriter(io.BytesIO(), LogPosition(3))
    with pytest.raises(OSError), failing.section("docs") as sink:
        sink.write(b"partial")
        raise OSError("source went away")
    with pytest.raises(RuntimeError, match="discard"):
        failing.finish()
