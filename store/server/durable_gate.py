"""Waiting on the event loop until log records are durable, for every client at once.

Contract of :meth:`DurableGate.wait`: it returns once ``seq`` is durable and raises what
``Engine.durable_future(seq)`` would fail with otherwise (:class:`DurabilityError`, or the
log's error for a seq it never had), exactly as awaiting that future would. Callers still
compare ``Engine.rollbacks`` before and after (store.server.connection), as before.

Why a gate (docs/decisions/0006-request-path.md): with 200 clients under ``appendfsync
always`` every batch used to ask the log for its own future (the log's lock, a heap push,
a wake-up of the flusher thread) and every fsync round settled each future with its own
``call_soon_threadsafe`` (a self-pipe write and a GIL hand-off per client). The gate asks
the log at once when nothing is being waited for (the flusher starts the fsync as soon as
possible), and otherwise at most once per loop iteration, for the highest seq wanted (what
Redis does in ``beforeSleep``). Log durability is a prefix: once seq ``S`` is durable,
every waiter up to ``S`` is answered, in one callback on the loop.

With a log that syncs locally (``TransactionLog.syncs_locally``: the file log under
``appendfsync always``) the gate does not wake the log's flusher thread at all: at the
next loop iteration it calls ``log.sync()``, one fsync in the loop's thread covering every
record the clients of the iteration before appended, and answers their waiters in the same
callback. That is Redis's ``beforeSleep`` fsync exactly; the loop blocks for the fsync
(as Redis does), and in exchange there is no cross-thread hand-off per round (the flusher's
wake-up, its GIL acquisitions, a ``concurrent.futures.Future`` and a self-pipe write):
the 200-client types mix went from ~100 to ~66 us of server CPU per command
(docs/decisions/0007-request-path-fixed-cost.md).

What is durable is read from the log itself (``durable_position``), never cached here. A
log that restarts at a lower position (a replica's full resynchronisation) leaves the
gate's requests meaningless: the next wait that finds the log's next position at or below
the highest seq asked hands every waiter its own log future (the behaviour without the
gate) and voids the answers to older requests (an epoch).

Failure: when a request fails (or the log refuses it), every waiter it covers is handed
its own ``Engine.durable_future(seq)`` to await, so each learns its own outcome (a record
before the failure may be durable), and the request is forgotten: a later batch that waits
for the same seq (it read the failed record) asks the log again. (Without that, such a
batch waited forever: a fenced Kafka-log writer hung the next client's write.)
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["DurableGate"]

# A waiter's future: None when its seq is durable; else the log's own future to await.
_Outcome = Future[None] | None


class _Notify:
    """A waiter that is a callback (:meth:`DurableGate.notify`), with a future's
    ``done``/``set_result``/``set_exception`` as the gate uses them."""

    __slots__ = ("_callback", "_done")

    def __init__(self, callback: Callable[[_Outcome, BaseException | None], None]) -> None:
        self._callback = callback
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, outcome: _Outcome) -> None:
        self._done = True
        self._callback(outcome, None)

    def set_exception(self, exc: BaseException) -> None:
        self._done = True
        self._callback(None, exc)


class DurableGate:
    """Durability waits of one event loop's clients, coalesced (see the module docstring).

    Use from the loop's thread only.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._requested = 0  # the highest seq asked of the log
        self._wanted = 0  # the highest seq a waiter waits for
        self._scheduled = False  # a request is due at the next loop iteration
        self._waiters: list[tuple[int, int, asyncio.Future[_Outcome] | _Notify]] = []
        self._ids = itertools.count()
        self._epoch = 0

    async def wait(self, seq: int) -> None:
        """Return once ``seq`` is durable; raise as the log's future for it would."""
        log = self._engine.transaction_log
        if log is None or seq < log.durable_position.seq:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_Outcome] = loop.create_future()
        self._enqueue(seq, waiter, loop)
        outcome = await waiter
        if outcome is not None:
            await asyncio.wrap_future(outcome)

    def notify(self, seq: int, callback: Callable[[_Outcome, BaseException | None], None]) -> None:
        """Call ``callback(None, None)`` on the loop once ``seq`` is durable (at once if it
        is, or if there is no log), without a future or a task: the inline command path's
        wait (store.server.connection). On a failure it is called with the log's own
        future for ``seq`` to await, or the exception: the caller then waits as
        :meth:`wait` would."""
        log = self._engine.transaction_log
        if log is None or seq < log.durable_position.seq:
            callback(None, None)
            return
        self._enqueue(seq, _Notify(callback), asyncio.get_running_loop())

    def _enqueue(
        self, seq: int, waiter: asyncio.Future[_Outcome] | _Notify, loop: asyncio.AbstractEventLoop
    ) -> None:
        log = self._engine.transaction_log
        assert log is not None
        if self._requested >= log.next_position.seq:
            self._forget()  # the log went back
        heapq.heappush(self._waiters, (seq, next(self._ids), waiter))
        if seq > self._wanted:
            self._wanted = seq
        if log.syncs_locally:  # fsync here, once, after this iteration's batches appended
            if not self._scheduled:
                self._scheduled = True
                loop.call_soon(self._request, loop)
        elif self._requested < log.durable_position.seq:  # the log is idle: ask now
            self._request(loop)
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._request, loop)

    def _request(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        seq = self._wanted
        if seq <= self._requested:
            return
        self._requested = seq
        log = self._engine.transaction_log
        if log is not None and log.syncs_locally:
            log.sync()  # its outcome: durable_position, or the failure the future carries
        try:
            future = self._engine.durable_future(seq)
        except Exception:  # the log refuses the seq: each waiter asks for its own
            self._failed(seq)
            return
        epoch = self._epoch
        if future.done():
            self._settled(epoch, seq, future)
            return

        def settled(f: Future[None]) -> None:  # on the flusher thread
            try:
                loop.call_soon_threadsafe(self._settled, epoch, seq, f)
            except RuntimeError:  # the loop closed (shutdown): nobody waits any more
                pass

        future.add_done_callback(settled)

    def _settled(self, epoch: int, seq: int, future: Future[None]) -> None:
        if epoch != self._epoch:  # asked of the log before it went back: void
            return
        if future.exception() is not None:
            self._failed(seq)
            return
        waiters = self._waiters
        while waiters and waiters[0][0] <= seq:
            _, _, waiter = heapq.heappop(waiters)
            if not waiter.done():  # not cancelled (its client went away)
                waiter.set_result(None)
        if waiters and self._wanted > self._requested:
            self._request(asyncio.get_running_loop())

    def _failed(self, seq: int) -> None:
        """A request up to ``seq`` failed: each waiter it covers asks the log itself, and
        the request is forgotten, so a later wait for the same seq (a batch that read the
        failed record) asks the log again instead of waiting on an answer already given."""
        self._answer_each(seq)
        self._requested = 0

    def _forget(self) -> None:
        """The log went back to a lower position: drop what the gate knew."""
        self._epoch += 1
        self._answer_each(self._wanted)
        self._requested = self._wanted = 0

    def _answer_each(self, seq: int) -> None:
        """Hand every waiter up to ``seq`` its own log future (a failure path)."""
        waiters = self._waiters
        while waiters and waiters[0][0] <= seq:
            own, _, waiter = heapq.heappop(waiters)
            if waiter.done():
                continue
            try:
                waiter.set_result(self._engine.durable_future(own))
            except Exception as exc:
                waiter.set_exception(exc)
