"""Command handlers. Importing this package registers every command in the table."""

from . import aggregate, hash_ttl, hashes, index_admin, keys, search, server, strings  # noqa: F401
from .table import COMMANDS, CommandSpec, command, resolve

# isort: off
from . import bitmaps, dump_restore, hash_random, hyperloglog, key_moves, string_ranges  # noqa: F401

# isort: on

__all__ = ["COMMANDS", "CommandSpec", "command", "resolve"]
