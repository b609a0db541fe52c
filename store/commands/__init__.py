"""Command handlers. Importing this package registers every command in the table."""

from . import aggregate, hash_ttl, hashes, index_admin, keys, search, server, strings  # noqa: F401
from . import json_core  # noqa: F401
from .table import COMMANDS, CommandSpec, command, resolve

__all__ = ["COMMANDS", "CommandSpec", "command", "resolve"]
