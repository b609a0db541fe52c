"""Segment files: naming, listing, creating, sealing, scanning and reading.

A log directory holds segment files named after the sequence number of their first
record, zero-padded to 20 digits so that names sort like numbers::

    00000000000000000001.log     records 1 .. 5213
    00000000000000005214.log     records 5214 .. (the active segment)

Other files in the directory (the ``LOCK`` file, an operator's notes) are ignored. Only
the last segment is ever written; every other one is *sealed*: it was fsynced before its
successor was created, and nothing modifies it again (``drop_before`` may delete it
whole). A segment holds records only (see :mod:`store.wal.record`), consecutive in seq,
the first one carrying the seq in the file name. An empty segment is valid: it is what a
rotation leaves before the first append lands in it.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import DurabilityError
from ..files import fsync_dir
from . import record
from .base import LogRecord
from .record import BadRecord

SUFFIX = ".log"
LOCK_NAME = "LOCK"
_NAME = re.compile(r"^(\d{20})\.log$")
_READ_CHUNK_BYTES = 1 << 20

SEQ_MISMATCH = "sequence number out of order"


@dataclass(frozen=True, slots=True)
class SegmentFile:
    first_seq: int
    path: str


@dataclass(frozen=True, slots=True)
class SegmentScan:
    """What :func:`scan_segment` found in one segment file.

    ``good_end``/``next_seq`` describe the intact, in-order prefix. ``bad`` is the first
    damage (``None`` if the whole file is intact). ``torn`` says that the damage looks like
    an interrupted write: it is not an out-of-order record, and no intact record follows
    it anywhere in the file (only a partial record, garbage or zeros).
    """

    path: str
    first_seq: int
    size: int
    good_end: int
    next_seq: int
    bad: BadRecord | None
    torn: bool
    last_epoch: int | None


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    """The first seq named by a segment file name, or ``None`` if it is not a segment."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


def list_segments(directory: str | os.PathLike[str]) -> list[SegmentFile]:
    """The segment files in ``directory``, oldest first (empty if it does not exist)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        first = parse_segment_name(name)
        if first is not None:
            found.append(SegmentFile(first, os.path.join(os.fspath(directory), name)))
    return sorted(found, key=lambda s: s.first_seq)


def lock_directory(directory: str | os.PathLike[str]) -> int:
    """Take the exclusive lock that keeps two writers (or a writer and a repair) apart.

    Returns the fd holding the lock; closing it (or the process dying) releases it.
    Raises :class:`DurabilityError` if another open log or repair holds it.
    """
    path = os.path.join(os.fspath(directory), LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DurabilityError(
            f"the transaction log in {directory} is in use by another FileLog or repair "
            f"(it holds {path}); stop that one first"
        ) from None
    except OSError:
        os.close(fd)
        raise
    return fd


def create_segment(directory: str | os.PathLike[str], first_seq: int) -> tuple[str, int]:
    """Create the empty segment for ``first_seq`` and fsync the directory.

    Returns ``(path, fd)``; the fd is open for appending. Raises ``OSError`` (including
    ``FileExistsError`` if the segment already exists).
    """
    path = os.path.join(os.fspath(directory), segment_name(first_seq))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        fsync_dir(directory)
    except OSError:
        os.close(fd)
        raise
    return path, fd


def open_for_append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)


def seal_segment(fd: int) -> None:
    """Make every byte of a segment durable before its successor is created.

    After this the segment is never written again. The fd stays open: a concurrent
    flusher may still hold it, so the caller closes it when nobody can.
    """
    os.fsync(fd)


def scan_segment(path: str, first_seq: int) -> SegmentScan:
    """Read and check every record of one segment file (recovery)."""
    with open(path, "rb") as f:
        data = f.read()
    offset = 0
    seq = first_seq
    last_epoch: int | None = None
    bad: BadRecord | None = None
    while offset < len(data):
        result = record.decode_at(data, offset)
        if isinstance(result, BadRecord):
            bad = result
            break
        rec, stop = result
        if rec.seq != seq:
            bad = BadRecord(offset, f"{SEQ_MISMATCH}: found seq {rec.seq}, expected {seq}")
            break
        last_epoch = rec.epoch
        offset = stop
        seq += 1
    torn = False
    if bad is not None and not bad.reason.startswith(SEQ_MISMATCH):
        most_records = (len(data) - bad.offset) // record.HEADER_BYTES
        following = record.find_intact_after(
            data, bad.offset + 1, min_seq=seq, max_seq=seq + most_records
        )
        torn = following is None
    return SegmentScan(path, first_seq, len(data), offset, seq, bad, torn, last_epoch)


def read_records(path: str, end: int) -> Iterator[LogRecord | BadRecord]:
    """Yield the records in ``path[0:end]`` in order, in chunks (not the whole file at once).

    Stops after yielding a :class:`BadRecord` for the first bytes that do not decode,
    including a record that runs past ``end``. Raises ``FileNotFoundError`` if the
    segment was deleted before it was opened.
    """
    with open(path, "rb", buffering=0) as f:
        buf = b""
        pos = 0
        base = 0  # file offset of buf[0]
        while base + pos < end:
            result = record.decode_at(buf, pos)
            if isinstance(result, BadRecord):
                if result.reason in (record.SHORT_HEADER, record.SHORT_PAYLOAD):
                    have = base + len(buf)
                    if have < end:
                        need = _bytes_needed(buf, pos)
                        more = f.read(min(end - have, max(_READ_CHUNK_BYTES, need)))
                        if more:
                            buf = buf[pos:] + more
                            base += pos
                            pos = 0
                            continue
                yield BadRecord(base + pos, result.reason)
                return
            rec, pos = result
            yield rec


def _bytes_needed(buf: bytes, pos: int) -> int:
    if len(buf) - pos < record.HEADER_BYTES:
        return record.HEADER_BYTES
    _, length, _, _, _ = record.HEADER.unpack_from(buf, pos)
    return int(record.HEADER_BYTES + length - (len(buf) - pos))
