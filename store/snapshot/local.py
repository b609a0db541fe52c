"""Snapshots as files in one local directory: the embedded default snapshot store.

Layout: ``<directory>/snap-<position seq:020d>-<created_at_ms:013d>.mvs`` per snapshot
(the name alone orders them, so listing reads no file), plus ``snap-*.tmp`` while one is
being written. Publication (STYLE.md rule 9) is :func:`store.files.atomic_write`: write
the temporary file, flush, fsync, ``os.replace`` it to its final name, fsync the
directory. A crash at any point leaves either the complete snapshot under its final name
or a ``*.tmp`` file that no listing shows; stale ``*.tmp`` files are removed when the
store is opened.

Files in the directory that do not match the name pattern are ignored and left alone.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from store.files import atomic_write, fsync_dir
from store.wal.position import LogPosition

from .base import BuildFn, SnapshotInfo, SnapshotStore, newest_first
from .format import SnapshotReader, SnapshotWriter

SUFFIX = ".mvs"
TMP_PREFIX = "snap-"
TMP_SUFFIX = ".tmp"  # remove_stale_tmp globs snap-*.tmp: what atomic_write names them
_NAME_RE = re.compile(r"^snap-(\d{20})-(\d{13})\.mvs$")
_WRITE_BUFFER_BYTES = 256 * 1024


def snapshot_name(position: LogPosition, created_at_ms: int) -> str:
    return f"snap-{position.seq:020d}-{created_at_ms:013d}{SUFFIX}"


def parse_snapshot_name(name: str) -> tuple[LogPosition, int] | None:
    """``(position, created_at_ms)`` encoded in a snapshot file name, or ``None``."""
    match = _NAME_RE.match(name)
    if match is None or int(match.group(1)) < 1:
        return None
    return LogPosition(int(match.group(1))), int(match.group(2))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class LocalSnapshotStore(SnapshotStore):
    """Snapshots in ``directory`` (created if missing). See the module docstring.

    ``remove_stale_tmp=False`` is for tools that inspect the directory while the owning
    process may be writing a snapshot (they must not delete its temporary file).
    ``clock_ms`` supplies creation times (tests pin it).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        remove_stale_tmp: bool = True,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.directory = Path(directory)
        self._clock_ms = clock_ms
        self.directory.mkdir(parents=True, exist_ok=True)
        if remove_stale_tmp:
            self.remove_stale_tmp()

    def __repr__(self) -> str:
        return f"LocalSnapshotStore({str(self.directory)!r})"

    def remove_stale_tmp(self) -> list[Path]:
        """Delete ``snap-*.tmp`` left by a crash mid-write; return what was removed."""
        removed = []
        for path in self.directory.glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
            path.unlink(missing_ok=True)
            removed.append(path)
        if removed:
            fsync_dir(self.directory)
        return removed

    def path_of(self, info: SnapshotInfo) -> Path:
        return self.directory / info.name

    def _free_name(self, position: LogPosition, created_at_ms: int) -> tuple[str, int]:
        while (self.directory / snapshot_name(position, created_at_ms)).exists():
            created_at_ms += 1
        return snapshot_name(position, created_at_ms), created_at_ms

    def _make_visible(self, source: Path, name: str) -> None:
        """Rename an already fsynced file to ``name`` (same file system) durably."""
        os.replace(source, self.directory / name)
        fsync_dir(self.directory)

    def _write(self, name: str, write: Callable[[BinaryIO], None]) -> None:
        atomic_write(
            self.directory / name,
            write,
            tmp_prefix=TMP_PREFIX,
            tmp_suffix=TMP_SUFFIX,
            buffering=_WRITE_BUFFER_BYTES,
        )

    def _info(self, name: str) -> SnapshotInfo | None:
        parsed = parse_snapshot_name(name)
        if parsed is None:
            return None
        try:
            size = (self.directory / name).stat().st_size
        except FileNotFoundError:
            return None
        return SnapshotInfo(name, parsed[0], size, parsed[1])

    def publish(
        self,
        position: LogPosition,
        build: BuildFn,
        *,
        epoch: int = 0,
        meta: Mapping[str, Any] | None = None,
    ) -> SnapshotInfo:
        name, created_at_ms = self._free_name(position, self._clock_ms())
        sizes: list[int] = []

        def write(out: BinaryIO) -> None:
            writer = SnapshotWriter(out, position, epoch, meta, created_at_ms=created_at_ms)
            build(writer)
            sizes.append(writer.finish())

        self._write(name, write)
        return SnapshotInfo(name, position, sizes[0], created_at_ms)

    def publish_file(self, path: str | os.PathLike[str]) -> SnapshotInfo:
        source = Path(path)
        with SnapshotReader(source) as reader:
            reader.verify()
            position, created_at_ms, size = reader.position, reader.created_at_ms, reader.size_bytes
        name, created_at_ms = self._free_name(position, created_at_ms)
        with open(source, "rb") as src:
            os.fsync(src.fileno())
        try:
            self._make_visible(source, name)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self._copy_in(source, name)
        source.unlink(missing_ok=True)
        return SnapshotInfo(name, position, size, created_at_ms)

    def _copy_in(self, source: Path, name: str) -> None:
        def write(out: BinaryIO) -> None:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, out, _WRITE_BUFFER_BYTES)

        self._write(name, write)

    def list(self) -> list[SnapshotInfo]:
        infos = [info for entry in os.listdir(self.directory) if (info := self._info(entry))]
        return newest_first(infos)

    def open(self, info: SnapshotInfo) -> SnapshotReader:
        return SnapshotReader(self.path_of(info))

    def delete(self, info: SnapshotInfo) -> None:
        self.path_of(info).unlink(missing_ok=True)
        fsync_dir(self.directory)
