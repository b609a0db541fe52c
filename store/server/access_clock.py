"""When each key was last named by a client command: OBJECT IDLETIME.

The keyspace keeps no access time per key (it would cost every key memory and every read
a write); the server stamps the keys of the commands its clients run instead
(:meth:`store.server.observe.Observability.done`), except OBJECT, MEMORY and TYPE and
clients in ``CLIENT NO-TOUCH`` mode, as Redis does not touch keys for those.
"""

from __future__ import annotations

import time

__all__ = ["AccessClock"]


class AccessClock:
    """When each key was last named by a client command (OBJECT IDLETIME).

    Fed by the connection with the key arguments of the commands it runs (it writes
    ``seen[key] = time.monotonic()`` directly on its hot path); a key never named since
    server start counts from the start. Bounded: past ``limit`` keys the least recently
    seen half is forgotten (they then read as idle since start, an overestimate). The
    default keeps about 10-20 MB of stamps; deleted keys stay until pruned.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.started = time.monotonic()
        self.limit = limit
        self.seen: dict[bytes, float] = {}

    def touch(self, keys: list[bytes]) -> None:
        now = time.monotonic()
        seen = self.seen
        for key in keys:
            seen[key] = now
        if len(seen) > self.limit:
            self.prune()

    def prune(self) -> None:
        """Forget the least recently seen half (O(n log n), once per ``limit / 2`` keys)."""
        seen = self.seen
        cutoff = sorted(seen.values())[len(seen) // 2]
        for key in [k for k, t in seen.items() if t < cutoff]:
            del seen[key]

    def idle_seconds(self, key: bytes) -> int:
        return int(time.monotonic() - self.seen.get(key, self.started))
