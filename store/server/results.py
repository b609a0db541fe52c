"""The special results a connection-scope handler may return instead of a reply value.

:class:`store.server.connection.Connection` acts on them: :class:`Durable` (wait for a log
record before answering: EXEC), :class:`Deferred` (await something: WAIT, REPLICAOF),
:data:`CLOSE_NO_REPLY` (SHUTDOWN) and :data:`NO_REPLY` (REPLCONF ACK, PSYNC). Command
resolution is :func:`store.commands.table.resolve`'s alone.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CLOSE_NO_REPLY", "NO_REPLY", "Deferred", "Durable"]


class Durable:
    """A handler reply that must wait for log record ``seq`` before it is sent (EXEC)."""

    __slots__ = ("reply", "seq")

    def __init__(self, reply: Any, seq: int | None) -> None:
        self.reply = reply
        self.seq = seq


class Deferred:
    """A handler reply computed by awaiting ``awaitable`` (WAIT)."""

    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Any) -> None:
        self.awaitable = awaitable


class _CloseNoReply:
    """A handler result: send nothing more and close (SHUTDOWN)."""

    def __repr__(self) -> str:
        return "CLOSE_NO_REPLY"


CLOSE_NO_REPLY = _CloseNoReply()


class _NoReply:
    """A handler result: send nothing for this command (REPLCONF ACK, PSYNC)."""

    def __repr__(self) -> str:
        return "NO_REPLY"


NO_REPLY = _NoReply()
