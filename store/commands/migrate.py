"""MIGRATE and RESTORE-ASKING, declared in the one command table.

MIGRATE copies keys to another node over the network and needs the client's connection,
so it is connection-scope: the RESP server implements it (:mod:`store.cluster.migrate`).
RESTORE-ASKING is what MIGRATE sends to the target: RESTORE, served by a cluster node for
a slot it is importing as if the client had sent ASKING first (the ``asking`` flag, as
Redis's ``CMD_ASKING``); logged as RESTORE. Flags and key specs are Redis 7.4's.
"""

from __future__ import annotations

from typing import Any

from ..errors import CommandError
from .dump_restore import restore
from .table import command


def migrate_keys(args: list[bytes]) -> list[bytes]:
    """MIGRATE's keys: the key argument, or every name after ``KEYS`` when it is empty."""
    if len(args) > 3 and args[3]:
        return [args[3]]
    for i in range(6, len(args)):
        if args[i].upper() == b"KEYS":
            return args[i + 1 :]
    return []


@command(
    "MIGRATE",
    -6,
    "write movablekeys",
    "keyspace slow dangerous",
    keys=(3, 3, 1),  # COMMAND INFO's legacy range, as Redis; the real keys: migrate_keys
    scope="connection",
    find_keys=migrate_keys,
)
def migrate(ctx: Any, args: list[bytes]) -> object:
    """MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
    AUTH2 username password] [KEYS key ...]."""
    raise CommandError("'migrate' needs a client connection; use it through the RESP server")


command(
    "RESTORE-ASKING",
    -4,
    "write denyoom asking",
    "keyspace slow dangerous",
    keys=(1, 1, 1),
    summary="RESTORE sent by MIGRATE to a node importing the key's slot",
)(restore)
