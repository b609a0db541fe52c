"""Long searches of the inline path, answered from worker threads: the search lane.

Contract of :meth:`SearchLane.enqueue`: ``answer(done, took_ns)`` is called on the event
loop with exactly what ``Engine.submit(spec, args, protocol=...)`` returns for the
command (an unexpected exception becomes an internal-error reply, and is logged), run on
a thread of the executor the lane was given (the server's search pool, which also runs
the searches clients' tasks offload), and the wall time that call took. Queued commands
start in the order they were queued. Only ``lockfree`` commands (FT.SEARCH) are accepted: they
take the engine lock themselves, in short phases, and their ANN walk or scan releases the
GIL.

Why (docs/decisions/0040-long-searches-on-the-search-lane.md): every search of the
inline path runs on the loop thread, so with 8 clients the server never uses more than
one core, and the other is half idle. A worker thread costs each search its hand-off
(the queue, the worker's wake-up, the GIL taken twice, the answer's
``call_soon_threadsafe``; a bare round trip between two threads is ~30 µs of CPU on the
reference machine): as much as the overlap saves on a search of ~350 µs (20k vectors at
EF_RUNTIME 160, 100k at 80), less on one of ~600 µs or more (100k at EF_RUNTIME 160 and
320: 36-78% more queries a second with 8 clients), whose walk then overlaps the loop's
work on the other core. So the lane takes a search only when its query has been seen to cost at
least ``min_cost_ns`` of CPU
(:meth:`SearchLane.takes`, from :meth:`SearchLane.note` of earlier runs of the same
query text on the same index), and only while other clients share the server (the
caller's rule): alone, a client would only wait for the hop.

The cost of a search is its thread's CPU time (``time.thread_time_ns``: the walk's and
the Python around it, not the time spent waiting for the GIL or a core; measured while
other clients share the server, ~1 µs a search, so never a lone client's), and a query is
long when its last two runs both cost ``min_cost_ns`` or more: one slow run (the first,
which parses the query and keeps its plan; a cold cache) does not send it to the lane,
and one short run brings it back. The table of query texts is bounded
(:data:`COSTS_KEPT`, forgotten all at once past it, like ``SearchIndex.alone_scans``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from ..engine import Submitted
from ..errors import CommandError
from .write_combiner import Answer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..commands.table import CommandSpec
    from ..engine import Engine

__all__ = ["COSTS_KEPT", "QUERY_TEXT_MAX", "SearchLane"]

log = logging.getLogger("memvec.server")

COSTS_KEPT = 1024
"""Query texts whose cost :class:`SearchLane` remembers; past it, it forgets them all."""

QUERY_TEXT_MAX = 4096
"""The longest index name and query text (bytes, together) whose cost is remembered: the
table holds at most :data:`COSTS_KEPT` x this much; a longer one never goes to the lane."""


class SearchLane:
    """The inline path's long searches, run on ``pool`` (see the module docstring).

    ``min_cost_ns`` None: the lane never takes a search; 0: it takes every search.
    :meth:`start` on the event loop before the first :meth:`enqueue`; after :meth:`close`
    it takes nothing more (a queued search still runs; its answer is dropped if the loop is
    gone). The pool is the caller's to shut down, after :meth:`close`.
    """

    def __init__(self, engine: Engine, pool: Executor, min_cost_ns: int | None) -> None:
        self._engine = engine
        self._pool = pool
        self._open = False  # started and not closed
        self.min_cost_ns = min_cost_ns
        # (index, query text) -> (the last run's CPU ns, the lesser of the last two; 0
        # after one run)
        self._costs: dict[tuple[bytes, bytes], tuple[int, int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.searches = 0  # commands answered through the lane (INFO memvec_lane_searches)

    # -- which searches ------------------------------------------------------------------
    def takes(self, args: Sequence[bytes]) -> bool:
        """Whether FT.SEARCH ``args`` is long enough for the lane: the last two runs of its
        query text on this index each cost at least ``min_cost_ns`` of CPU (every search
        when it is 0, none when it is None)."""
        least = self.min_cost_ns
        if least is None or not self._open or len(args) < 3:
            return False  # off, not started or closed, or no query
        if least == 0:
            return True
        seen = self._costs.get((args[1], args[2]))
        return seen is not None and seen[1] >= least

    def note(self, args: Sequence[bytes], cpu_ns: int) -> None:
        """Count a run of FT.SEARCH ``args`` that cost ``cpu_ns`` of its thread's CPU.
        Called on the loop only."""
        if len(args) < 3 or len(args[1]) + len(args[2]) > QUERY_TEXT_MAX:
            return
        key = (args[1], args[2])
        costs = self._costs
        seen = costs.get(key)
        if seen is None:
            if len(costs) >= COSTS_KEPT:
                costs.clear()
            costs[key] = (cpu_ns, 0)
        else:
            costs[key] = (cpu_ns, min(seen[0], cpu_ns))

    # -- running them --------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Take searches from now on; answers go to ``loop``."""
        self._loop = loop
        self._open = True

    def enqueue(self, spec: CommandSpec, args: list[bytes], protocol: int, answer: Answer) -> None:
        """Run the command on a lane thread; ``answer`` is called on the loop with its
        outcome. ``answer`` must not raise (an exception is logged)."""
        if "lockfree" not in spec.flags:
            raise ValueError(f"{spec.name} cannot run on the search lane")
        if not self._open:
            raise RuntimeError("the search lane is not started, or closed")
        self._pool.submit(self._run, spec, args, protocol, answer)

    def close(self) -> None:
        """Take no more searches (does not wait for the queued ones)."""
        self._open = False

    def _run(self, spec: CommandSpec, args: list[bytes], protocol: int, answer: Answer) -> None:
        """One search, on a pool thread; its outcome goes to the loop."""
        started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
        try:
            done = self._engine.submit(spec, args, protocol=protocol)
        except Exception as exc:  # a bug in the handler: answer it, keep serving
            log.exception("%s failed unexpectedly on the search lane", spec.name)
            done = Submitted(
                None, None, CommandError(f"internal error in {spec.name}: {type(exc).__name__}")
            )
        cpu = time.thread_time_ns() - cpu_started
        took = time.perf_counter_ns() - started
        loop = self._loop
        assert loop is not None
        try:
            loop.call_soon_threadsafe(self._answered, args, cpu, answer, done, took)
        except RuntimeError:  # the loop is closed: the server stopped, nobody waits
            return

    def _answered(
        self, args: list[bytes], cpu: int, answer: Answer, done: Submitted, took: int
    ) -> None:
        self.searches += 1
        self.note(args, cpu)
        try:
            answer(done, took)
        except Exception:  # one client's failure must not stop the lane's other answers
            log.exception("answering a search from the lane failed")
