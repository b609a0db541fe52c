"""Command handlers. Importing this package registers every command in the table."""

from . import (  # noqa: F401
    aggregate,
    hash_ttl,
    hashes,
    index_admin,
    json_core,
    json_ops,
    keys,
    search,
    server,
    strings,
)
from .table import COMMANDS, CommandSpec, command, resolve

__all__ = ["COMMANDS", "CommandSpec", "command", "resolve"]
