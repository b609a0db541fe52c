"""A reply that waits for its ANN walk on the server's walker thread (docs/decisions/0044).

A ``lockfree`` handler whose :class:`~store.commands.context.ExecContext` has a ``walker``
(the server's ``store.index.hnsw_graph.Walker``, set only by a caller that can hold a
reply's place) may queue its walk there and return a :class:`WalkLater` instead of its
reply. The walk runs on the walker's thread, never taking the GIL, while the event loop
serves other clients. When ``walker.take()`` gives the ``WalkLater`` back (it is the walk's
token) with the walk's (label, distance) pairs, the caller passes them to
:meth:`store.engine.Engine.finish_walk`, which runs :attr:`WalkLater.finish` on the loop and
gives what the handler would have returned for the request, or its error, as
``Engine.submit`` does.

What the reply shows is the state after the walk: documents deleted or expired meanwhile
are left out of the page, as they are when a write lands between a lockfree search's walk
and its page on another thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["WalkLater"]


class WalkLater:
    """A handler's reply not made yet: its walk is queued on the server's walker.

    ``finish(pairs)`` (set by the handler) returns the reply, or raises a ``StoreError``,
    from the walk's pairs; ``command`` names the command for its error. ``answer``,
    ``started`` and ``key`` are the caller's: where the reply goes, when the command
    started, and what it counts the walk's time under.
    """

    __slots__ = ("answer", "command", "finish", "key", "started")

    def __init__(self, command: str) -> None:
        self.command = command
        self.finish: Callable[[list[tuple[int, float]]], Any] | None = None
        self.answer: Callable[..., None] | None = None
        self.started = 0
        self.key: Any = None
