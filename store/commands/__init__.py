"""Command handlers. Importing this package registers every command in the table."""

from . import (  # noqa: F401
    aggregate,
    hash_ttl,
    hashes,
    index_admin,
    json_core,
    json_ops,
    keys,
    list_blocking,
    lists,
    search,
    server,
    set_algebra,
    sets,
    streams,
    streams_claims,
    streams_groups,
    streams_info,
    streams_read,
    strings,
)
from .table import COMMANDS, CommandSpec, command, resolve

__all__ = ["COMMANDS", "CommandSpec", "command", "resolve"]
