"""The snapshot-store interface: where finished snapshots are published, listed and pruned.

The engine builds a snapshot's content (sections, see :mod:`store.snapshot.format`); a
:class:`SnapshotStore` makes it durable and visible atomically. The local directory store
(:mod:`store.snapshot.local`) is the embedded default; an S3 store comes later and must
fit this interface unchanged (it writes to a local temporary file, uploads it, then
publishes a manifest naming the newest complete snapshot).

Contract:

* ``publish(position, build)`` creates a temporary snapshot, calls ``build(writer)`` to
  add sections, finishes it, makes it durable and then visible in one atomic step, and
  returns its :class:`SnapshotInfo`. If ``build`` (or anything after it) raises, nothing
  becomes visible, the temporary data is removed and the exception propagates. A
  snapshot is either listed complete or not listed at all, even under ``kill -9``.
  ``position`` is the *next* log record to replay after loading the snapshot: the
  engine takes it, under its write lock, together with the state it copies.
* ``publish_file(path)`` publishes a snapshot file that was finished elsewhere (another
  thread or a forked child writing with :class:`SnapshotWriter`). It checks the whole file
  first. The source file is consumed (moved or copied, then deleted).
* ``list()`` returns what is visible, newest first: by position, then creation time.
  It does not read snapshot contents.
* ``open(info)`` returns a :class:`SnapshotReader` (structure checked, sections not yet).
* ``open_newest_valid()`` walks ``list()`` and returns a reader over the first snapshot
  that fully verifies; a damaged or vanished one is skipped with a ``logging`` warning
  that names it. ``None`` means there is no usable snapshot (start from an empty state
  and replay the log from its beginning).
* ``prune(keep)`` deletes all but the newest ``keep`` listed snapshots.

Log retention: falling back to an older snapshot only works if the log still holds the
records after it. Drop log records only before the *oldest retained* snapshot, i.e.
``wal.drop_before(store.oldest_position())`` after ``prune``, never before the newest.

A store has one publishing process at a time; readers (replicas bootstrapping, tools) may
list and open concurrently.
"""

from __future__ import annotations

import builtins
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.wal.position import LogPosition

from .format import SnapshotCorruptError, SnapshotReader, SnapshotWriter

logger = logging.getLogger(__name__)

BuildFn = Callable[[SnapshotWriter], None]


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A visible snapshot as listed (from its name and size, not its contents)."""

    name: str
    position: LogPosition
    size_bytes: int
    created_at_ms: int

    def sort_key(self) -> tuple[int, int, str]:
        return (self.position.seq, self.created_at_ms, self.name)


def newest_first(infos: list[SnapshotInfo]) -> list[SnapshotInfo]:
    return sorted(infos, key=SnapshotInfo.sort_key, reverse=True)


class SnapshotStore(ABC):
    """See the module docstring for the full contract."""

    @abstractmethod
    def publish(
        self,
        position: LogPosition,
        build: BuildFn,
        *,
        epoch: int = 0,
        meta: Mapping[str, Any] | None = None,
    ) -> SnapshotInfo:
        """Write a snapshot through ``build(writer)`` and publish it atomically."""

    @abstractmethod
    def publish_file(self, path: str | Path) -> SnapshotInfo:
        """Verify the finished snapshot file at ``path`` and publish it atomically."""

    @abstractmethod
    def list(self) -> list[SnapshotInfo]:
        """Visible snapshots, newest first."""

    @abstractmethod
    def open(self, info: SnapshotInfo) -> SnapshotReader:
        """A reader over ``info``; raises :class:`SnapshotCorruptError` if it is damaged."""

    @abstractmethod
    def delete(self, info: SnapshotInfo) -> None:
        """Remove ``info``; a snapshot that is already gone is not an error."""

    def open_newest_valid(self) -> SnapshotReader | None:
        """The newest snapshot that fully verifies, or ``None``; see the module docstring."""
        for info in self.list():
            try:
                reader = self.open(info)
            except SnapshotCorruptError as exc:
                logger.warning("skipping snapshot %s: %s", info.name, exc)
                continue
            except FileNotFoundError:
                logger.warning("skipping snapshot %s: it vanished while opening", info.name)
                continue
            try:
                if reader.position != info.position:
                    raise SnapshotCorruptError(
                        f"snapshot {info.name} is named for position {info.position} but "
                        f"holds {reader.position}; it was renamed or damaged. Delete it.",
                        path=reader.path,
                    )
                reader.verify()
            except SnapshotCorruptError as exc:
                reader.close()
                logger.warning(
                    "skipping snapshot %s, falling back to an older one: %s", info.name, exc
                )
                continue
            except BaseException:
                reader.close()
                raise
            return reader
        return None

    def prune(self, keep: int = 2) -> builtins.list[SnapshotInfo]:
        """Delete all but the newest ``keep`` (>= 1) snapshots; return the deleted ones."""
        if keep < 1:
            raise ValueError(f"keep must be >= 1 so recovery has a snapshot, got {keep}")
        doomed = self.list()[keep:]
        for info in doomed:
            self.delete(info)
        return doomed

    def latest_position(self) -> LogPosition | None:
        """Position of the newest listed snapshot (not verified), or ``None`` if none."""
        infos = self.list()
        return infos[0].position if infos else None

    def oldest_position(self) -> LogPosition | None:
        """Position of the oldest listed snapshot: the log must be kept from here on."""
        infos = self.list()
        return infos[-1].position if infos else None
