"""Where to start reading the Kafka log again: remembered reader states, and reading a
range of the topic with the reading rules.

A topic has no index by seq, so the log remembers, while it reads, the
:class:`~store.wal.kafka.reading.ReaderState` it had just before accepting every
:data:`SAMPLE_EVERY`-th seq (:class:`Samples`). Replaying from seq ``s``
(:func:`read_range`) starts at the newest remembered state whose ``expected <= s`` and
yields the accepted records from ``s`` on; the restart checkpoint is the newest
remembered state at or before the oldest kept snapshot. :func:`scan` reads from a state
to the end of the topic (its high watermark when the read began), remembering samples.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import DurabilityError
from ..base import LogRecord
from .client import topic_partition
from .reading import ReaderState, interpret

SAMPLE_EVERY = 64
SAMPLES_KEPT = 4096
SCAN_POLL_MS = 200
SCAN_EMPTY_POLLS = 10  # polls without any watermark before a scan gives up on finding the end
READ_STALL_POLLS = 60  # empty fetches in a row (of up to 1 s each) before a replay gives up


class Samples:
    """Reader states remembered while reading, oldest first (not thread-safe)."""

    def __init__(self) -> None:
        self._states: deque[ReaderState] = deque(maxlen=SAMPLES_KEPT)
        self.first_seq: int | None = None  # the oldest seq accepted since opening

    def remember(self, before: ReaderState, seq: int) -> None:
        """Note that the reader accepted ``seq`` from state ``before``."""
        if seq <= 0:
            return
        if self.first_seq is None:
            self.first_seq = seq
        if seq % SAMPLE_EVERY == 1 or not self._states:
            self._states.append(before)

    def at_or_before(self, seq: int) -> ReaderState | None:
        """The newest remembered state from which seq ``seq`` is still to be read."""
        found = None
        for state in self._states:
            if 0 < state.expected <= seq:
                found = state
        return found


async def scan(consumer: Any, topic: str, state: ReaderState, samples: Samples) -> ReaderState:
    """Read from ``state`` to the end of the topic; return the state after it."""
    tp = topic_partition(topic)
    end: int | None = None  # the high watermark first seen: records after it are the tail's
    empty_polls = 0
    while end is None or state.offset < end:
        batch = await consumer.getmany(timeout_ms=SCAN_POLL_MS)
        empty_polls = 0 if batch else empty_polls + 1
        for msg in batch.get(tp, []):
            if msg.offset < state.offset:
                continue
            before = state
            state, verdict, rec = interpret(state, msg.offset, msg.value)
            if verdict.accepted:
                samples.remember(before, rec.seq)
        if end is None and (end := consumer.highwater(tp)) is not None and end < state.offset:
            raise DurabilityError(
                f"the Kafka log {topic!r} ends at offset {end}, before offset {state.offset} "
                "where this node's checkpoint says it read up to: the topic was recreated or "
                "lost records. Rebuild this node from a healthy one (empty data directory)"
            )
        if end is None and empty_polls >= SCAN_EMPTY_POLLS:
            break
    return state


def read_range(
    fetch: Callable[[], dict[Any, list[Any]]],
    tp: Any,
    start: ReaderState,
    stop_offset: int,
    from_seq: int,
) -> Iterator[LogRecord]:
    """Accepted records with ``seq >= from_seq`` in offsets ``[start.offset, stop_offset)``,
    read with ``fetch()`` (one batch of a consumer positioned at ``start.offset``).

    Raises :class:`DurabilityError` if the broker sends nothing for ``READ_STALL_POLLS``
    fetches in a row."""
    state = start
    empty = 0
    while state.offset < stop_offset:
        batch = fetch()
        empty = 0 if batch else empty + 1
        if empty >= READ_STALL_POLLS:
            raise DurabilityError(
                f"reading the Kafka log stalled at offset {state.offset} (records up to "
                f"{stop_offset} were read before); check the broker and start again"
            )
        for msg in batch.get(tp, []):
            if msg.offset < state.offset or msg.offset >= stop_offset:
                continue
            state, verdict, rec = interpret(state, msg.offset, msg.value)
            if verdict.accepted and rec.seq >= from_seq:
                yield rec
