"""Waiting until a log record is durable: the part the file and Kafka logs share.

A log keeps a *durable seq* (every record up to it is durable) and, once durability failed,
a *failure* (a :class:`store.errors.DurabilityError`). Two kinds of waiters:

* a thread: :func:`wait_until_durable`, a loop on the log's ``threading.Condition`` (the
  caller holds its lock) that returns once the seq is durable, raises a fresh copy of the
  failure once there is one, or ``TimeoutError`` after ``timeout_s``;
* an asyncio caller: a :class:`concurrent.futures.Future` kept in :class:`DurableFutures`
  (a heap by seq) until :meth:`DurableFutures.due` hands it to :func:`settle`.

Contract of :func:`settle`: a due future resolves with ``None`` if its seq is durable, or
fails with a fresh copy of the failure; a future its caller cancelled (``asyncio`` cancels
the wrapped future when the awaiting task is cancelled, e.g. a client disconnected) is
skipped, never raising ``InvalidStateError`` into the thread that settles. Call it without
holding the log's lock (future callbacks run inline).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from ..errors import DurabilityError


def copy_failure(failure: DurabilityError) -> DurabilityError:
    """A fresh exception per raise (threads must not share one traceback)."""
    error = DurabilityError(failure.message)
    error.__cause__ = failure.__cause__
    return error


class DurableFutures:
    """Futures waiting for a seq, by seq (not thread-safe: the log's lock guards it)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Future[None]]] = []
        self._ids = itertools.count()

    def add(self, seq: int, future: Future[None]) -> None:
        heapq.heappush(self._heap, (seq, next(self._ids), future))

    def due(self, durable_seq: int, failed: bool) -> list[tuple[int, Future[None]]]:
        """Remove and return ``(seq, future)`` for every future with ``seq <= durable_seq``
        (every future if ``failed``)."""
        out: list[tuple[int, Future[None]]] = []
        while self._heap and (failed or self._heap[0][0] <= durable_seq):
            seq, _, future = heapq.heappop(self._heap)
            out.append((seq, future))
        return out

    def __len__(self) -> int:
        return len(self._heap)


def settle(
    due: list[tuple[int, Future[None]]], durable_seq: int, failure: DurabilityError | None
) -> None:
    """Resolve (seq durable) or fail (with ``failure``) each due future; skip cancelled ones."""
    for seq, future in due:
        if not future.set_running_or_notify_cancel():
            continue
        if seq <= durable_seq or failure is None:
            future.set_result(None)
        else:
            future.set_exception(copy_failure(failure))


def wait_until_durable(
    cv: threading.Condition,
    seq: int,
    durable_seq: Callable[[], int],
    failure: Callable[[], DurabilityError | None],
    timeout_s: float | None,
    timeout_message: Callable[[], str],
) -> None:
    """Block on ``cv`` (its lock held by the caller) until ``durable_seq() >= seq``.

    Raises a copy of ``failure()`` once it is set and ``seq`` is not durable, and
    ``TimeoutError(timeout_message())`` once ``timeout_s`` passed.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while durable_seq() < seq:
        if (failed := failure()) is not None:
            raise copy_failure(failed)
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise TimeoutError(timeout_message())
        cv.wait(remaining)
