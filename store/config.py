"""Engine configuration: one frozen dataclass, defaults and trade-offs in one place."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class FsyncPolicy(enum.Enum):
    """When appended records reach the disk (redis.conf ``appendfsync``).

    * ``always``: the reply waits for fsync; no acknowledged write is ever lost (default).
    * ``everysec``: fsync once a second in the background; a crash loses up to ~1 s.
    * ``no``: the OS decides; a crash of the machine (not the process) may lose more.
    """

    ALWAYS = "always"
    EVERYSEC = "everysec"
    NO = "no"


@dataclass(frozen=True)
class EngineConfig:
    """How an :class:`store.engine.Engine` keeps its data.

    ``data_dir=None`` runs purely in memory: nothing is logged and everything is lost on
    exit (tests, scratch use). With a directory, every write is in the transaction log
    (``<data_dir>/log``) before it is acknowledged, and snapshots go to
    ``<data_dir>/snapshots``.
    """

    data_dir: Path | None = None
    # always: the reply waits for fsync (MemoryDB semantics, no acknowledged write lost).
    # everysec: ~1 s of writes at risk on a crash, several times the write throughput.
    # no: the OS flushes when it likes; a machine crash can lose more.
    appendfsync: FsyncPolicy = FsyncPolicy.ALWAYS
    # Larger segments mean fewer files; a segment is only dropped once a snapshot covers it.
    segment_max_bytes: int = 64 * 1024 * 1024
    # Automatic snapshots: after this many logged writes (0 = off) ...
    snapshot_after_writes: int = 0
    # ... or at least this often while there were writes (0 = off).
    snapshot_interval_s: float = 0.0
    # Snapshots kept on disk; older ones (and the log they cover) are deleted.
    snapshot_keep: int = 2
    # How often the active expiry sweeper looks for expired keys.
    active_expire_interval_ms: int = 100
    # Writes are refused with -OOM once the estimated dataset exceeds this (0 = no limit).
    maxmemory_bytes: int = 0
    # A read-only engine (replica) refuses client writes with -READONLY.
    read_only: bool = False
    # Also copy every published snapshot here (``s3://bucket/prefix``; None: local only),
    # pruned to ``snapshot_keep``; ``snapshot_endpoint_url`` names a non-AWS S3 endpoint.
    snapshot_to: str | None = None
    snapshot_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if self.data_dir is not None and not isinstance(self.data_dir, Path):
            object.__setattr__(self, "data_dir", Path(self.data_dir))
        if isinstance(self.appendfsync, str):
            object.__setattr__(self, "appendfsync", FsyncPolicy(self.appendfsync))
