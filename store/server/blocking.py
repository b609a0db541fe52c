"""The parking lot: clients blocked by BLPOP, BZPOPMIN, XREAD BLOCK and every other
blocking command, and the pass that serves them when their keys are written.

The contract with command handlers is :mod:`store.commands.blocking` (``WouldBlock``);
this module is the server's half, generic over every type:

* A connection whose call answered :class:`WouldBlock` awaits :meth:`ParkingLot.wait`.
  The call is parked on each of its keys, in FIFO order per key; the engine lock is not
  held while it waits, and the client's earlier replies have been sent.
* Every key change the engine reports (``Engine.key_listeners``: client writes,
  MULTI/EXEC, replication apply, expiry, a served client's own push) of a key someone
  waits on is queued as *ready*. The listener only appends to a deque (it may run on any
  thread, under the engine lock); serving happens on the event loop: after the command
  that wrote (the connection calls :meth:`serve` before running its next command, as
  Redis's ``handleClientsBlockedOnKeys`` runs after each command) and in any case soon
  after (a callback scheduled on the loop: replication, expiry, end of a batch).
* Serving a ready key re-runs the parked calls on it in FIFO order (``Engine.submit`` with
  ``may_block`` and the call's ``resume``). A call that still cannot be served keeps its
  place; one that answers leaves the lot and its connection carries on with the reply, a
  write like any other (logged, answered once durable). Writes a served call makes
  (BLMOVE's push) queue their keys and are served in the same pass. If the
  :class:`WouldBlock` names ``key_type``, a key holding another type (or none) does not
  wake the call, as Redis does not wake a BLPOP for a key that became a string.
* A call ends with its ``timeout_reply`` when its timeout passes (counted from the first
  call) or on ``CLIENT UNBLOCK id TIMEOUT``; with ``-UNBLOCKED`` on ``CLIENT UNBLOCK id
  ERROR``; silently when its client disconnects; and, at shutdown, with its timeout reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..commands.blocking import WouldBlock
from ..commands.table import CommandSpec
from ..engine import Engine, Submitted, now_ms
from ..errors import CommandError, StoreError

if TYPE_CHECKING:
    from .connection import Connection

log = logging.getLogger("memvec.server")


class UnblockedError(StoreError):
    """A blocked call ended by ``CLIENT UNBLOCK id ERROR``."""

    prefix = "UNBLOCKED"

    def __init__(self, message: str = "client unblocked via CLIENT UNBLOCK") -> None:
        super().__init__(message)


@dataclass(eq=False)
class Parked:
    """One blocked call: whose, what, what it waits on, and the future its connection
    awaits (a :class:`store.engine.Submitted`)."""

    conn: Connection
    spec: CommandSpec
    args: list[bytes]
    blocked: WouldBlock
    future: asyncio.Future[Submitted]
    keys: tuple[bytes, ...] = ()
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class ParkingLot:
    """Every blocked call of one server (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.waiting: dict[bytes, list[Parked]] = {}  # key -> calls, FIFO
        self.by_client: dict[int, Parked] = {}
        self.ready: deque[bytes] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False

    def __len__(self) -> int:
        return len(self.by_client)

    def is_blocked(self, conn: Connection) -> bool:
        return conn.id in self.by_client

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        if self.key_changed not in self.engine.key_listeners:
            self.engine.key_listeners.append(self.key_changed)

    def stop(self) -> None:
        """Shutdown: every blocked call answers its timeout reply; no more wake-ups."""
        if self.key_changed in self.engine.key_listeners:
            self.engine.key_listeners.remove(self.key_changed)
        for parked in list(self.by_client.values()):
            self._finish(parked, Submitted(parked.blocked.timeout_reply))

    # -- key readiness (any thread, under the engine lock) ---------------------------------
    def key_changed(self, key: bytes) -> None:
        if key in self.waiting:
            self.ready.append(key)
            if not self._scheduled and self._loop is not None:
                self._scheduled = True
                try:
                    self._loop.call_soon_threadsafe(self.serve)
                except RuntimeError:  # the loop closed (shutdown)
                    self._scheduled = False

    # -- parking ---------------------------------------------------------------------------
    async def wait(
        self, conn: Connection, spec: CommandSpec, args: list[bytes], blocked: WouldBlock
    ) -> Submitted:
        """Park ``conn``'s call until it is served, times out, is unblocked or its client
        goes; returns what to answer."""
        loop = asyncio.get_running_loop()
        parked = Parked(conn, spec, args, blocked, loop.create_future())
        parked.keys = tuple(dict.fromkeys(blocked.keys))
        for key in parked.keys:
            self.waiting.setdefault(key, []).append(parked)
        self.by_client[conn.id] = parked
        if blocked.timeout_ms > 0:
            parked.timer = loop.call_later(blocked.timeout_ms / 1000, self._time_out, parked)
        if conn.closing:  # went while its call ran
            self._finish(parked, Submitted(None))
        return await parked.future

    def _time_out(self, parked: Parked) -> None:
        self._finish(parked, Submitted(parked.blocked.timeout_reply))

    def _finish(self, parked: Parked, outcome: Submitted) -> None:
        """Take ``parked`` out of the lot and hand ``outcome`` to its connection."""
        if self.by_client.get(parked.conn.id) is parked:
            del self.by_client[parked.conn.id]
        for key in parked.keys:
            calls = self.waiting.get(key)
            if calls is not None:
                try:
                    calls.remove(parked)
                except ValueError:
                    pass
                if not calls:
                    del self.waiting[key]
        if parked.timer is not None:
            parked.timer.cancel()
            parked.timer = None
        if not parked.future.done():
            parked.future.set_result(outcome)

    def unblock(self, client_id: int, *, error: bool) -> bool:
        """``CLIENT UNBLOCK``: end a blocked call with its timeout reply, or with
        ``-UNBLOCKED`` (``error``). False if that client is not blocked."""
        parked = self.by_client.get(client_id)
        if parked is None:
            return False
        outcome = (
            Submitted(None, None, UnblockedError())
            if error
            else Submitted(parked.blocked.timeout_reply)
        )
        self._finish(parked, outcome)
        return True

    def disconnected(self, conn: Connection) -> None:
        """The client went: forget its blocked call, if any."""
        parked = self.by_client.get(conn.id)
        if parked is not None:
            self._finish(parked, Submitted(None))

    # -- serving (the event loop) ----------------------------------------------------------
    def serve(self) -> None:
        """Re-run the calls parked on every ready key, FIFO per key, until no key is
        ready (served calls' own writes included)."""
        self._scheduled = False
        ready = self.ready
        while ready:
            key = ready.popleft()
            while ready and ready[0] == key:  # one write often reports a key twice
                ready.popleft()
            for parked in list(self.waiting.get(key, ())):
                if parked.future.done() or parked.conn.closing:
                    continue
                wanted = parked.blocked.key_type
                if wanted is not None and (self.engine.keyspace.type_name(key, now_ms()) != wanted):
                    continue
                self._rerun(parked)

    def _rerun(self, parked: Parked) -> None:
        conn = parked.conn
        try:
            done = self.engine.submit(
                parked.spec,
                parked.args,
                protocol=conn.protocol,
                may_block=True,
                resume=parked.blocked.resume,
            )
        except Exception as exc:  # a bug in a handler: answer it, keep serving the others
            log.exception("re-running blocked %s failed unexpectedly", parked.spec.name)
            error = CommandError(f"internal error in {parked.spec.name}: {type(exc).__name__}")
            done = Submitted(None, None, error)
        reply: Any = done.reply
        if done.error is None and type(reply) is WouldBlock:
            # still nothing to serve: keep the place in line and the first deadline
            parked.blocked = WouldBlock(
                parked.blocked.keys,
                parked.blocked.timeout_ms,
                parked.blocked.timeout_reply,
                reply.resume,
                parked.blocked.key_type,
            )
            return
        self._finish(parked, done)
