"""Cut a damaged transaction log at a known byte, the last resort after ``LogCorruptError``.

``FileLog.open()`` refuses a log that is damaged before its tail and names the exact
command to run, for example::

    python -m store.wal.repair --dir /data/wal --file 00000000000000000001.log --offset 4096

It keeps every record before ``--offset`` in ``--file`` and loses everything after it:
the file is truncated at the offset (or deleted, when the offset is 0 and an older
segment exists, so that no empty segment is left with a misleading first seq), every
later segment is deleted, and the changes are fsynced. It takes the directory lock, so it
refuses to run while a node has the log open. Restore the lost records from a replica or
a snapshot if you have one; run the repair only when you accept losing them.

Exit status: 0 repaired, 2 bad arguments (nothing changed), 1 the log is in use or an
I/O error occurred.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import DurabilityError, LogCorruptError
from ..files import fsync_dir
from . import segments


@dataclass(frozen=True)
class RepairResult:
    path: str
    offset: int
    removed_bytes: int  # bytes cut from ``path`` (its whole size if it was deleted)
    deleted_path: bool  # ``path`` itself was deleted rather than truncated
    deleted_segments: tuple[str, ...]  # later segments removed whole


def repair_command(directory: str | os.PathLike[str], path: str, offset: int) -> str:
    """The shell command that cuts the log in ``directory`` at ``path``/``offset``."""
    return (
        f"python -m store.wal.repair --dir {shlex.quote(os.path.abspath(directory))} "
        f"--file {shlex.quote(os.path.basename(path))} --offset {offset}"
    )


def corrupt_error(
    directory: str | os.PathLike[str], path: str, offset: int, reason: str
) -> LogCorruptError:
    """The error recovery and readers raise for damage that is not a torn tail."""
    command = repair_command(directory, path, offset)
    return LogCorruptError(
        f"transaction log damaged in {path} at byte {offset} ({reason}); the records from "
        f"there on cannot be trusted. Restore them from a replica or snapshot, or accept "
        f"losing them and cut the log there with: {command}",
        path=path,
        offset=offset,
        repair_command=command,
    )


def repair(directory: str | os.PathLike[str], path: str, offset: int) -> RepairResult:
    """Truncate segment ``path`` of the log in ``directory`` at ``offset``; delete later ones.

    ``path`` may be the segment's file name or its path inside ``directory``. Raises
    ``ValueError`` for a path that is not a segment of this log or an offset past its
    end, :class:`DurabilityError` if the log is open elsewhere, ``OSError`` on I/O errors.
    """
    directory = os.path.abspath(directory)
    target = path if os.path.dirname(path) else os.path.join(directory, path)
    target = os.path.abspath(target)
    if os.path.dirname(target) != directory:
        raise ValueError(f"{path} is not in the log directory {directory}")
    first_seq = segments.parse_segment_name(os.path.basename(target))
    if first_seq is None:
        raise ValueError(
            f"{path} is not a segment file name (expected like 00000000000000000001.log)"
        )
    if not os.path.isfile(target):
        raise ValueError(f"segment {target} does not exist")
    size = os.path.getsize(target)
    if not 0 <= offset <= size:
        raise ValueError(f"offset {offset} is outside {target} (0..{size} bytes)")

    lock_fd = segments.lock_directory(directory)
    try:
        all_segments = segments.list_segments(directory)
        later = [s.path for s in all_segments if s.first_seq > first_seq]
        has_older = any(s.first_seq < first_seq for s in all_segments)
        for seg_path in reversed(later):
            os.unlink(seg_path)
        delete_target = offset == 0 and has_older
        if delete_target:
            os.unlink(target)
        else:
            fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.ftruncate(fd, offset)
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(directory)
    finally:
        os.close(lock_fd)
    return RepairResult(
        target, offset, size - offset if not delete_target else size, delete_target, tuple(later)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m store.wal.repair",
        description="Cut a damaged memvec transaction log at a byte offset, losing every "
        "record after it. Run only the command a LogCorruptError printed, with the node stopped.",
    )
    parser.add_argument("--dir", required=True, help="the log directory (FileLog's directory)")
    parser.add_argument("--file", required=True, help="the damaged segment file (name or path)")
    parser.add_argument("--offset", required=True, type=int, help="the first bad byte")
    args = parser.parse_args(argv)
    try:
        result = repair(args.dir, args.file, args.offset)
    except ValueError as exc:
        print(f"repair: {exc}; nothing was changed", file=sys.stderr)
        return 2
    except (DurabilityError, OSError) as exc:
        print(f"repair: {exc}", file=sys.stderr)
        return 1
    action = "deleted" if result.deleted_path else f"truncated at byte {result.offset}"
    print(f"repair: {result.path} {action} ({result.removed_bytes} bytes removed)")
    for seg_path in result.deleted_segments:
        print(f"repair: deleted later segment {seg_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
