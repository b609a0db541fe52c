"""Command handlers. Importing this package registers every command in the table."""

from . import (  # noqa: F401  (every module registers its commands)
    aggregate,
    functions,
    hash_ttl,
    hashes,
    index_admin,
    keys,
    scripting,
    search,
    server,
    strings,
)
from .table import COMMANDS, CommandSpec, command, resolve

__all__ = ["COMMANDS", "CommandSpec", "command", "resolve"]
