"""Blocking commands' contract with the server: :class:`WouldBlock`.

A blocking command (BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN, BZMPOP, XREAD BLOCK,
XREADGROUP BLOCK, ...) is an ordinary engine handler. When it can be served now it acts
like its non-blocking twin (and logs that twin: BLPOP is logged as LPOP, so replay never
blocks). When it cannot:

* if ``ctx.may_block`` (a client's top-level call), it returns :class:`WouldBlock` and
  changes nothing. The server parks the client, and runs the *same* call again (under the
  engine lock, as a fresh call) whenever one of ``keys`` is written, in FIFO order of the
  clients blocked on that key, until the call returns something else or ``timeout_ms``
  passes; then it answers ``timeout_reply``. ``timeout_ms == 0`` waits forever.
* otherwise (inside MULTI/EXEC, a script, replay) it answers ``timeout_reply`` at once.

This is Redis's own model (a blocked client's command is re-executed when a key it waits
on is signalled as ready), so the handler stays the one place that knows its semantics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class WouldBlock:
    """The handler's answer "nothing to serve yet": park the client on ``keys``."""

    keys: tuple[bytes, ...]
    timeout_ms: int  # 0: forever
    timeout_reply: Any = None  # what to answer on timeout (nil, or a RESP3 null array ...)
    # extra state the handler wants back on re-run (e.g. XREAD's resolved "$" ids)
    resume: dict[str, Any] = field(default_factory=dict)
