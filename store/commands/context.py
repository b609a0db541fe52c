"""What a command handler sees: :class:`ExecContext`, and the :class:`Snapshots` it may call.

The context is the engine's boundary for handlers. It carries the pieces of state a
command reads or changes (keyspace, indexes), the few engine services a command may
invoke (flush every key, take a snapshot) and the clock reading of this call, never the
engine itself: a handler cannot reach the log, replication or another command's path.
The rules handlers follow are in :mod:`store.commands.table`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..index.manager import IndexManager
from ..keyspace import Keyspace

if TYPE_CHECKING:
    from ..scripting import Scripting
    from .table import CommandSpec

__all__ = ["ExecContext", "Snapshots"]


class Snapshots(Protocol):
    """Snapshot taking as SAVE, BGSAVE and LASTSAVE see it (:mod:`store.persistence`).

    ``save`` blocks until a snapshot is published; ``bgsave`` starts one in the background
    and returns False if one is already running. Both raise :class:`store.errors.StoreError`
    when the node cannot take snapshots (no data directory).
    """

    def save(self) -> None: ...

    def bgsave(self) -> bool: ...

    def reload_in_place(self, save: bool = True) -> None:
        """``DEBUG RELOAD``: take a snapshot (unless ``save`` is False) and rebuild the
        state from the newest snapshot and the log after it, in place."""
        ...

    @property
    def last_save_ms(self) -> int:
        """Unix time (ms) of the last successful snapshot; 0 if there was none."""
        ...


@dataclass(slots=True)
class ExecContext:
    """One command call. Built by the engine for each command it runs.

    ``lock`` is the engine lock; only ``lockfree`` handlers (which run without it) take it,
    in short phases. ``flush`` empties every key and every index (FLUSHALL) and tells the
    engine's key listeners. ``now_ms`` is the clock read once for the call; handlers use
    :attr:`read_now` / :attr:`expire_now` and never read the clock themselves, so replay is
    deterministic. A handler that mutated state sets ``dirty`` (and optionally
    ``log_args``, the deterministic rewrite to log, or ``log_commands``, several commands
    logged in its place, in order, in the same record: a script's effects).
    ``may_block`` is True only for a client's top-level call that the server can park: a
    blocking command (BLPOP, XREAD BLOCK, ...) returns a
    :class:`store.commands.blocking.WouldBlock` then, and answers its timeout reply at
    once otherwise (inside MULTI, scripts, replay). ``resume`` is set on the server's
    re-run of a parked blocking call: the ``resume`` of the ``WouldBlock`` it returned.
    ``maxmemory_bytes`` (0: no limit) is
    for refusals that depend on it (FT.CREATE's INITIAL_CAP); it never changes what a
    replayed command does.
    """

    keyspace: Keyspace
    indexes: IndexManager
    lock: threading.RLock
    snapshots: Snapshots
    flush: Callable[[], None]
    now_ms: int
    replaying: bool = False
    protocol: int = 2
    dirty: bool = False
    log_args: list[bytes] | None = None
    log_commands: list[list[bytes]] | None = None
    maxmemory_bytes: int = 0
    may_block: bool = False
    resume: dict[str, Any] | None = None
    scripting: Scripting | None = None
    authorize: Callable[[CommandSpec, list[bytes]], None] | None = None
    walker: Any = None
    """The server's ``hnsw_graph.Walker`` when the caller can take a
    :class:`store.commands.walk_later.WalkLater` for a reply (a ``lockfree`` command of the
    server's inline path); else None."""

    def logged(self, args: list[bytes]) -> list[list[bytes]]:
        """What to log for this call, given it is ``dirty``: the commands of
        ``log_commands``, else ``log_args``, else the call's own ``args``."""
        if self.log_commands is not None:
            return self.log_commands
        return [self.log_args or args]

    @property
    def read_now(self) -> int:
        """Deadline reference for reads: logically expired keys are always hidden."""
        return self.now_ms

    @property
    def expire_now(self) -> int | None:
        """Deadline reference for writes: None during replay (apply the log as written)."""
        return None if self.replaying else self.now_ms
