"""Command handlers. Importing this package registers every command in the table."""

from . import (  # noqa: F401  (every module registers its commands)
    aggregate,
    bitmaps,
    dump_restore,
    functions,
    geo,
    hash_random,
    hash_ttl,
    hashes,
    hyperloglog,
    index_admin,
    json_core,
    json_ops,
    key_moves,
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
    string_ranges,
    strings,
    zsets,
    zsets_algebra,
    zsets_pop,
    zsets_range,
)
from .table import COMMANDS, CommandSpec, command, resolve

__all__ = ["COMMANDS", "CommandSpec", "command", "resolve"]
