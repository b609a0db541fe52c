"""CLIENT PAUSE / UNPAUSE: hold clients' commands for a while.

Redis 7.4 semantics: ``CLIENT PAUSE ms [WRITE|ALL]`` (ALL by default). In ALL mode every
command of every normal client waits (the pausing client's too); in WRITE mode only
commands that may write (``write`` / ``may_replicate`` flags) wait, reads go on. A later
pause extends the deadline and ALL wins over WRITE; ``CLIENT UNPAUSE`` ends it at once.
Commands already running finish; a waiting client's earlier replies are sent before it
waits. Replicas are never paused. Unlike Redis, keys still expire during a pause (the
engine's sweeper is not paused); see docs/compatibility.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from store.aio import within

from ..commands.table import CommandSpec

__all__ = ["RECHECK_S", "ClientPause"]

RECHECK_S = 0.25


class ClientPause:
    def __init__(self) -> None:
        self.active = False  # read on every command: one attribute check when not paused
        self.deadline = 0.0
        self.all = False
        self._changed: asyncio.Event | None = None

    def pause(self, ms: int, all_commands: bool) -> None:
        deadline = time.monotonic() + ms / 1000
        if not self.active:
            self.all = all_commands
            self.deadline = deadline
        else:
            self.all = self.all or all_commands
            self.deadline = max(self.deadline, deadline)
        self.active = True
        self._signal()

    def unpause(self) -> None:
        self.active = False
        self._signal()

    def holds(self, spec: CommandSpec) -> bool:
        """Whether ``spec`` must wait now."""
        if not self.active:
            return False
        if time.monotonic() >= self.deadline:
            self.active = False
            return False
        return self.all or spec.is_write or "may_replicate" in spec.flags

    async def wait(self, spec: CommandSpec, give_up: Callable[[], bool]) -> None:
        """Return once ``spec`` may run, or ``give_up()`` is true (checked every
        :data:`RECHECK_S`: a client closed or a server shutting down does not wait for the
        end of a long pause)."""
        while self.holds(spec) and not give_up():
            if self._changed is None:
                self._changed = asyncio.Event()
            changed = self._changed
            timeout = min(max(self.deadline - time.monotonic(), 0), RECHECK_S)
            try:
                await within(changed.wait(), timeout)
            except TimeoutError:
                pass

    def _signal(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None
