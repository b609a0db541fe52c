"""Stream entry ids: ``(ms, seq)`` pairs of unsigned 64-bit integers, their text form,
their successor and predecessor, and :class:`SortedIDs`, an ascending id index."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

StreamID = tuple[int, int]

U64_MAX = (1 << 64) - 1
MIN_ID: StreamID = (0, 0)
MAX_ID: StreamID = (U64_MAX, U64_MAX)


def format_id(sid: StreamID) -> bytes:
    return b"%d-%d" % sid


def incr_id(sid: StreamID) -> StreamID | None:
    """The next id, or None past the last possible one."""
    ms, seq = sid
    if seq < U64_MAX:
        return ms, seq + 1
    if ms < U64_MAX:
        return ms + 1, 0
    return None


def decr_id(sid: StreamID) -> StreamID | None:
    """The previous id, or None before 0-0."""
    ms, seq = sid
    if seq > 0:
        return ms, seq - 1
    if ms > 0:
        return ms - 1, U64_MAX
    return None


class SortedIDs:
    """Ids kept ascending (a PEL, the live entries): bisect over a list."""

    __slots__ = ("ids",)

    def __init__(self, ids: list[StreamID] | None = None) -> None:
        self.ids = ids if ids is not None else []

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[StreamID]:
        return iter(self.ids)

    def add(self, sid: StreamID) -> None:
        if not self.ids or self.ids[-1] < sid:
            self.ids.append(sid)
        else:
            insort(self.ids, sid)

    def remove(self, sid: StreamID) -> None:
        i = bisect_left(self.ids, sid)
        if i < len(self.ids) and self.ids[i] == sid:
            del self.ids[i]

    def from_id(self, start: StreamID) -> Iterator[StreamID]:
        """Ids ``>= start``, ascending (safe against removal of the yielded id)."""
        i = bisect_left(self.ids, start)
        while i < len(self.ids):
            sid = self.ids[i]
            yield sid
            if i < len(self.ids) and self.ids[i] == sid:
                i += 1

    def first(self) -> StreamID | None:
        return self.ids[0] if self.ids else None

    def last(self) -> StreamID | None:
        return self.ids[-1] if self.ids else None
