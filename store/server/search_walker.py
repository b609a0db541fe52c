"""Kept KNN plans' HNSW walks on a thread of the graph's own: the search walker.

Contract: :attr:`SearchWalker.walker` is the ``store.index.hnsw_graph.Walker`` the inline
path passes to ``Engine.submit`` (None when off, not started, closed, or the graph
extension did not build). A command that returns a
:class:`~store.commands.walk_later.WalkLater` has its walk queued there; the caller sets
the ``WalkLater``'s ``answer`` and ``started``, and :meth:`SearchWalker._taken` (on the
event loop, when the walker's eventfd is readable) calls ``answer(done, took_ns)`` with
``Engine.finish_walk``'s outcome (an unexpected exception becomes an internal-error reply,
and is logged) and the wall time since ``started``.

Why (docs/decisions/0044): on the inline path the loop ran a search's walk itself, so
with 8 clients at 20k vectors (a ~130 us walk of the ~240 us of CPU a query took) the
loop's one core bounded the server while the machine stood a third idle. The walker's
thread walks without the GIL, under the graph's own lock, while the loop serves the other
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

if TYPE_CHECKING:
    from ..commands.walk_later import WalkLater
    from ..engine import Engine

__all__ = ["SearchWalker"]

log = logging.getLogger("memvec.server")


class SearchWalker:
    """The server's walker thread and its completions on the loop (see the module).

    ``threads`` 0, or no ``hnsw_graph`` extension: :attr:`walker` stays None. After
    :meth:`close` walks queued before are still walked; their answers are dropped.
    """

    def __init__(self, engine: Engine, threads: int) -> None:
        self._engine = engine
        self._threads = threads if hnsw_graph is not None else 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.walker: Any = None
        self.searches = 0  # commands answered after a walk here (INFO memvec_walker_searches)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the thread; its walks are answered on ``loop``."""
        if not self._threads or self.walker is not None:
            return
        assert hnsw_graph is not None
        walker = hnsw_graph.Walker(self._threads)
        loop.add_reader(walker.fd, self._taken)
        self._loop = loop
        self.walker = walker

    def close(self) -> None:
        """Take no more walks; stop the thread once the queued ones are walked."""
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
        for later, pairs in walker.take():
            later: WalkLater  # type: ignore[no-redef]
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
