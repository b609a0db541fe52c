"""Command resolution for the server: the one command table plus the server's own extras,
and the special results connection-scope handlers may return.

:func:`resolve` finds the :class:`store.commands.table.CommandSpec` of a call with Redis's
exact unknown-command and arity errors (the table's ``lookup``), falling back to
:data:`EXTRA_COMMANDS` for commands the server implements but the table does not declare
yet (MODULE). Specs found are cached by the command name exactly as the client sent it
(``b"hset"``), so the per-command path is one dict lookup and an arity check.
"""

from __future__ import annotations

from typing import Any

from ..commands.table import COMMANDS, CommandSpec, lookup
from ..errors import UnknownCommandError

__all__ = [
    "CLOSE_NO_REPLY",
    "CONTAINERS",
    "EXTRA_COMMANDS",
    "NO_REPLY",
    "Deferred",
    "Durable",
    "all_specs",
    "cached_specs",
    "resolve",
]

_SPEC_CACHE_MAX = 4096

# Commands whose first argument is a subcommand (ACL rules like +config|get).
CONTAINERS = frozenset({"CLIENT", "CONFIG", "COMMAND", "ACL", "MODULE", "OBJECT", "MEMORY"})

# Server commands not (yet) declared in the command table.
EXTRA_COMMANDS: dict[str, CommandSpec] = {}

# name as sent -> spec; bounded so names in every letter case cannot grow it forever
cached_specs: dict[bytes, CommandSpec] = {}


def resolve(args: list[bytes]) -> CommandSpec:
    """The spec for ``args`` (arity checked). Raises Redis's exact errors otherwise."""
    try:
        spec = lookup(args)
    except UnknownCommandError:
        extra = EXTRA_COMMANDS.get(args[0].decode("utf-8", "replace").upper())
        if extra is None:
            raise
        extra.check_arity(len(args))
        spec = extra
    if len(cached_specs) < _SPEC_CACHE_MAX:
        cached_specs[args[0]] = spec
    return spec


def all_specs() -> dict[str, CommandSpec]:
    """Every command the server answers: the table's and the extras."""
    return {**COMMANDS, **EXTRA_COMMANDS}


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
