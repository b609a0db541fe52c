"""Server-level commands.

Engine-scope ones (PING, ECHO, SAVE, BGSAVE, LASTSAVE, TIME) work embedded too.
Connection-scope ones are implemented by the RESP server (they need a connection: auth
state, protocol version, transactions, client list); they are declared here so that the
command table stays the one list of every command.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import CommandError
from ..replies import SimpleString
from .table import command

if TYPE_CHECKING:
    from .context import ExecContext


@command("PING", -1, "fast", "connection")
def ping(ctx: ExecContext, args: list[bytes]) -> object:
    """PONG, or the argument."""
    if len(args) > 2:
        raise CommandError("wrong number of arguments for 'ping' command")
    return args[1] if len(args) == 2 else SimpleString("PONG")


@command("ECHO", 2, "fast", "connection")
def echo(ctx: ExecContext, args: list[bytes]) -> bytes:
    """The argument."""
    return args[1]


@command("TIME", 1, "fast", "")
def time_(ctx: ExecContext, args: list[bytes]) -> list[bytes]:
    """Server time: [seconds, microseconds]."""
    now = time.time()
    return [str(int(now)).encode(), str(int((now % 1) * 1_000_000)).encode()]


@command("SAVE", 1, "admin noscript", "admin slow dangerous")
def save(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Take a snapshot now and wait for it."""
    ctx.snapshots.save()
    return SimpleString("OK")


@command("BGSAVE", -1, "admin noscript", "admin slow dangerous")
def bgsave(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """Start a snapshot in the background (a forked child writes it)."""
    started = ctx.snapshots.bgsave()
    if not started:
        raise CommandError("Background save already in progress")
    return SimpleString("Background saving started")


@command("LASTSAVE", 1, "fast", "admin")
def lastsave(ctx: ExecContext, args: list[bytes]) -> int:
    """Unix time (s) of the last successful snapshot."""
    return ctx.snapshots.last_save_ms // 1000


def _connection_only(ctx: ExecContext, args: list[bytes]) -> object:
    raise CommandError(
        f"'{args[0].decode('utf-8', 'replace').lower()}' needs a client connection; "
        "use it through the RESP server"
    )


for _name, _arity, _flags, _cats in (
    ("AUTH", -2, "noscript loading stale fast no_auth", "connection fast"),
    ("HELLO", -1, "noscript loading stale fast no_auth", "connection fast"),
    ("SELECT", 2, "loading stale fast", "connection fast"),
    ("QUIT", -1, "loading stale fast no_auth", "connection fast"),
    ("RESET", 1, "loading stale fast no_auth", "connection fast"),
    ("CLIENT", -2, "loading stale", "connection slow"),
    ("COMMAND", -1, "loading stale", "connection slow"),
    ("INFO", -1, "loading stale", "slow dangerous"),
    ("CONFIG", -2, "admin loading stale", "admin slow dangerous"),
    ("MULTI", 1, "loading stale fast", "transaction fast"),
    ("EXEC", 1, "loading stale slow", "transaction slow"),
    ("DISCARD", 1, "loading stale fast", "transaction fast"),
    ("WATCH", -2, "loading stale fast", "transaction fast"),
    ("UNWATCH", 1, "loading stale fast", "transaction fast"),
    ("SHUTDOWN", -1, "admin loading stale", "admin slow dangerous"),
    ("WAIT", 3, "", "slow connection"),
    ("ACL", -2, "admin loading stale", "admin slow dangerous"),
    ("REPLICAOF", 3, "admin noscript stale", "admin slow dangerous"),
    ("SLAVEOF", 3, "admin noscript stale", "admin slow dangerous"),
    ("PSYNC", -2, "admin noscript", "admin slow dangerous"),
    ("FAILOVER", -1, "admin noscript stale", "admin slow dangerous"),
    ("REPLCONF", -1, "admin noscript loading stale", "admin slow dangerous"),
    ("ROLE", 1, "loading stale fast", "admin fast dangerous"),
    ("MODULE", -2, "admin noscript", "admin slow dangerous"),
):
    command(_name, _arity, _flags, _cats, scope="connection", summary=f"{_name} (connection)")(
        _connection_only
    )
