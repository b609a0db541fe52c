"""Command handlers. Importing this package registers every command in the table."""

from . import (  # noqa: F401  (every module registers its commands)
    aggregate,
    functions,
    hash_ttl,
    hashes,
    index_admin,
    json_core,
    json_ops,
    keys,
    list_blocking,
    lists,
    scripting,
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
