"""``ScanBatcher``: concurrent FLAT scans share one pass over the matrix.

A FLAT KNN query reads the whole vector matrix once; with 8 clients querying at once, 8
threads each streaming the same matrix from memory split the memory bandwidth and the
lock. The batcher hands the queries that arrive while a scan runs to one thread, which
runs them as one pass under one read-lock hold (``FlatIndex._scan``,
:func:`store.index.flat_scan.dot_distances`: at 100k x 384, 8 queries took 7.9 ms on 2
threads against 3.4-4.2 ms for one; docs/decisions/0034-flat-scans-batched-in-one-pass.md).
Each query's distances are the bits it gets alone; a filtered query's filter picks among
them (docs/decisions/0035).

The batching is group commit, as a log's fsync is shared: a thread arriving while no scan
runs becomes the leader at once and scans its own query alone (so one client pays no
wait); queries arriving while a scan runs queue up, and when it ends the first of them to
wake leads one scan for the whole queue.
Nobody waits for a timer: a batch is what arrived during the previous scan.

Contract: :meth:`ScanBatcher.run` returns ``scan(items)[i]`` for the caller's item (for
``FlatIndex``: a query, its k and its filter), where ``scan`` is called with the queued
items, from one thread at a time, and must return one result per item (it raises for all
of them if it raises).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["ScanBatcher"]

# a batch larger than this is split: the (n, batch) distance matrix stays small
MAX_BATCH = 16


class _Pending:
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: Any) -> None:
        self.item = item
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class ScanBatcher:
    """Coalesces concurrent calls of one scan function; see the module docstring."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Pending] = []
        self._busy = False

    @property
    def queued(self) -> int:
        """How many queries wait for a scan (for tests and introspection)."""
        with self._cond:
            return sum(not p.done for p in self._queue)

    def run(
        self,
        item: Any,
        scan: Callable[[list[Any]], Sequence[Any]],
    ) -> Any:
        """``scan``'s result for ``item``, computed alone or with concurrent items."""
        mine = _Pending(item)
        with self._cond:
            self._queue.append(mine)
            while self._busy and not mine.done:
                self._cond.wait()
            if not mine.done:
                self._busy = True
                # the leader's own query first: the queue may be longer than one batch
                others = [p for p in self._queue if p is not mine]
                batch, self._queue = [mine, *others[: MAX_BATCH - 1]], others[MAX_BATCH - 1 :]
        if not mine.done:
            self._lead(batch, scan)
        if mine.error is not None:
            raise mine.error
        return mine.result

    def _lead(self, batch: list[_Pending], scan: Callable[[list[Any]], Sequence[Any]]) -> None:
        try:
            results = scan([p.item for p in batch])
            for p, result in zip(batch, results, strict=True):
                p.result = result
        except BaseException as exc:  # every query of the batch sees the scan's failure
            for p in batch:
                p.error = exc
        finally:
            with self._cond:
                for p in batch:
                    p.done = True
                self._busy = False
                self._cond.notify_all()
