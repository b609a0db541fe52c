"""FT.AGGREGATE cursors: executions kept between FT.CURSOR READ calls.

A cursor belongs to no connection: any client that knows its id may read or delete it,
and, as in RediSearch 2.10, the index name given to FT.CURSOR is not checked against the
cursor's. Ids are random positive 31-bit numbers. A cursor idle
longer than its MAXIDLE (default and ceiling 300 s) is dropped by the next collection,
as RediSearch's: when a cursor is created, and on ``FT.CURSOR GC``. Until then an idle
cursor can still be read (RediSearch behaves the same).
One registry serves one store (:func:`registry_for`), guarded by its own lock.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from .pipeline import Execution

__all__ = ["Cursor", "CursorRegistry", "registry_for"]


@dataclass
class Cursor:
    id: int
    index: str
    owner: object  # the SearchIndex read: a dropped and re-created index is another one
    execution: Execution
    count: int
    maxidle_ms: int
    last_used: float
    deadline: object = None  # the request's TIMEOUT state, restarted by each read

    def expired(self, now: float) -> bool:
        return (now - self.last_used) * 1000 > self.maxidle_ms


class CursorRegistry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cursors: dict[int, Cursor] = {}
        self.rng = random.SystemRandom()

    def _expire(self, now: float) -> int:
        idle = [c.id for c in self.cursors.values() if c.expired(now)]
        for cid in idle:
            del self.cursors[cid]
        return len(idle)

    def collect(self) -> int:
        """Drop every idle-expired cursor (``FT.CURSOR GC``); returns how many."""
        with self.lock:
            return self._expire(time.monotonic())

    def add(self, owner: Any, execution: Execution, count: int, maxidle_ms: int) -> Cursor:
        """Register a cursor over ``owner`` (a SearchIndex, named by its ``name``)."""
        now = time.monotonic()
        with self.lock:
            self._expire(now)
            cid = self.rng.randrange(1, 2**31)
            while cid in self.cursors:
                cid = self.rng.randrange(1, 2**31)
            cursor = Cursor(cid, owner.name, owner, execution, count, maxidle_ms, now)
            self.cursors[cid] = cursor
            return cursor

    def take(self, cid: int) -> Cursor | None:
        """The cursor (removed while it is read: no two readers at once), or None."""
        with self.lock:
            return self.cursors.pop(cid, None)

    def put_back(self, cursor: Cursor) -> None:
        cursor.last_used = time.monotonic()
        with self.lock:
            self.cursors[cursor.id] = cursor

    def delete(self, cid: int) -> bool:
        with self.lock:
            return self.cursors.pop(cid, None) is not None


_REGISTRIES: weakref.WeakKeyDictionary[object, CursorRegistry] = weakref.WeakKeyDictionary()
_REGISTRIES_LOCK = threading.Lock()


def registry_for(owner: object) -> CursorRegistry:
    """The registry of one store; ``owner`` is its index manager."""
    with _REGISTRIES_LOCK:
        registry = _REGISTRIES.get(owner)
        if registry is None:
            registry = _REGISTRIES[owner] = CursorRegistry()
        return registry
