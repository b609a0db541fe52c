"""Consumer groups of a stream: :class:`Group` (last delivered id, read counter, PEL,
consumers), :class:`Consumer` and :class:`Nack` (one pending entry). Plain values: every
time is passed in by the caller (``ctx.now_ms``)."""

from __future__ import annotations

from collections.abc import Iterator

from .stream_ids import SortedIDs, StreamID


class Nack:
    """One pending entry: who has it, when it was last delivered, how many times."""

    __slots__ = ("consumer", "delivery_count", "delivery_time")

    def __init__(self, consumer: bytes, delivery_time: int, delivery_count: int) -> None:
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count


class Consumer:
    """A consumer of a group: its own PEL (ids; the :class:`Nack` lives in the group's),
    when it was last seen (any read or claim attempt) and last active (-1: never)."""

    __slots__ = ("active_time", "name", "pel", "seen_time")

    def __init__(self, name: bytes, seen_time: int, active_time: int = -1) -> None:
        self.name = name
        self.seen_time = seen_time
        self.active_time = active_time
        self.pel = SortedIDs()


class Group:
    """A consumer group (see the module docstring)."""

    __slots__ = ("consumers", "entries_read", "last_id", "pel", "pel_ids")

    def __init__(self, last_id: StreamID, entries_read: int) -> None:
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel: dict[StreamID, Nack] = {}
        self.pel_ids = SortedIDs()
        self.consumers: dict[bytes, Consumer] = {}

    def consumer(self, name: bytes, now_ms: int) -> tuple[Consumer, bool]:
        """The consumer called ``name``, created if missing (and whether it was)."""
        found = self.consumers.get(name)
        if found is not None:
            return found, False
        created = self.consumers[name] = Consumer(name, now_ms)
        return created, True

    def delete_consumer(self, name: bytes) -> int:
        """Remove a consumer and its pending entries; how many it had (0 if unknown)."""
        found = self.consumers.pop(name, None)
        if found is None:
            return 0
        for sid in found.pel:
            del self.pel[sid]
            self.pel_ids.remove(sid)
        return len(found.pel)

    def assign(self, sid: StreamID, consumer: Consumer, time_ms: int, count: int) -> Nack:
        """Make ``sid`` pending for ``consumer`` (moving it from another consumer)."""
        nack = self.pel.get(sid)
        if nack is None:
            nack = self.pel[sid] = Nack(consumer.name, time_ms, count)
            self.pel_ids.add(sid)
            consumer.pel.add(sid)
            return nack
        if nack.consumer != consumer.name:
            old = self.consumers.get(nack.consumer)
            if old is not None:
                old.pel.remove(sid)
            consumer.pel.add(sid)
            nack.consumer = consumer.name
        nack.delivery_time = time_ms
        nack.delivery_count = count
        return nack

    def ack(self, sid: StreamID) -> bool:
        nack = self.pel.pop(sid, None)
        if nack is None:
            return False
        self.pel_ids.remove(sid)
        owner = self.consumers.get(nack.consumer)
        if owner is not None:
            owner.pel.remove(sid)
        return True

    def pending_ids(self, start: StreamID, end: StreamID) -> Iterator[StreamID]:
        for sid in self.pel_ids.from_id(start):
            if sid > end:
                return
            yield sid
