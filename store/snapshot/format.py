"""The snapshot file: one self-describing file per snapshot, written in one streaming pass.

A snapshot holds named *sections* of bytes (documents, index definitions, a saved ANN
graph, ...) plus the log position it covers. The engine decides what the sections are;
this module only frames them. The writer never needs the whole snapshot in memory and
never seeks, so it can write to a pipe or an upload stream as well as to a file. Because
section lengths are only known once a section has been streamed, the section table sits
at the end of the file (like a zip central directory) and a fixed trailer points at it.

Byte layout, version 1 (all integers little-endian, unsigned)::

    Header, at offset 0
      off  width  field
      0    6      magic b"MVSNAP"
      6    1      format version: 1
      7    1      flags: 0 (reserved; a reader rejects anything else)
      8    8      position: LogPosition.seq, the next log record to replay after loading
      16   8      epoch: writer epoch of the log the position belongs to
      24   8      created_at_ms: Unix time in milliseconds
      32   4      M: length of the meta JSON
      36   M      meta: UTF-8 JSON object, compact, sorted keys
                  (header ends at H = 36 + M)

    Section data, from offset H
      the raw bytes of every section, back to back, in the order they were added;
      no framing (the table below locates them)

    Section table, at offset T (the end of the last section)
      4    K: number of sections
      then K entries, each:
      2    L: length of the name
      L    name, UTF-8, unique within the file
      8    offset of the section's first byte (the first is H, each next one starts where
           the previous ended, the last one ends at T)
      8    length of the section in bytes
      4    CRC32C (Castagnoli) of the section's bytes

    Trailer, the last 24 bytes
      0    8      T: offset of the section table
      8    4      S: length of the section table in bytes
      12   4      CRC32C over the header bytes [0, H) followed by the table bytes [T, T+S)
      16   8      end magic b"MVSNAPFT"

A file is valid when the trailer is present and consistent (T + S + 24 == file size), the
trailer CRC matches, the table tiles [H, T) exactly, and every section's CRC matches. A
truncated file loses its trailer, so it is detected on open; a damaged header or table
fails the trailer CRC on open; a damaged section fails its CRC in :meth:`verify` or when
it is read. Every single flipped byte is detected by ``SnapshotReader(path).verify()``.
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import crc32c

from store.errors import SnapshotCorruptError
from store.wal.position import LogPosition

MAGIC = b"MVSNAP"
END_MAGIC = b"MVSNAPFT"
VERSION = 1

_HEADER = struct.Struct("<6sBBQQQI")
_TABLE_COUNT = struct.Struct("<I")
_ENTRY_NAME_LEN = struct.Struct("<H")
_ENTRY_FIXED = struct.Struct("<QQI")
_TRAILER = struct.Struct("<QII8s")

HEADER_FIXED_BYTES = _HEADER.size  # 36
TRAILER_BYTES = _TRAILER.size  # 24
MIN_FILE_BYTES = HEADER_FIXED_BYTES + _TABLE_COUNT.size + TRAILER_BYTES
DEFAULT_CHUNK_BYTES = 1 << 20
MAX_NAME_BYTES = 0xFFFF

_RECOVER_HINT = (
    "Recovery skips it and uses the previous snapshot plus the log; "
    "delete the file, or restore it from another copy (replica, S3)."
)


class _Sink(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> Any: ...


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _encode_meta(meta: Mapping[str, Any] | None) -> bytes:
    return json.dumps(dict(meta or {}), sort_keys=True, separators=(",", ":")).encode()


def _check_name(name: str) -> bytes:
    if not isinstance(name, str) or not name:
        raise ValueError(f"section names are non-empty strings, got {name!r}")
    raw = name.encode("utf-8")
    if len(raw) > MAX_NAME_BYTES:
        raise ValueError(f"section name is {len(raw)} bytes; the limit is {MAX_NAME_BYTES}")
    return raw


@dataclass(frozen=True, slots=True)
class SectionEntry:
    """One row of the section table."""

    name: str
    offset: int
    length: int
    crc32c: int


class SectionSink:
    """Write end of one open section (see :meth:`SnapshotWriter.section`).

    File-like enough for ``pickle.dump``, ``numpy.save`` and friends: ``write`` only.
    """

    def __init__(self, writer: SnapshotWriter) -> None:
        self._writer = writer

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._writer._write_section_data(data)


class SnapshotWriter:
    """Streams one snapshot into ``fileobj`` (anything with ``write``; no seek needed).

    The header is written by the constructor; sections follow in the order they are
    added; :meth:`finish` writes the table and trailer and flushes ``fileobj`` if it can.
    The writer does not own ``fileobj``: it neither closes nor fsyncs it (the snapshot
    store does both when it publishes). After any exception inside a section the writer
    refuses further use; throw the output away.
    """

    def __init__(
        self,
        fileobj: _Sink,
        position: LogPosition,
        epoch: int = 0,
        meta: Mapping[str, Any] | None = None,
        *,
        created_at_ms: int | None = None,
    ) -> None:
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self._out = fileobj
        self.position = position
        self.epoch = epoch
        self.created_at_ms = _now_ms() if created_at_ms is None else created_at_ms
        self.meta = dict(meta or {})
        meta_raw = _encode_meta(self.meta)
        header = (
            _HEADER.pack(MAGIC, VERSION, 0, position.seq, epoch, self.created_at_ms, len(meta_raw))
            + meta_raw
        )
        self._header_crc = crc32c.crc32c(header)
        self._entries: list[SectionEntry] = []
        self._names: set[str] = set()
        self._offset = 0
        self._open: tuple[str, int] | None = None
        self._open_crc = 0
        self._failed = False
        self._finished = False
        self._emit(header)

    @property
    def bytes_written(self) -> int:
        return self._offset

    def _emit(self, data: bytes | bytearray | memoryview) -> None:
        self._out.write(data)
        self._offset += len(data)

    def _check_usable(self) -> None:
        if self._finished:
            raise RuntimeError("snapshot already finished; start a new SnapshotWriter")
        if self._failed:
            raise RuntimeError("an earlier section failed; discard this snapshot and retry")
        if self._open is not None:
            raise RuntimeError(f"section {self._open[0]!r} is still open; close it first")

    @contextmanager
    def section(self, name: str) -> Iterator[SectionSink]:
        """Open section ``name`` and yield a sink; the section ends when the block exits.

        Use it to stream data produced on the fly (documents one by one) without building
        the whole section in memory.
        """
        self._check_usable()
        _check_name(name)
        if name in self._names:
            raise ValueError(f"section {name!r} was already added to this snapshot")
        self._open = (name, self._offset)
        self._open_crc = 0
        try:
            yield SectionSink(self)
        except BaseException:
            self._failed = True
            raise
        finally:
            opened = self._open
            self._open = None
        start = opened[1]
        self._names.add(name)
        self._entries.append(SectionEntry(name, start, self._offset - start, self._open_crc))

    def _write_section_data(self, data: bytes | bytearray | memoryview) -> int:
        if self._open is None:
            raise RuntimeError("this section is closed; write inside its `with` block")
        if self._failed:
            raise RuntimeError("an earlier write failed; discard this snapshot and retry")
        view = memoryview(data).cast("B")
        try:
            self._emit(view)
        except BaseException:
            self._failed = True
            raise
        self._open_crc = crc32c.crc32c(view, self._open_crc)
        return len(view)

    def add_bytes(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Add a section holding ``data``."""
        with self.section(name) as sink:
            sink.write(data)

    def add_stream(
        self, name: str, source: BinaryIO, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> int:
        """Add a section holding everything ``source.read()`` yields until EOF.

        Reads ``chunk_bytes`` at a time; returns the section length.
        """
        total = 0
        with self.section(name) as sink:
            while chunk := source.read(chunk_bytes):
                total += sink.write(chunk)
        return total

    def add_file(
        self, name: str, path: str | os.PathLike[str], *, chunk_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> int:
        """Add a section holding the content of the file at ``path``, streamed in chunks.

        Meant for files a library writes itself (hnswlib ``save_index``). Returns the
        section length.
        """
        with open(path, "rb") as src:
            return self.add_stream(name, src, chunk_bytes=chunk_bytes)

    def finish(self) -> int:
        """Write the section table and trailer; return the total size of the snapshot."""
        self._check_usable()
        table = bytearray(_TABLE_COUNT.pack(len(self._entries)))
        for entry in self._entries:
            raw = entry.name.encode("utf-8")
            table += _ENTRY_NAME_LEN.pack(len(raw)) + raw
            table += _ENTRY_FIXED.pack(entry.offset, entry.length, entry.crc32c)
        table_offset = self._offset
        crc = crc32c.crc32c(table, self._header_crc)
        self._emit(table)
        self._emit(_TRAILER.pack(table_offset, len(table), crc, END_MAGIC))
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()
        self._finished = True
        return self._offset


class SnapshotReader:
    """Reads one snapshot file.

    Opening checks the structure (magic, version, trailer, header+table CRC, the table
    tiling the data), so a truncated file or a damaged header raises
    :class:`SnapshotCorruptError` right here. Section contents are checked by
    :meth:`verify` and on every read. The reader keeps the file descriptor open until
    :meth:`close` (so the file may be deleted or pruned meanwhile); reads use ``pread``
    and are safe from several threads.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self._load()
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            raise

    def _corrupt(
        self, what: str, offset: int | None = None, section: str | None = None
    ) -> SnapshotCorruptError:
        where = f" at offset {offset}" if offset is not None else ""
        return SnapshotCorruptError(
            f"snapshot {self.path} is corrupt{where}: {what}. {_RECOVER_HINT}",
            path=self.path,
            offset=offset,
            section=section,
        )

    def _pread(self, length: int, offset: int) -> bytes:
        parts = []
        while length > 0:
            chunk = os.pread(self._fd, length, offset)
            if not chunk:
                raise self._corrupt(f"file ends early (wanted {length} more bytes)", offset)
            parts.append(chunk)
            length -= len(chunk)
            offset += len(chunk)
        return b"".join(parts)

    def _load(self) -> None:
        size = os.fstat(self._fd).st_size
        self.size_bytes = size
        if size < MIN_FILE_BYTES:
            raise self._corrupt(
                f"the file is {size} bytes, shorter than the smallest snapshot "
                f"({MIN_FILE_BYTES}); it was truncated or never finished",
                size,
            )
        fixed = self._pread(HEADER_FIXED_BYTES, 0)
        magic, version, flags, seq, epoch, created_ms, meta_len = _HEADER.unpack(fixed)
        if magic != MAGIC:
            raise self._corrupt(f"magic is {magic!r}, not {MAGIC!r}: not a memvec snapshot", 0)
        if version != VERSION:
            raise self._corrupt(
                f"format version {version}; this memvec reads version {VERSION} "
                "(a newer memvec wrote it, or the byte is damaged)",
                6,
            )
        if flags != 0:
            raise self._corrupt(f"reserved flags byte is {flags}, expected 0", 7)
        trailer = self._pread(TRAILER_BYTES, size - TRAILER_BYTES)
        table_offset, table_len, want_crc, end_magic = _TRAILER.unpack(trailer)
        if end_magic != END_MAGIC:
            raise self._corrupt(
                "the trailer is missing: the file was truncated or never finished",
                size - TRAILER_BYTES,
            )
        header_end = HEADER_FIXED_BYTES + meta_len
        if table_offset + table_len + TRAILER_BYTES != size or table_offset < header_end:
            raise self._corrupt(
                f"the trailer points at a section table of {table_len} bytes at offset "
                f"{table_offset}, which does not fit a file of {size} bytes "
                f"whose header ends at {header_end}",
                size - TRAILER_BYTES,
            )
        header = fixed + self._pread(meta_len, HEADER_FIXED_BYTES)
        table = self._pread(table_len, table_offset)
        got_crc = crc32c.crc32c(table, crc32c.crc32c(header))
        if got_crc != want_crc:
            raise self._corrupt(
                f"header/section-table CRC32C is {got_crc:#010x}, the trailer says "
                f"{want_crc:#010x}: the header or the section table is damaged",
                0,
            )
        try:
            meta = json.loads(header[HEADER_FIXED_BYTES:].decode("utf-8"))
            entries = self._parse_table(table)
            self.position = LogPosition(seq)
        except (ValueError, struct.error) as exc:
            raise self._corrupt(f"header or section table does not parse ({exc})", 0) from exc
        if not isinstance(meta, dict):
            raise self._corrupt("meta is not a JSON object", HEADER_FIXED_BYTES)
        expected = header_end
        for entry in entries:
            if entry.offset != expected:
                raise self._corrupt(
                    f"section {entry.name!r} starts at {entry.offset}, expected {expected}",
                    table_offset,
                    entry.name,
                )
            expected += entry.length
        if expected != table_offset:
            raise self._corrupt(
                f"sections end at {expected} but the table starts at {table_offset}",
                table_offset,
            )
        self.epoch: int = epoch
        self.created_at_ms: int = created_ms
        self.meta: dict[str, Any] = meta
        self._entries = {entry.name: entry for entry in entries}

    @staticmethod
    def _parse_table(table: bytes) -> list[SectionEntry]:
        (count,) = _TABLE_COUNT.unpack_from(table, 0)
        pos = _TABLE_COUNT.size
        entries: list[SectionEntry] = []
        seen: set[str] = set()
        for _ in range(count):
            (name_len,) = _ENTRY_NAME_LEN.unpack_from(table, pos)
            pos += _ENTRY_NAME_LEN.size
            raw = table[pos : pos + name_len]
            if len(raw) != name_len:
                raise ValueError("section name runs past the table")
            name = raw.decode("utf-8")
            pos += name_len
            offset, length, crc = _ENTRY_FIXED.unpack_from(table, pos)
            pos += _ENTRY_FIXED.size
            if name in seen:
                raise ValueError(f"section {name!r} appears twice")
            seen.add(name)
            entries.append(SectionEntry(name, offset, length, crc))
        if pos != len(table):
            raise ValueError(f"{len(table) - pos} stray bytes after the last table entry")
        return entries

    def section_names(self) -> list[str]:
        """Section names in file order."""
        return list(self._entries)

    def section(self, name: str) -> SectionEntry:
        """The table row of ``name``; ``KeyError`` naming the sections present if absent."""
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(
                f"snapshot {self.path} has no section {name!r}; it has {self.section_names()}"
            ) from None

    def iter_chunks(self, name: str, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[bytes]:
        """Yield section ``name`` in chunks; the CRC is checked after the last chunk.

        A mismatch raises :class:`SnapshotCorruptError` *after* every chunk was yielded,
        so a consumer must treat everything it received as void when that happens
        (or call :meth:`verify` first).
        """
        entry = self.section(name)
        crc = 0
        offset = entry.offset
        end = entry.offset + entry.length
        while offset < end:
            chunk = self._pread(min(chunk_bytes, end - offset), offset)
            crc = crc32c.crc32c(chunk, crc)
            offset += len(chunk)
            yield chunk
        if crc != entry.crc32c:
            raise self._corrupt(
                f"section {name!r} ({entry.length} bytes from offset {entry.offset}) has "
                f"CRC32C {crc:#010x}, the table says {entry.crc32c:#010x}",
                entry.offset,
                name,
            )

    def read_bytes(self, name: str) -> bytes:
        """The whole content of section ``name``, CRC-checked."""
        return b"".join(self.iter_chunks(name))

    def extract_to(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> int:
        """Stream section ``name`` into a new file at ``path`` (e.g. for hnswlib load_index).

        The file is removed again if the section fails its CRC. Returns its length.
        """
        target = Path(path)
        total = 0
        try:
            with open(target, "wb") as out:
                for chunk in self.iter_chunks(name, chunk_bytes=chunk_bytes):
                    out.write(chunk)
                    total += len(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return total

    def verify(self) -> None:
        """Check every section's CRC; raise :class:`SnapshotCorruptError` on the first bad one."""
        for name in self._entries:
            for _ in self.iter_chunks(name):
                pass

    def close(self) -> None:
        """Release the file descriptor. Idempotent."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SnapshotReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SnapshotReader({self.path!r}, position={self.position}, epoch={self.epoch})"
