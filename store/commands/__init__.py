"""Command handlers. Importing this package registers every command in the table."""

from . import aggregate, hash_ttl, hashes, index_admin, keys, search, server, strings  # noqa: F401
from . import functions, scripting  # noqa: F401  (EVAL, SCRIPT, FUNCTION, FCALL)
from .table import COMMANDS, CommandSpec, command, resolve

__all__ = ["COMMANDS", "CommandSpec", "command", "resolve"]
