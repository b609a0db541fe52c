"""Kept KNN plans' HNSW walks on threads that never take the GIL: the search walker.

Contract: :attr:`SearchWalker.walker` is the ``store.index.hnsw_graph.Walker`` the inline
path passes to ``Engine.submit`` (None when off, not started, closed, or the graph
extension did not build). A command that returns a
:class:`~store.commands.walk_later.WalkLater` has its walk queued there; the caller sets
the ``WalkLater``'s ``answer`` and ``started``, and :meth:`SearchWalker._taken` (on the
event loop, when the walker's eventfd is readable) calls ``answer(done, took_ns)`` with
``Engine.finish_walk``'s outcome (an unexpected exception becomes an internal-error reply,
and is logged) and the wall time since ``started``.

Which searches: while other clients share the server (the caller's rule), a search
whose query text, on its index, is not known to walk for less than ``min_walk_ns``
(:meth:`SearchWalker.takes`): the walker measures each walk (its thread's CPU time),
and the last walk of each query text decides. A shorter walk
stays on the loop, where the hand-off (~25 µs of CPU a search) would cost more than the
overlap saves (on 0044's KVM guest at 20k vectors, EF 10: a ~46 µs walk, 8% fewer
queries a second with the walker; EF 40, ~104 µs: 10% more; on 0046's Firecracker guest,
whose thread wake-ups cost more, the two break even at a ~250 µs walk); every
:data:`REPROBE_EVERY`-th search of such a query goes to the walker anyway, to measure it
again (the machine's phase stretches walks).

Why (docs/decisions/0044): on the inline path the loop ran a search's walk itself, so
with 8 clients at 20k vectors (a ~130 us walk of the ~240 us of CPU a query took) the
loop's one core bounded the server while the machine stood a third idle. The walker's
threads walk without the GIL, under the graph's own lock, while the loop serves the other
clients; the hand-off is a condition variable and an eventfd, not the search lane's
Python thread (0040), which cost each search ~30 us and two GIL acquisitions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from ..engine import Submitted
from ..errors import CommandError
from ..index.blob_graph import hnsw_graph
from .search_lane import COSTS_KEPT, QUERY_TEXT_MAX

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..commands.walk_later import WalkLater
    from ..engine import Engine

__all__ = ["REPROBE_EVERY", "SearchWalker"]

log = logging.getLogger("memvec.server")

REPROBE_EVERY = 64
"""A query text known to walk for less than ``min_walk_ns`` still goes to the walker
once in this many searches, so its walk is measured again."""


class SearchWalker:
    """The server's walker threads and their walks' answers on the loop (see the module).

    ``threads`` 0, or no ``hnsw_graph`` extension: :attr:`walker` stays None. After
    :meth:`close` walks queued before are still walked; their answers are dropped.
    ``min_walk_ns``: see the module docstring (0: every search).
    """

    def __init__(self, engine: Engine, threads: int, min_walk_ns: int = 0) -> None:
        self._engine = engine
        self._threads = threads if hnsw_graph is not None else 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.walker: Any = None
        self.min_walk_ns = min_walk_ns
        # (index, query text) -> [the last walk's ns, searches kept on the loop since]
        self._walks: dict[tuple[bytes, bytes], list[int]] = {}
        self.searches = 0  # commands answered after a walk here (INFO memvec_walker_searches)

    def takes(self, args: Sequence[bytes]) -> bool:
        """Whether FT.SEARCH ``args`` may go to the walker: its query text on its index is
        not known to walk for less than ``min_walk_ns`` (or this is its re-measure)."""
        if len(args) < 3:
            return False
        seen = self._walks.get((args[1], args[2]))
        if seen is None or seen[0] >= self.min_walk_ns:
            return True
        seen[1] += 1
        if seen[1] < REPROBE_EVERY:
            return False
        seen[1] = 0
        return True

    def note(self, key: tuple[bytes, bytes], walk_ns: int) -> None:
        """Count a walk of query ``key`` (index, query text) that took ``walk_ns``."""
        if len(key[0]) + len(key[1]) > QUERY_TEXT_MAX:
            return
        walks = self._walks
        seen = walks.get(key)
        if seen is None:
            if len(walks) >= COSTS_KEPT:
                walks.clear()
            walks[key] = [walk_ns, 0]
        else:
            seen[0] = walk_ns

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the threads; their walks are answered on ``loop``."""
        if not self._threads or self.walker is not None:
            return
        assert hnsw_graph is not None
        walker = hnsw_graph.Walker(self._threads)
        loop.add_reader(walker.fd, self._taken)
        self._loop = loop
        self.walker = walker

    def close(self) -> None:
        """Take no more walks; stop the threads once the queued ones are walked."""
        walker, self.walker = self.walker, None
        if walker is None:
            return
        assert self._loop is not None
        if not self._loop.is_closed():
            self._loop.remove_reader(walker.fd)
        walker.stop()
        walker.take()  # the queued walks' tokens, unanswered: nobody waits for them now

    def _taken(self) -> None:
        """The finished walks (the eventfd is readable): answer each one's command."""
        walker = self.walker
        if walker is None:
            return
        engine = self._engine
        clock = time.perf_counter_ns
        for later, pairs, walk_ns in walker.take():
            later: WalkLater  # type: ignore[no-redef]
            if later.key is not None:
                self.note(later.key, walk_ns)
            try:
                done = engine.finish_walk(later, pairs)
            except Exception as exc:  # a bug in the handler: answer it, keep serving
                log.exception("%s failed unexpectedly after its walk", later.command)
                error = CommandError(f"internal error in {later.command}: {type(exc).__name__}")
                done = Submitted(None, None, error)
            self.searches += 1
            answer = later.answer
            assert answer is not None
            try:
                answer(done, clock() - later.started)
            except Exception:  # one client's failure must not stop the others' answers
                log.exception("answering a search after its walk failed")
