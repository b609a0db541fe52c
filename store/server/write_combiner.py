"""Key writes from different clients, combined into one engine submit per loop iteration.

Contract of :meth:`WriteCombiner.submit`: the result is exactly what
``Engine.submit(spec, args, protocol=...)`` would have returned for the command, applied
at the next loop iteration together with every other client's command queued in this one
(``Engine.submit_many``: one engine-lock hold, the vectors of the batch inserted together,
built on every core once the batch is large enough; see ``store.index.hnsw``). Only
:data:`store.engine.BATCHABLE_WRITES` are accepted (HSET, DEL ...: no reply depends on
another client's command of the batch beyond the order they run in, and none blocks).

Why (docs/decisions/0007-request-path-fixed-cost.md): under the 200-client vector mix
half of the loop thread is the HNSW insert of each HSET, one vector at a time, and the
loop does nothing else meanwhile. Inserting the HSETs that arrived in one iteration as
one batch lets hnswlib use both cores for them. A client's command is not acknowledged
before it ran and is durable (the connection then waits on the
:class:`store.server.durable_gate.DurableGate` as for any write), so delaying its apply
by one iteration changes what other clients may see only within the window in which the
command was not yet answered: the order of the log is the order of application.

Commands run in the order they were queued; each client has at most one queued (it
awaits its result before running its next command), so a client's own commands keep
their order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..commands.table import CommandSpec
from ..engine import BATCHABLE_WRITES, Submitted
from ..errors import CommandError

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["Answer", "WriteCombiner"]

log = logging.getLogger("memvec.server")

Answer = Callable[[Submitted, int], None]
"""Called on the loop with a queued command's outcome and the ns it ran (a combined
write's share of its batch's apply time; a search lane command's submit): sets a future
(:meth:`WriteCombiner.submit`) or answers an inline client (the search lane's too)."""

# (spec, args, protocol, who is told the outcome)
_Queued = tuple[CommandSpec, list[bytes], int, Answer]


class WriteCombiner:
    """Queued key writes of one event loop's clients (see the module docstring).

    Use from the loop's thread only.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queued: list[_Queued] = []
        self.batches = 0  # submit_many calls made (INFO memvec_combined_write_batches)
        self.combined = 0  # commands that went through them (memvec_combined_writes)

    async def submit(
        self, spec: CommandSpec, args: list[bytes], protocol: int
    ) -> tuple[Submitted, int]:
        """Apply the command with the others of this iteration; its outcome and its share
        of the batch's apply time (ns, for the command statistics)."""
        future: asyncio.Future[tuple[Submitted, int]] = asyncio.get_running_loop().create_future()

        def answer(done: Submitted, share: int) -> None:
            if not future.done():  # not cancelled (its client went away)
                future.set_result((done, share))

        self.enqueue(spec, args, protocol, answer)
        return await future

    def enqueue(self, spec: CommandSpec, args: list[bytes], protocol: int, answer: Answer) -> None:
        """Queue the command for the next iteration's batch; ``answer`` is called on the
        loop, from that batch, with its outcome (the inline path's way: no future, no task
        step; store.server.inline_commands). ``answer`` must not raise: it is one client's
        and the others of the batch are answered after it (an exception is logged)."""
        if spec.name not in BATCHABLE_WRITES:
            raise ValueError(f"{spec.name} cannot be combined with other clients' writes")
        if not self._queued:
            asyncio.get_running_loop().call_soon(self._run)
        self._queued.append((spec, args, protocol, answer))

    def _run(self) -> None:
        queued, self._queued = self._queued, []
        # submit_many takes one protocol: split where it changes (clients rarely mix)
        start = 0
        while start < len(queued):
            protocol = queued[start][2]
            end = start + 1
            while end < len(queued) and queued[end][2] == protocol:
                end += 1
            self._apply(queued[start:end], protocol)
            start = end

    def _apply(self, queued: list[_Queued], protocol: int) -> None:
        calls = [(spec, args) for spec, args, _, _ in queued]
        started = time.perf_counter_ns()
        results: list[Any]
        try:
            results = self._engine.submit_many(calls, protocol=protocol)
        except Exception as exc:  # a bug: answer every client, keep serving
            log.exception("combined writes failed unexpectedly")
            error = CommandError(f"internal error in a combined write: {type(exc).__name__}")
            results = [Submitted(None, None, error)] * len(calls)
        share = (time.perf_counter_ns() - started) // len(calls)
        self.batches += 1
        self.combined += len(calls)
        for (_, _, _, answer), done in zip(queued, results, strict=True):
            try:
                answer(done, share)
            except Exception:  # one client's bug: the others still get their answers
                log.exception("answering a combined write failed")
