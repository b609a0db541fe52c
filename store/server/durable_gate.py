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
next loop iteration it starts one ``log.sync()`` round on its own helper thread (one
fsync covering every record the clients of the iterations before appended) and, when
that returns, answers their waiters on the loop and starts the next round for what was
appended meanwhile. One round at a time and one hand-off per round, not per client.
The loop keeps reading, executing and appending during the fsync (``FileLog.sync``
fsyncs outside the log's lock): docs/decisions/0011-fsync-off-the-loop.md measured
+13-30% throughput in the 200-client types mix over fsyncing in the loop's thread
(0007's Redis-``beforeSleep`` way, which left the server idle in ``fsync`` 37% of the
time). :meth:`DurableGate.close` stops the helper thread.

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
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["DurableGate"]

log = logging.getLogger(__name__)

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


class _SyncThread:
    """The gate's helper thread: runs one ``sync`` call at a time and hands its end back.

    ``run(sync, done)`` queues a round: the thread calls ``sync()`` and then ``done()``
    (whatever ``sync`` raised is logged: the log records its own failures, and the gate
    learns them from the log). ``done`` must hand itself over to the loop (it runs on this
    thread). One plain thread and a C queue, not an executor: a round then costs no
    ``concurrent.futures`` future, no asyncio future chained to it and no done-callbacks
    (~30% of a lone durable write's loop-side cost, docs/decisions/0027).
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Callable[[], None]] | None]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="memvec-gate-fsync", daemon=True)
        self._thread.start()

    def run(self, sync: Callable[[], object], done: Callable[[], None]) -> None:
        self._jobs.put((sync, done))

    def stop(self) -> None:
        """Finish the round in flight (and any queued), then end the thread."""
        self._jobs.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            sync, done = job
            try:
                sync()
            except Exception:  # the log keeps its failure; the gate reads it from the log
                log.exception("durability sync round failed")
            try:
                done()
            except Exception:
                log.exception("durability sync round: answering the loop failed")


class DurableGate:
    """Durability waits of one event loop's clients, coalesced (see the module docstring).

    A gate serves the loop it is first used on, for good: use it from that loop's thread
    only.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._requested = 0  # the highest seq asked of the log
        self._wanted = 0  # the highest seq a waiter waits for
        self._scheduled = False  # a request is due at the next loop iteration
        self._waiters: list[tuple[int, int, asyncio.Future[_Outcome] | _Notify]] = []
        self._ids = itertools.count()
        self._epoch = 0
        self._syncing = False  # a local sync round is running on the helper thread
        self._syncer: _SyncThread | None = None  # made by the first local sync
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop served, once known

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The loop this gate serves: the one running at its first wait, kept. Python 3.11's
        ``asyncio.get_running_loop`` makes a ``getpid`` system call (a check for a fork)
        on every call, one per durable write on the inline path (~3% of the server's
        samples in the 200-client types mix)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def close(self) -> None:
        """Stop the helper thread of local syncs (after a round in flight). Idempotent."""
        syncer, self._syncer = self._syncer, None
        if syncer is not None:
            syncer.stop()

    async def wait(self, seq: int) -> None:
        """Return once ``seq`` is durable; raise as the log's future for it would."""
        if self.covers(seq):
            return
        loop = self._running_loop()
        waiter: asyncio.Future[_Outcome] = loop.create_future()
        self._enqueue(seq, waiter, loop)
        outcome = await waiter
        if outcome is not None:
            await asyncio.wrap_future(outcome)

    def covers(self, seq: int) -> bool:
        """Whether ``seq`` is durable now (always, without a log): what every wait here
        asks first. A caller that holds replies may send them at once when it is."""
        log = self._engine.transaction_log
        return log is None or seq < log.durable_position.seq

    def notify(self, seq: int, callback: Callable[[_Outcome, BaseException | None], None]) -> None:
        """Call ``callback(None, None)`` on the loop once ``seq`` is durable (at once if it
        is, or if there is no log), without a future or a task: the inline command path's
        wait (store.server.connection). On a failure it is called with the log's own
        future for ``seq`` to await, or the exception: the caller then waits as
        :meth:`wait` would."""
        if self.covers(seq):
            callback(None, None)
            return
        self._enqueue(seq, _Notify(callback), self._running_loop())

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
        log = self._engine.transaction_log
        if log is not None and log.syncs_locally:
            if self._syncing:  # one round at a time: the next starts when it finishes
                return
            self._requested = seq
            self._syncing = True
            if self._syncer is None:
                self._syncer = _SyncThread()
            epoch = self._epoch

            def synced() -> None:  # on the helper thread
                try:
                    loop.call_soon_threadsafe(self._synced, loop, epoch, seq)
                except RuntimeError:  # the loop closed (shutdown): nobody waits any more
                    pass

            self._syncer.run(log.sync, synced)
            return
        self._requested = seq
        self._answer(loop, seq)

    def _synced(self, loop: asyncio.AbstractEventLoop, epoch: int, seq: int) -> None:
        """A local sync round finished (on the loop): answer its waiters, start the next."""
        self._syncing = False
        if epoch != self._epoch:  # the log went back meanwhile: its answer is void
            if self._wanted > self._requested:
                self._request(loop)
            return
        self._answer(loop, seq)
        if not self._syncing and self._wanted > self._requested:
            self._request(loop)

    def _answer(self, loop: asyncio.AbstractEventLoop, seq: int) -> None:
        """Answer the waiters up to ``seq``: at once when the log says ``seq`` is durable
        (its durable position only moves after a successful sync), else from the log's
        durability future for it."""
        if self.covers(seq):
            self._release(seq)
            return
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
        self._release(seq)

    def _release(self, seq: int) -> None:
        """Every waiter up to ``seq`` (durable) is answered; the next request is made."""
        waiters = self._waiters
        while waiters and waiters[0][0] <= seq:
            _, _, waiter = heapq.heappop(waiters)
            if not waiter.done():  # not cancelled (its client went away)
                waiter.set_result(None)
        if waiters and self._wanted > self._requested:
            self._request(self._running_loop())

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
