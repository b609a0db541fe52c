"""Blocking commands' contract with the server: :class:`WouldBlock`, and timeout parsing.

A blocking command (BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN, BZMPOP, XREAD BLOCK,
XREADGROUP BLOCK, ...) is an ordinary engine handler. When it can be served now it acts
like its non-blocking twin (and logs that twin: BLPOP is logged as LPOP, so replay never
blocks). When it cannot:

* if ``ctx.may_block`` (a client's top-level call), it returns :class:`WouldBlock` and
  changes nothing. The server (:mod:`store.server.blocking`) parks the client, and runs
  the *same* call again (under the engine lock, as a fresh call with ``ctx.may_block``
  and ``ctx.resume`` set to the ``resume`` of the last :class:`WouldBlock` the call
  returned) whenever one of ``keys`` is written, in FIFO order of the clients blocked on
  that key, until the call returns something else or ``timeout_ms`` (counted from the
  first call) passes; then it answers ``timeout_reply``. ``timeout_ms == 0`` waits
  forever. With ``key_type``, only a key holding that type wakes the call. A re-run
  that answers is a call like any other: if it wrote (BLPOP popped) it is logged and
  acknowledged once durable.
* otherwise (inside MULTI/EXEC, a script, replay, the embedded ``Engine.execute``) it
  answers ``timeout_reply`` at once.

Keys are "written" when the keyspace reports them changed (``Keyspace.on_change`` ->
``Engine.key_listeners``): client writes, MULTI/EXEC, replication apply, another blocked
client's push (BLMOVE into a key someone waits on) and deletes alike. A key that stops
existing is not re-run for: a call waiting on an absent key cannot be served by it.

This is Redis's own model (a blocked client's command is re-executed when a key it waits
on is signalled as ready), so the handler stays the one place that knows its semantics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import CommandError
from ..numbers import INT64_MAX, parse_float64, parse_int64


@dataclass(frozen=True, slots=True)
class WouldBlock:
    """The handler's answer "nothing to serve yet": park the client on ``keys``."""

    keys: tuple[bytes, ...]
    timeout_ms: int  # 0: forever
    timeout_reply: Any = None  # what to answer on timeout (nil, or a RESP3 null array ...)
    # extra state the handler wants back on re-run, as ctx.resume (e.g. XREAD's resolved
    # "$" ids)
    resume: dict[str, Any] = field(default_factory=dict)
    # the TYPE a written key must hold to wake the call ("list" for BLPOP); None: any
    # change of the key wakes it, its deletion included (XREADGROUP)
    key_type: str | None = None


def parse_timeout(raw: bytes, *, seconds: bool = True) -> int:
    """A blocking command's timeout in milliseconds (0: forever), with Redis's errors
    (``getTimeoutFromObjectOrReply``): seconds as a float (BLPOP, BZPOPMIN), rounded up
    to the millisecond, or whole milliseconds (``seconds=False``: XREAD BLOCK)."""
    if seconds:
        value = parse_float64(raw)
        if value is None:
            raise CommandError("timeout is not a float or out of range")
        ms = value * 1000.0
        if ms > INT64_MAX:
            raise CommandError("timeout is out of range")
        timeout = math.ceil(ms) if ms >= 0 else -1
    else:
        parsed = parse_int64(raw)
        if parsed is None:
            raise CommandError("timeout is not an integer or out of range")
        timeout = parsed
    if timeout < 0:
        raise CommandError("timeout is negative")
    return timeout
