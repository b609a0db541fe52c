"""Cluster-mode commands, declared in the one command table.

CLUSTER, ASKING, READONLY and READWRITE need the client's connection and the node's
topology, so they are connection-scope: the RESP server implements them
(:mod:`store.cluster.commands`) and routes every keyed command by hash slot
(:mod:`store.cluster.routing`). Flags and categories are Redis 7.4's.
"""

from __future__ import annotations

from typing import Any

from ..errors import CommandError
from .table import command


def _connection_only(ctx: Any, args: list[bytes]) -> object:
    raise CommandError(
        f"'{args[0].decode('utf-8', 'replace').lower()}' needs a client connection; "
        "use it through the RESP server"
    )


for _name, _arity, _flags, _cats in (
    ("CLUSTER", -2, "", "slow"),
    ("ASKING", 1, "fast", "connection fast"),
    ("READONLY", 1, "loading stale fast", "connection fast"),
    ("READWRITE", 1, "loading stale fast", "connection fast"),
):
    command(_name, _arity, _flags, _cats, scope="connection", summary=f"{_name} (connection)")(
        _connection_only
    )
