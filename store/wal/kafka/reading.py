"""The reading rules of the Kafka transaction log, and the reader's restart checkpoint.

Pure functions and values: no clients, no threads. :mod:`store.wal.kafka.log` applies
them to every message of the topic, in topic order, on every node (the writer included),
so all of them agree on which records the log holds.

Message value. Each Kafka message's value is exactly one record of
:mod:`store.wal.record` (magic, length, CRC32C, epoch, seq, payload); keys, headers and
timestamps are not used. An *epoch marker* is a record with an empty payload and seq 0
on the wire, written by a node that becomes the writer (its seq is where it lands).

Reading. A reader holds a :class:`ReaderState` ``(offset, expected seq, current epoch)``
and, for each message (:func:`interpret`):

* epoch lower than the current epoch: *stale*, ignored (a deposed writer's record that
  landed after the marker that deposed it);
* empty payload and a higher epoch: a *marker*; it takes seq ``expected`` and the
  current epoch becomes its epoch;
* otherwise (a higher epoch without its marker only when reading started after it):
  seq below ``expected`` is a *duplicate* (a producer retry of a record that had landed:
  tansu has no idempotent producer, so retries may duplicate, and correctness never
  depends on idempotence), seq above ``expected`` is a *gap* (records after one whose
  delivery failed; its writer had failed them all) and is ignored; seq ``expected`` is
  accepted.

``expected == 0`` means *unanchored*: reading started where older records had expired
and no checkpoint said where; the first data record sets the seq. A marker read while
unanchored cannot be given a seq: it only sets the epoch (:data:`Verdict.MARKER` with
seq 0), and a node must not promote itself while its reader is unanchored.

Checkpoint file (``kafka-checkpoint.json`` in the node's data directory), UTF-8 JSON::

    {"topic": "<topic>", "offset": <int>, "expected": <int>, "epoch": <int>}

a :class:`ReaderState` the reader had at ``offset`` in ``topic``: reading from it gives
the same verdicts as reading from the topic's start. It is published atomically
(:func:`store.files.atomic_write`: tmp file, fsync, rename, fsync of the directory); a
file for another topic, or one that does not parse, is ignored with a warning (the topic
is then read from its first offset).
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ...errors import LogCorruptError
from ...files import atomic_write_bytes
from .. import record
from ..base import LogRecord

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "kafka-checkpoint.json"


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    MARKER = "marker"  # accepted, and the current epoch changed
    DUPLICATE = "duplicate"
    STALE = "stale"
    GAP = "gap"

    @property
    def accepted(self) -> bool:
        return self in (Verdict.ACCEPTED, Verdict.MARKER)


@dataclass(frozen=True, slots=True)
class ReaderState:
    """Where a reader is: the next offset, the next seq it accepts (0: not known yet,
    the next record sets it) and the current epoch."""

    offset: int
    expected: int
    epoch: int


START = ReaderState(0, 1, 0)


def interpret(
    state: ReaderState, offset: int, value: bytes
) -> tuple[ReaderState, Verdict, LogRecord]:
    """Apply the reading rules of the module docstring to the message at ``offset``.

    Returns the state after it, the verdict and the record (for a marker, with the seq
    it takes). Raises :class:`LogCorruptError` for a value that is not an intact record.
    """
    try:
        rec = record.decode(value)
    except ValueError as exc:
        raise LogCorruptError(
            f"the Kafka log message at offset {offset} is not a memvec record ({exc}); "
            "something else writes to this topic: give memvec a topic of its own",
            path=f"offset {offset}",
            offset=offset,
            repair_command="",
        ) from exc
    nxt = offset + 1
    if rec.epoch < state.epoch:
        return replace(state, offset=nxt), Verdict.STALE, rec
    if not rec.payload and rec.epoch > state.epoch:
        seq = state.expected
        marker = LogRecord(seq, rec.epoch, b"")
        return ReaderState(nxt, seq and seq + 1, rec.epoch), Verdict.MARKER, marker
    expected = state.expected or rec.seq
    if rec.seq < expected:
        return ReaderState(nxt, expected, max(state.epoch, rec.epoch)), Verdict.DUPLICATE, rec
    if rec.seq > expected:
        return ReaderState(nxt, expected, max(state.epoch, rec.epoch)), Verdict.GAP, rec
    return ReaderState(nxt, rec.seq + 1, rec.epoch), Verdict.ACCEPTED, rec


def save_checkpoint(path: Path, topic: str, state: ReaderState) -> None:
    """Publish ``state`` as the checkpoint at ``path`` atomically; ``OSError`` on failure."""
    atomic_write_bytes(path, json.dumps({"topic": topic, **asdict(state)}).encode())


def load_checkpoint(path: Path | None, topic: str) -> ReaderState | None:
    """The checkpoint at ``path`` for ``topic``, or None (none, another topic's, unreadable)."""
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if data.get("topic") != topic:
            return None
        return ReaderState(int(data["offset"]), int(data["expected"]), int(data["epoch"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("ignoring the Kafka log checkpoint %s: %s", path, exc)
        return None
