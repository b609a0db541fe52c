"""When each key was last named by a client command: OBJECT IDLETIME.

The keyspace keeps no access time per key (it would cost every key memory and every read
a write); the server stamps the keys of the commands its clients run instead
(:meth:`store.server.observe.Observability.done`), except OBJECT, MEMORY and TYPE and
clients in ``CLIENT NO-TOUCH`` mode, as Redis does not touch keys for those.
"""

from __future__ import annotations

import time

__all__ = ["STAMP_SECONDS", "AccessClock"]

STAMP_SECONDS = 0.1
"""How long one stamp is reused: every key named within it points at the same float, so
a key costs the clock its dict entry alone (~50 B at 100k keys) instead of that plus a
float of its own (24 B). Idle times read at most this much long; Redis's own LRU clock
ticks once a second."""


class AccessClock:
    """When each key was last named by a client command (OBJECT IDLETIME).

    Fed by the connection with the key arguments of the commands it runs (it writes
    ``seen[key] = clock.now()`` directly on its hot path); a key never named since
    server start counts from the start. Bounded: past ``limit`` keys the least recently
    seen half is forgotten (they then read as idle since start, an overestimate). At the
    default limit the table holds at most ~5 MB (a dict entry per key; the stamps are
    shared, :data:`STAMP_SECONDS`); deleted keys stay until pruned.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.started = time.monotonic()
        self.limit = limit
        self.seen: dict[bytes, float] = {}
        self._stamp = self.started

    def now(self) -> float:
        """The stamp for a key named now: ``time.monotonic()`` rounded down to the stamp
        taken at most :data:`STAMP_SECONDS` ago, the same float object for every key."""
        now = time.monotonic()
        if now - self._stamp >= STAMP_SECONDS:
            self._stamp = now
        return self._stamp

    def touch(self, keys: list[bytes]) -> None:
        now = self.now()
        seen = self.seen
        for key in keys:
            seen[key] = now
        if len(seen) > self.limit:
            self.prune()

    def prune(self) -> None:
        """Forget the least recently seen half (O(n log n), once per ``limit / 2`` keys).
        Keys share stamps, so the half is cut by count, not at a stamp: keys stamped alike
        go in the order they were first seen."""
        seen = self.seen
        for key in sorted(seen, key=seen.__getitem__)[: len(seen) // 2]:
            del seen[key]

    def idle_seconds(self, key: bytes) -> int:
        return int(time.monotonic() - self.seen.get(key, self.started))
