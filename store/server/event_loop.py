"""Which event loop runs the RESP server: uvloop when installed, else asyncio's own.

``--event-loop`` (``ServerConfig.event_loop``) picks one of :data:`EVENT_LOOPS`:

- ``auto`` (the default): uvloop if it imports, else asyncio's selector loop;
- ``uvloop``: uvloop, or a :class:`ValueError` that says to install it;
- ``asyncio``: the standard library's loop (for comparison, or where uvloop does not build).

Both run the same server code and give the same replies (``tests/server/test_event_loop.py``
compares the bytes). uvloop costs ~6 µs less server CPU per request (a ``PING`` 26 -> 20 µs,
a quarter of it; docs/decisions/0029).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["EVENT_LOOPS", "kind_of", "loop_name", "new_event_loop", "run"]

EVENT_LOOPS = ("auto", "uvloop", "asyncio")

T = TypeVar("T")


def loop_name(choice: str) -> str:
    """The loop ``choice`` resolves to on this machine: ``"uvloop"`` or ``"asyncio"``.

    Raises :class:`ValueError` for a name not in :data:`EVENT_LOOPS`, or for ``uvloop``
    when it is not installed.
    """
    choice = choice.lower()
    if choice not in EVENT_LOOPS:
        raise ValueError(f"{choice} is not one of {', '.join(EVENT_LOOPS)}")
    available = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop" and not available:
        raise ValueError("uvloop is not installed: pip install uvloop, or use --event-loop asyncio")
    if choice == "asyncio" or not available:
        return "asyncio"
    return "uvloop"


def kind_of(loop: asyncio.AbstractEventLoop | None) -> str:
    """``"uvloop"`` or ``"asyncio"``: the kind of a running ``loop`` (None: not started)."""
    if loop is not None and type(loop).__module__.startswith("uvloop"):
        return "uvloop"
    return "asyncio"


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    """A new loop of the kind ``choice`` resolves to (see :func:`loop_name`)."""
    if loop_name(choice) == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T], choice: str) -> T:
    """``asyncio.run(main)`` on a loop of the kind ``choice`` resolves to."""
    with asyncio.Runner(loop_factory=lambda: new_event_loop(choice)) as runner:
        return runner.run(main)
