"""FUNCTION (LOAD, DELETE, FLUSH, LIST, STATS, KILL, HELP), FCALL and FCALL_RO.

Libraries are state (:mod:`store.scripting.libraries`): FUNCTION LOAD / DELETE / FLUSH
change it and are logged as themselves (replay and replicas load the same code), and
snapshots hold them. They are writes for admission (READONLY on a replica, OOM for LOAD)
though the FUNCTION container is not flagged ``write`` as a whole: FUNCTION LIST and
STATS must still run on a replica. FUNCTION DUMP / RESTORE use the RDB function payload
(:mod:`store.rdb.functions`).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from ..errors import CommandError
from ..rdb.functions import FunctionPayloadError, dump_functions, load_functions
from ..replies import SimpleString
from .context import ExecContext
from .scripting import check_subcommand, parse_numkeys, scripting_of
from .table import CommandSpec, command

__all__ = ["FUNCTION_WRITE"]

# What FUNCTION LOAD / DELETE / FLUSH are admitted as (the engine's write admission).
FUNCTION_WRITE = CommandSpec(
    "FUNCTION", -3, frozenset({"write", "denyoom", "noscript"}), frozenset({"scripting"})
)

_ARITY = {
    b"LOAD": -3,
    b"DELETE": 3,
    b"FLUSH": -2,
    b"LIST": -2,
    b"STATS": 2,
    b"KILL": 2,
    b"HELP": 2,
    b"DUMP": 2,
    b"RESTORE": -3,
}

_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using"
    " FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore"
    " policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision,"
    " replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance"
    " of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Print this help.",
]


def _admit_write(ctx: ExecContext) -> None:
    if not ctx.replaying:
        scripting_of(ctx).admit(FUNCTION_WRITE)


@command("FUNCTION", -2, "noscript", "scripting slow")
def function(ctx: ExecContext, args: list[bytes]) -> Any:
    """A container for function commands."""
    sub = check_subcommand("FUNCTION", args, _ARITY)
    scripting = scripting_of(ctx)
    libraries = scripting.libraries
    if sub == b"LOAD":
        replace = False
        rest = args[2:]
        while len(rest) > 1:
            if rest[0].upper() == b"REPLACE":
                replace = True
                rest = rest[1:]
            else:
                raise CommandError(f"Unknown option given: {rest[0].decode('utf-8', 'replace')}")
        if not rest:
            raise CommandError("Function code is missing")
        _admit_write(ctx)
        name = libraries.load(rest[0], replace)
        ctx.dirty = True
        return name
    if sub == b"DELETE":
        _admit_write(ctx)
        libraries.delete(args[2])
        ctx.dirty = True
        return SimpleString("OK")
    if sub == b"FLUSH":
        if len(args) > 3:
            shown = args[1].decode("utf-8", "replace")
            raise CommandError(
                f"unknown subcommand or wrong number of arguments for '{shown}'. Try FUNCTION HELP."
            )
        if len(args) == 3 and args[2].upper() not in (b"ASYNC", b"SYNC"):
            raise CommandError("FUNCTION FLUSH only supports SYNC|ASYNC option")
        _admit_write(ctx)
        libraries.flush()
        ctx.dirty = True
        return SimpleString("OK")
    if sub == b"LIST":
        return _list(ctx, args[2:])
    if sub == b"STATS":
        return stats_reply(scripting.libraries, None)
    if sub == b"KILL":
        line = scripting.kill("function")
        if line:
            from ..replies import ErrorReply

            return ErrorReply(line)
        return SimpleString("OK")
    if sub == b"DUMP":
        return dump_functions(libraries.to_plain())
    if sub == b"RESTORE":
        return _restore(ctx, args)
    return [SimpleString(line) for line in _HELP]


def _restore(ctx: ExecContext, args: list[bytes]) -> Any:
    """FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: logged as itself (the payload
    holds the code, so replay and replicas load the same libraries)."""
    if len(args) > 4:
        raise CommandError(
            "unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP."
        )
    policy = args[3].upper().decode("latin-1") if len(args) == 4 else "APPEND"
    if policy not in ("FLUSH", "APPEND", "REPLACE"):
        raise CommandError(
            "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
        )
    try:
        codes = load_functions(args[2])
    except FunctionPayloadError as exc:
        raise CommandError(str(exc)) from None
    _admit_write(ctx)
    scripting_of(ctx).libraries.restore_codes(codes, policy)
    ctx.dirty = True
    return SimpleString("OK")


def _list(ctx: ExecContext, opts: list[bytes]) -> Any:
    with_code = False
    pattern: bytes | None = None
    i = 0
    while i < len(opts):
        opt = opts[i].upper()
        if opt == b"WITHCODE":
            if with_code:
                raise CommandError("Unknown argument withcode")
            with_code = True
            i += 1
        elif opt == b"LIBRARYNAME":
            if pattern is not None:
                raise CommandError("Unknown argument libraryname")
            if i + 1 >= len(opts):
                raise CommandError("library name argument was not given")
            pattern = opts[i + 1]
            i += 2
        else:
            raise CommandError(f"Unknown argument {opts[i].decode('utf-8', 'replace')}")
    libraries = scripting_of(ctx).libraries
    out = []
    for key in sorted(libraries.libraries):
        lib = libraries.libraries[key]
        name = lib.name
        if pattern is not None and not fnmatch.fnmatchcase(
            name.decode("latin-1"), pattern.decode("latin-1")
        ):
            continue
        functions = []
        for fname in sorted(lib.functions):
            fn = lib.functions[fname]
            flags: Any = [SimpleString(f) for f in fn.flags]
            if ctx.protocol == 3:
                flags = set(flags)
            functions.append({b"name": fn.name, b"description": fn.description, b"flags": flags})
        entry: dict[bytes, Any] = {
            b"library_name": name,
            b"engine": b"LUA",
            b"functions": functions,
        }
        if with_code:
            entry[b"library_code"] = lib.code
        out.append(entry)
    return out


def stats_reply(libraries: Any, running: dict[bytes, Any] | None) -> dict[bytes, Any]:
    """FUNCTION STATS: the running function (or nil) and the engine's counts."""
    return {
        b"running_script": running,
        b"engines": {
            b"LUA": {
                b"libraries_count": len(libraries.libraries),
                b"functions_count": len(libraries.functions),
            }
        },
    }


def _fcall(ctx: ExecContext, args: list[bytes], read_only: bool) -> Any:
    keys, argv = parse_numkeys(args, 2, bad="Bad number of keys provided")
    return scripting_of(ctx).fcall(ctx, args[1], keys, argv, read_only)


@command("FCALL", -3, "noscript stale skip_monitor no_mandatory_keys movablekeys", "scripting slow")
def fcall(ctx: ExecContext, args: list[bytes]) -> Any:
    """Invokes a function."""
    return _fcall(ctx, args, read_only=False)


@command(
    "FCALL_RO",
    -3,
    "readonly noscript stale skip_monitor no_mandatory_keys movablekeys",
    "scripting slow",
)
def fcall_ro(ctx: ExecContext, args: list[bytes]) -> Any:
    """Invokes a read-only function."""
    return _fcall(ctx, args, read_only=True)
