"""Replication commands of the RESP server: PSYNC, REPLCONF, REPLICAOF, ROLE, WAIT,
FAILOVER.

Handlers take ``(conn, args)`` like :mod:`store.server.handlers` and drive the node's
:class:`store.replication.Replication`. ``PSYNC`` hands the connection to the primary side
as its :class:`store.replication.primary.ReplicaChannel` (it answers
``+CONTINUE``/``+FULLRESYNC`` itself and then streams records); ``REPLCONF ACK`` has no
reply, as in Redis. They live in the server, not in :mod:`store.replication`, so that
replication never imports the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..commands.util import parse_int
from ..errors import CommandError, SyntaxErr
from ..replies import SimpleString
from .results import NO_REPLY, Deferred

if TYPE_CHECKING:
    from .connection import Connection
    from .handlers import Handler

OK = SimpleString("OK")


def _int(arg: bytes, what: str = "value") -> int:
    return parse_int(arg, f"{what} is not an integer or out of range")


def cmd_psync(conn: Connection, args: list[bytes]) -> Any:
    repl = conn.server.replication
    if repl.is_replica:
        raise CommandError(
            "this node is a replica; memvec does not chain replicas: follow the primary"
        )
    next_seq = _int(args[1], "next_seq")
    last_epoch = _int(args[2], "last_epoch") if len(args) > 2 else 0
    if next_seq < 1:
        raise CommandError("PSYNC next_seq starts at 1")
    conn.is_replica = True  # client-output-buffer-limit class "replica" from here on
    repl.primary.attach(conn, next_seq, last_epoch, conn.repl_port)
    return NO_REPLY


def cmd_replconf(conn: Connection, args: list[bytes]) -> Any:
    if len(args) % 2 == 0:
        raise SyntaxErr()
    for i in range(1, len(args), 2):
        opt = args[i].lower()
        if opt == b"ack":
            conn.server.replication.primary.on_ack(conn, _int(args[i + 1], "ACK offset"))
            return NO_REPLY
        if opt == b"listening-port":
            conn.repl_port = _int(args[i + 1], "port")
        elif opt in (b"capa", b"ip-address", b"getack"):
            pass
        else:
            raise CommandError(
                f"Unrecognized REPLCONF option: {args[i].decode('utf-8', 'replace')}"
            )
    return OK


def cmd_replicaof(conn: Connection, args: list[bytes]) -> Any:
    repl = conn.server.replication
    if args[1].upper() == b"NO" and args[2].upper() == b"ONE":

        async def promote() -> Any:
            await repl.promote()
            return OK

        return Deferred(promote())
    host = args[1].decode("utf-8", "replace")
    port = _int(args[2], "port")
    if not 0 < port < 65536:
        raise CommandError("Invalid master port")

    async def follow() -> Any:
        await repl.replicaof(host, port)
        return OK

    return Deferred(follow())


def cmd_failover(conn: Connection, args: list[bytes]) -> Any:
    target: tuple[str, int] | None = None
    timeout_ms = 0
    i = 1
    while i < len(args):
        opt = args[i].upper()
        if opt == b"TO" and i + 2 < len(args):
            target = (args[i + 1].decode("utf-8", "replace"), _int(args[i + 2], "port"))
            i += 3
        elif opt == b"TIMEOUT" and i + 1 < len(args):
            timeout_ms = _int(args[i + 1])
            i += 2
        elif opt == b"FORCE":
            i += 1
        else:
            raise SyntaxErr()

    async def run() -> Any:
        await conn.server.replication.failover(target, timeout_ms)
        return OK

    return Deferred(run())


def cmd_role(conn: Connection, args: list[bytes]) -> Any:
    return conn.server.replication.role_reply()


def cmd_wait(conn: Connection, args: list[bytes]) -> Any:
    numreplicas = _int(args[1])
    timeout_ms = _int(args[2], "timeout")
    if timeout_ms < 0:
        raise CommandError("timeout is negative")
    return Deferred(conn.server.replication.wait(conn.last_write_seq, numreplicas, timeout_ms))


def replication_handlers() -> dict[str, Handler]:
    return {
        "PSYNC": cmd_psync,
        "REPLCONF": cmd_replconf,
        "REPLICAOF": cmd_replicaof,
        "SLAVEOF": cmd_replicaof,
        "ROLE": cmd_role,
        "FAILOVER": cmd_failover,
        "WAIT": cmd_wait,
    }
