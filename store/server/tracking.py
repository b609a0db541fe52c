"""Client-side caching: CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO (Redis 7.4).

Contract:

* Default mode: the keys a tracking client reads (commands flagged ``readonly``; with
  OPTIN only after ``CLIENT CACHING yes``, with OPTOUT unless ``CLIENT CACHING no``) are
  remembered; the first change to such a key sends that client one invalidation and
  forgets the key for it (it must read again to be told again).
* BCAST mode: every change to a key under one of the client's prefixes (all keys without
  a prefix) is announced; nothing is remembered per key.
* Delivery: a RESP3 client gets ``>2 invalidate [keys]``; with ``REDIRECT <id>`` the
  message goes to that client: a RESP3 one as the same push, a RESP2 one as a
  ``message`` on ``__redis__:invalidate`` if it subscribed to that channel. FLUSHALL /
  FLUSHDB invalidate everything with a null key list. A redirect target that is gone
  gets the client a ``tracking-redir-broken`` push (RESP3). NOLOOP: changes made by the
  client itself are not announced to it. Like every push, one caused by the client's own
  command follows that command's reply.
* Changes are heard through ``Engine.key_listeners`` (under the engine lock, any thread:
  the sweeper's deletions are handed to the event loop). Nothing is recorded or sent
  while no client tracks.

BCAST invalidations are batched as Redis does: one message per client and prefix for the
keys changed in one event-loop iteration.

Differences (docs/compatibility.md): reads queued in MULTI are remembered when queued;
the tracking table has no size limit (``tracking-table-max-keys``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CommandError, SyntaxErr
from ..replies import Push, SimpleString

if TYPE_CHECKING:
    from ..commands.table import CommandSpec
    from .app import Server
    from .connection import Connection

__all__ = ["Tracking", "client_tracking_subcommand"]

INVALIDATE_CHANNEL = b"__redis__:invalidate"
OK = SimpleString("OK")


@dataclass
class ClientTracking:
    """One tracking client's options."""

    redirect: int = 0
    bcast: bool = False
    optin: bool = False
    optout: bool = False
    noloop: bool = False
    prefixes: list[bytes] = field(default_factory=list)
    caching: bool | None = None  # CLIENT CACHING yes/no, for the next command only
    caching_armed: bool = False  # set by CLIENT CACHING; cleared after the next command
    clear_next: bool = False


