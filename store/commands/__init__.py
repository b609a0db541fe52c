"""Command handlers. Importing this package registers every command in the table."""

from . import (  # noqa: F401
    aggregate,
    geo,
    hash_ttl,
    hashes,
    index_admin,
    keys,
    list_blocking,
    lists,
    search,
    server,
    set_algebra,
    sets,
    strings,
    zsets,
    zsets_algebra,
    zsets_pop,
    zsets_range,
)
from .table import COMMANDS, CommandSpec, command, resolve

__all__ = ["COMMANDS", "CommandSpec", "command", "resolve"]
