"""Snapshots: the point-in-time state of the store plus the log position it covers.

Recovery = newest *valid* snapshot + the log from its position. The engine decides what
goes into a snapshot (named sections of bytes); :mod:`.format` frames them into one
self-describing, checksummed file; a :class:`SnapshotStore` publishes such files
atomically, lists, verifies and prunes them (:mod:`.local` for a directory, S3 later).

Typical use::

    store = LocalSnapshotStore(data_dir / "snapshots")

    def build(w: SnapshotWriter) -> None:
        w.add_bytes("indexes", definitions_json)
        with w.section("docs") as sink:
            for record in documents():
                sink.write(record)
        w.add_file("hnsw/idx", saved_index_path)

    info = store.publish(position, build)
    store.prune(keep=2)

    reader = store.open_newest_valid()  # on startup; None -> empty state, whole log
"""

from __future__ import annotations

from .base import SnapshotInfo, SnapshotStore
from .format import SectionEntry, SnapshotCorruptError, SnapshotReader, SnapshotWriter
from .local import LocalSnapshotStore

__all__ = [
    "LocalSnapshotStore",
    "SectionEntry",
    "SnapshotCorruptError",
    "SnapshotInfo",
    "SnapshotReader",
    "SnapshotStore",
    "SnapshotWriter",
]
