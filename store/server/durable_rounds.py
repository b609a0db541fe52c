"""The inline replies of one loop iteration wait for the log together: one gate waiter.

Contract of :meth:`DurableRounds.join`: ``conn``'s inline replies ``state`` wait until the
log is durable up to ``need`` with those of every other client that joined in the same
loop iteration (a *round*). The round asks the :class:`DurableGate` once, for the highest
``need`` of its members, after the iteration's socket reads (``call_soon``: uvloop runs
it before its next poll). When the gate answers, each member's
``Connection.inline_durable(state, outcome, exc)`` runs, in the order they joined, with
the gate's answer: the same call, with the same arguments, that a waiter of its own would
have got. That method checks again that the member's own ``need`` is durable (commands it
ran after joining may have raised it) and that nothing was rolled back, and it waits again
or hands the replies to the client's task otherwise. So a round changes when a member is
answered by at most that, never what it is answered.

Why (docs/decisions/0039-durable-rounds.md): under the 200-client types mix
(``appendfsync always``) every client's inline replies took their own gate waiter (a
``functools.partial``, a waiter object, a heap push and pop), and the gate answered them
one callback each. A round makes that one waiter, one partial and one heap entry for
every client served in the iteration. Measured: +4.5-10% commands per second, p99 -9-20%.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connection import Connection
    from .durable_gate import DurableGate
    from .inline_commands import InlineReplies

__all__ = ["DurableRounds"]


class DurableRounds:
    """The round of the current loop iteration (see the module docstring). Use it from the
    loop's thread only."""

    def __init__(self, gate: DurableGate) -> None:
        self._gate = gate
        self._members: list[tuple[Connection, InlineReplies]] | None = None
        self._need = 0

    def join(
        self, loop: asyncio.AbstractEventLoop, conn: Connection, state: InlineReplies, need: int
    ) -> None:
        """``state`` (``conn``'s inline replies) waits for ``need`` with this iteration's
        round; the first member schedules the round's request to the gate."""
        members = self._members
        if members is None:
            members = self._members = []
            self._need = need
            loop.call_soon(self._close)
        elif need > self._need:
            self._need = need
        members.append((conn, state))

    def _close(self) -> None:
        """The iteration's reads are done: the round waits at the gate, as one waiter."""
        members, self._members = self._members, None
        if members:
            self._gate.notify(self._need, functools.partial(_answer, members))


def _answer(
    members: list[tuple[Connection, InlineReplies]], outcome: Any, exc: BaseException | None
) -> None:
    """The gate's answer for a round: each member's, in order (each catches its own)."""
    for conn, state in members:
        conn.inline_durable(state, outcome, exc)
