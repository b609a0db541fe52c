"""The byte format of the replication link (file log): a RESP conversation, then a stream.

A replica opens an ordinary client connection to its primary. Everything is RESP2.

Handshake (replica -> primary, each command answered before the next is sent)::

    AUTH [<user>] <password>          (only with --masterauth)       -> +OK
    REPLCONF listening-port <port>                                     -> +OK
    PSYNC <next_seq> <last_epoch>                                      -> one of:

    +CONTINUE <replid> <epoch>\\r\\n
        partial resync: the primary's log holds every record from ``next_seq`` on and
        its record ``next_seq - 1`` has epoch ``last_epoch`` (so the two logs agree up to
        there); records from ``next_seq`` follow.
    +FULLRESYNC <replid> <seq> <epoch>\\r\\n$<n>\\r\\n<n snapshot bytes>\\r\\n
        full resync: a snapshot file (:mod:`store.snapshot.format`) covering every record
        before ``seq``; the replica replaces its state and log with it; records from
        ``seq`` follow.
    -ERR ...   (not a primary, not allowed, ...): the replica retries later.

``next_seq`` is the replica's next record (its applied position), ``last_epoch`` the
epoch of its newest record (0 when it has none); ``epoch`` in the answers is the
primary's current writer epoch. A replica refuses a primary whose epoch is lower than
the highest it has seen (a deposed primary: fencing) and any record whose epoch is lower
than one it already holds.

Stream (primary -> replica), RESP arrays of bulk strings, integers in decimal ASCII::

    *5 $7 REPLREC  $<seq> $<epoch> $<commit_ms> $<payload>
        one log record, in seq order without gaps. ``commit_ms`` is the primary's wall
        clock (ms since the epoch) when it appended the record, 0 if unknown (records read
        back from the log file); replicas measure their lag with it.
    *4 $8 REPLPING $<now_ms> $<last_seq> $<unsent_bytes>
        sent at least once a second, between records: the primary's clock, its newest
        seq (the replica's lag in records) and the log-record bytes (:func:`record_bytes`)
        of the records up to ``last_seq`` it has not yet sent on this link (the replica's
        lag in bytes beyond what it has received). A 3-part ping (no ``unsent_bytes``)
        means 0.

Epochs (the 64-bit value in every log record): ``term << 32 | tag``. The *term* orders
primaries: a promotion takes one more than any term the node has seen, and fencing
compares terms only. The *tag* is random per term, so two histories that never shared a
primary (two fresh nodes, or two replicas promoted concurrently) differ in every epoch
and PSYNC's (seq, epoch) check sends the newcomer to a full resync.

Replica -> primary on the same connection, after the handshake::

    REPLCONF ACK <seq>     every record up to ``seq`` is durable in the replica's log
                           (sent after each applied batch and once a second); no reply.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..errors import StreamError
from ..wal.base import LogRecord
from ..wal.record import HEADER_BYTES

REPLREC = b"REPLREC"
TERM_SHIFT = 32


def term_of(epoch: int) -> int:
    """The term of an epoch (see the module docstring)."""
    return epoch >> TERM_SHIFT


def new_epoch(term: int) -> int:
    """A fresh epoch of ``term`` with a random tag."""
    return (term << TERM_SHIFT) | (secrets.randbits(TERM_SHIFT - 1) + 1)


REPLPING = b"REPLPING"


def record_bytes(rec: LogRecord) -> int:
    """The size of ``rec`` in the file log (header + payload): the unit of lag in bytes."""
    return HEADER_BYTES + len(rec.payload)


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


def command(*args: bytes) -> bytes:
    """A RESP array of bulk strings (a request, as the handshake and ACK send it)."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


def encode_record(rec: LogRecord, commit_ms: int) -> bytes:
    return (
        b"*5\r\n$7\r\nREPLREC\r\n"
        + _bulk(b"%d" % rec.seq)
        + _bulk(b"%d" % rec.epoch)
        + _bulk(b"%d" % commit_ms)
        + _bulk(rec.payload)
    )


def encode_ping(now_ms: int, last_seq: int, unsent_bytes: int = 0) -> bytes:
    return command(REPLPING, b"%d" % now_ms, b"%d" % last_seq, b"%d" % unsent_bytes)


def fullresync_header(replid: str, seq: int, epoch: int, size: int) -> bytes:
    return b"+FULLRESYNC %s %d %d\r\n$%d\r\n" % (replid.encode(), seq, epoch, size)


def continue_line(replid: str, epoch: int) -> bytes:
    return b"+CONTINUE %s %d\r\n" % (replid.encode(), epoch)


@dataclass(frozen=True, slots=True)
class StreamRecord:
    record: LogRecord
    commit_ms: int


@dataclass(frozen=True, slots=True)
class StreamPing:
    now_ms: int
    last_seq: int
    unsent_bytes: int = 0


def decode_item(args: list[bytes]) -> StreamRecord | StreamPing:
    """One parsed stream array (as :class:`store.resp.RequestParser` yields it)."""
    try:
        if args[0] == REPLREC and len(args) == 5:
            rec = LogRecord(int(args[1]), int(args[2]), args[4])
            return StreamRecord(rec, int(args[3]))
        if args[0] == REPLPING and len(args) in (3, 4):
            return StreamPing(int(args[1]), int(args[2]), int(args[3]) if len(args) == 4 else 0)
    except ValueError as exc:
        raise StreamError(f"bad number in replication stream item {args[0]!r}: {exc}") from exc
    raise StreamError(f"unexpected replication stream item {args[:1]!r} ({len(args)} parts)")


def parse_answer(line: bytes) -> tuple[str, list[str]]:
    """``b"+FULLRESYNC id 5 0"`` -> ``("FULLRESYNC", ["id", "5", "0"])``; errors raise."""
    text = line.rstrip(b"\r\n").decode("utf-8", "replace")
    if text.startswith("-"):
        raise StreamError(f"the primary refused: {text[1:]}")
    if not text.startswith("+"):
        raise StreamError(f"unexpected answer from the primary: {text[:80]!r}")
    words = text[1:].split()
    return (words[0].upper() if words else ""), words[1:]