class Tracking:
    """Every tracking client and the keys they read (see the module docstring)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: dict[int, ClientTracking] = {}
        self.keys: dict[bytes, set[int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # (client id, prefix) -> {key: id of the client that changed it, -1: several}
        self._bcast: dict[tuple[int, bytes], dict[bytes, int]] = {}
        self._bcast_scheduled = False
        self._loop_thread = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hear key changes from the engine (called once the server runs on ``loop``)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self.server.engine.key_listeners.append(self.on_key_changed)

    def detach(self) -> None:
        try:
            self.server.engine.key_listeners.remove(self.on_key_changed)
        except ValueError:
            pass

    def tracking(self, conn: Connection) -> bool:
        return conn.id in self.clients

    # -- reads ------------------------------------------------------------------------------
    def note_command(self, conn: Connection, spec: CommandSpec, args: list[bytes]) -> None:
        """Before ``conn`` runs a command: remember the keys a read will show it."""
        state = self.clients.get(conn.id)
        if state is None:
            return
        if state.clear_next:  # CLIENT CACHING applied to the command before this one
            state.caching_armed, state.caching, state.clear_next = False, None, False
        if spec.name == "CLIENT":
            return  # CLIENT commands neither use nor consume CACHING (Redis's resetClient)
        armed = state.caching_armed
        state.clear_next = armed  # cleared once this command ran (TRACKINGINFO shows it)
        if state.bcast or "readonly" not in spec.flags:
            return
        remember = True
        if state.optin:
            remember = armed and state.caching is True
        elif state.optout:
            remember = not (armed and state.caching is False)
        if remember:
            for key in spec.keys(args):
                self.keys.setdefault(key, set()).add(conn.id)

    # -- changes ----------------------------------------------------------------------------
    def on_key_changed(self, key: bytes) -> None:
        """Engine key listener (under the engine lock, any thread)."""
        if not self.clients:
            return
        if threading.get_ident() == self._loop_thread or self._loop is None:
            self.invalidate(key, self.server.executing)
        else:
            self._loop.call_soon_threadsafe(self.invalidate, key, None)

    def invalidate(self, key: bytes | None, source: Connection | None) -> None:
        """Tell the clients that track ``key`` (None: every key, FLUSHALL)."""
        targets: list[int] = []
        if key is None:
            targets = list(self.clients)
            self.keys.clear()
        else:
            targets = list(self.keys.pop(key, ()))
            for cid, state in self.clients.items():
                if state.bcast:
                    for prefix in state.prefixes or (b"",):
                        if key.startswith(prefix):
                            self._queue_bcast(cid, prefix, key, source)
                            break
        source_id = source.id if source is not None else None
        for cid in targets:
            target = self.clients.get(cid)
            if target is None or (target.noloop and cid == source_id):
                continue
            self._send(cid, target, None if key is None else [key])

    def _queue_bcast(self, cid: int, prefix: bytes, key: bytes, source: Connection | None) -> None:
        """BCAST invalidations wait for the end of the event-loop iteration, then leave as
        one message per client and prefix (Redis's beforeSleep), keys sorted as its rax
        keeps them; a key only the client itself changed is left out under NOLOOP."""
        keys = self._bcast.setdefault((cid, prefix), {})
        by = source.id if source is not None else -1
        keys[key] = by if keys.get(key, by) == by else -1
        if not self._bcast_scheduled and self._loop is not None:
            self._bcast_scheduled = True
            self._loop.call_soon(self._flush_bcast)

    def _flush_bcast(self) -> None:
        pending, self._bcast = self._bcast, {}
        self._bcast_scheduled = False
        for (cid, _), keys in pending.items():
            state = self.clients.get(cid)
            if state is None or not state.bcast:
                continue
            shown = sorted(k for k, by in keys.items() if not (state.noloop and by == cid))
            if shown:
                self._send(cid, state, shown)

    def _send(self, cid: int, state: ClientTracking, keys: list[bytes] | None) -> None:
        clients = self.server.clients
        own = clients.get(cid)
        if state.redirect:
            target = clients.get(state.redirect)
            if target is None or target.closing:
                if own is not None and own.protocol == 3:
                    own.deliver(Push([b"tracking-redir-broken", state.redirect]))
                return
            if target.protocol == 3:
                target.deliver(Push([b"invalidate", keys]))
            else:
                subs = self.server.pubsub.clients.get(target)
                if subs is not None and INVALIDATE_CHANNEL in subs.channels:
                    target.deliver(Push([b"message", INVALIDATE_CHANNEL, keys]))
            return
        if own is not None and own.protocol == 3:
            own.deliver(Push([b"invalidate", keys]))

    def flush(self) -> None:
        """FLUSHALL / FLUSHDB ran: everything is invalid."""
        if self.clients:
            self.invalidate(None, self.server.executing)

    def forget(self, conn: Connection) -> None:
        """``conn`` left (or RESET): stop tracking for it."""
        if self.clients.pop(conn.id, None) is not None:
            for key in [k for k, ids in self.keys.items() if conn.id in ids]:
                ids = self.keys[key]
                ids.discard(conn.id)
                if not ids:
                    del self.keys[key]
            conn.refresh()


class FlagSet(frozenset[bytes]):
    """A RESP3 set (``~``) that keeps its items' order, as Redis lists them."""

    order: tuple[bytes, ...]

    def __new__(cls, items: list[bytes]) -> FlagSet:
        made = super().__new__(cls, items)
        made.order = tuple(items)
        return made

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.order)


