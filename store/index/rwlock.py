"""A writer-preferring readers-writer lock whose readers can be split into groups.

Native ANN libraries (hnswlib among them) are safe for many concurrent searches but not for
a search running while the graph is modified, and some of their search parameters are
index-wide state rather than per-call arguments (hnswlib's ``ef``). :class:`RWLock` covers
both:

* ``with lock.write():`` is exclusive: no reader and no other writer holds the lock.
* ``with lock.read(ANY_GROUP):`` is shared with readers of whatever group holds the lock
  (for reads that do not depend on the group's state); it never switches groups.
* ``with lock.read(group):`` is shared with every other reader *of the same group*. Readers
  of different groups never overlap, so a group can stand for a value of index-wide search
  state (such as ``ef``). ``on_group_change(group)`` runs, under the lock's internal mutex
  and before any reader of the new group proceeds, each time the shared holders switch to a
  group different from the previous one; it must be quick and must not take this lock.

Fairness: a waiting writer blocks new readers (writers cannot starve), and readers of a
group that is waiting for the current group to drain block newcomers of the current group
(groups cannot starve each other). The lock is not reentrant: a thread holding it must not
acquire it again, in either mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

__all__ = ["ANY_GROUP", "RWLock"]

ANY_GROUP: Hashable = object()
"""A reader group compatible with every group; see the module docstring."""


class RWLock:
    """Readers-writer lock with reader groups; see the module docstring for the guarantees."""

    def __init__(self, on_group_change: Callable[[Hashable], None] | None = None) -> None:
        # held directly (``with self._mutex``) rather than through the condition, whose
        # ``__enter__``/``__exit__`` are Python frames: a search takes it twice
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._group: Hashable = None
        self._applied_group: Hashable = None
        self._writer = False
        self._writers_waiting = 0
        self._other_group_waiting = 0
        self._on_group_change = on_group_change

    @contextmanager
    def read(self, group: Hashable = None) -> Iterator[None]:
        """Hold the lock shared with other readers of ``group`` for the ``with`` body."""
        self.acquire_read(group)
        try:
            yield
        finally:
            self.release_read()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock exclusively for the ``with`` body."""
        self._acquire_write()
        try:
            yield
        finally:
            self._release_write()

    def acquire_read(self, group: Hashable = None) -> None:
        """:meth:`read` without the context manager, for a per-query path (its generator
        costs about as much as the lock): pair with :meth:`release_read` in a ``finally``."""
        with self._mutex:
            waiting_as_other = False
            while True:
                if not self._writer and not self._writers_waiting:
                    if self._readers == 0 or group is ANY_GROUP:
                        break
                    if group == self._group and (waiting_as_other or not self._other_group_waiting):
                        break
                if (
                    not waiting_as_other
                    and self._readers
                    and group != self._group
                    and group is not ANY_GROUP
                ):
                    waiting_as_other = True
                    self._other_group_waiting += 1
                self._cond.wait()
            if waiting_as_other:
                self._other_group_waiting -= 1
            if self._readers == 0 and group is not ANY_GROUP:
                self._group = group
                if group != self._applied_group and self._on_group_change is not None:
                    self._on_group_change(group)
                self._applied_group = group
            self._readers += 1

    def release_read(self) -> None:
        """Release what :meth:`acquire_read` took."""
        with self._mutex:
            self._readers -= 1
            # only a writer or a reader of another group waits for the readers to drain
            # (a reader of this group waits only while one of those does)
            if self._readers == 0 and (self._writers_waiting or self._other_group_waiting):
                self._cond.notify_all()

    def _acquire_write(self) -> None:
        with self._mutex:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True

    def _release_write(self) -> None:
        with self._mutex:
            self._writer = False
            self._cond.notify_all()