# -- CLIENT subcommands ----------------------------------------------------------------------
def _tracking_on_off(conn: Connection, args: list[bytes]) -> Any:
    tracking = conn.server.tracking
    mode = args[2].upper()
    if mode not in (b"ON", b"OFF"):
        raise SyntaxErr()
    state = ClientTracking()
    i = 3
    while i < len(args):
        opt = args[i].upper()
        more = len(args) - i - 1
        if opt == b"REDIRECT" and more >= 1:
            try:
                state.redirect = int(args[i + 1])
            except ValueError:
                raise CommandError("value is not an integer or out of range") from None
            if state.redirect not in conn.server.clients:
                raise CommandError("The client ID you want redirect to does not exist")
            i += 2
        elif opt == b"BCAST":
            state.bcast = True
            i += 1
        elif opt == b"OPTIN":
            state.optin = True
            i += 1
        elif opt == b"OPTOUT":
            state.optout = True
            i += 1
        elif opt == b"NOLOOP":
            state.noloop = True
            i += 1
        elif opt == b"PREFIX" and more >= 1:
            state.prefixes.append(args[i + 1])
            i += 2
        else:
            raise SyntaxErr()
    if mode == b"OFF":
        tracking.forget(conn)
        return OK
    current = tracking.clients.get(conn.id)
    if current is not None and current.bcast != state.bcast:
        raise CommandError(
            "You can't switch BCAST mode on/off before disabling tracking for this client, "
            "and then re-enabling it with a different mode."
        )
    if state.prefixes and not state.bcast:
        raise CommandError("PREFIX option requires BCAST mode to be enabled")
    if state.optin and state.optout:
        raise CommandError("You can't specify both OPTIN mode and OPTOUT mode")
    if state.bcast and (state.optin or state.optout):
        raise CommandError("OPTIN and OPTOUT are not compatible with BCAST")
    for n, a in enumerate(state.prefixes):
        for b in state.prefixes[n + 1 :]:
            if a.startswith(b) or b.startswith(a):
                raise CommandError(
                    f"Prefix '{a.decode('utf-8', 'replace')}' overlaps with another provided "
                    f"prefix '{b.decode('utf-8', 'replace')}'. Prefixes for a single client "
                    "must not overlap."
                )
    if current is not None and current.bcast:
        state.prefixes = current.prefixes + [p for p in state.prefixes if p not in current.prefixes]
    tracking.clients[conn.id] = state
    conn.refresh()
    return OK


def _caching(conn: Connection, args: list[bytes]) -> Any:
    state = conn.server.tracking.clients.get(conn.id)
    if state is None or not (state.optin or state.optout):
        raise CommandError(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN "
            "or OPTOUT mode enabled"
        )
    value = args[2].upper()
    if value == b"YES":
        if not state.optin:
            raise CommandError(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
            )
        state.caching = True
    elif value == b"NO":
        if not state.optout:
            raise CommandError(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
            )
        state.caching = False
    else:
        raise SyntaxErr()
    state.caching_armed = True
    state.clear_next = False
    return OK


def _getredir(conn: Connection, args: list[bytes]) -> Any:
    state = conn.server.tracking.clients.get(conn.id)
    return -1 if state is None else state.redirect


def _trackinginfo(conn: Connection, args: list[bytes]) -> Any:
    state = conn.server.tracking.clients.get(conn.id)
    if state is None:
        return {b"flags": FlagSet([b"off"]), b"redirect": -1, b"prefixes": []}
    flags = [b"on"]
    if state.bcast:
        flags.append(b"bcast")
    if state.optin:
        flags.append(b"optin")
        if state.caching_armed and state.caching is True:
            flags.append(b"caching-yes")
    if state.optout:
        flags.append(b"optout")
        if state.caching_armed and state.caching is False:
            flags.append(b"caching-no")
    if state.noloop:
        flags.append(b"noloop")
    if state.redirect and state.redirect not in conn.server.clients:
        flags.append(b"broken_redirect")
    return {
        b"flags": FlagSet(flags),
        b"redirect": state.redirect,
        b"prefixes": list(state.prefixes),
    }


# CLIENT subcommand -> (arity counting CLIENT, handler)
_SUBCOMMANDS = {
    b"TRACKING": (-3, _tracking_on_off),
    b"CACHING": (3, _caching),
    b"GETREDIR": (2, _getredir),
    b"TRACKINGINFO": (2, _trackinginfo),
}


def client_tracking_subcommand(sub: bytes) -> tuple[int, Any] | None:
    """(arity, handler) of a tracking subcommand of CLIENT, None if ``sub`` is not one."""
    return _SUBCOMMANDS.get(sub)
