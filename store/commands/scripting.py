"""EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD, EXISTS, FLUSH, KILL, HELP).

A script runs as one engine-scope command, under the engine lock, atomically: its writes
are logged as their effects (``ctx.log_commands``, see :mod:`store.scripting.calls`), so
replay and replicas never run Lua, and the script cache is neither logged nor persisted
(Redis 7: a replica or a restarted node answers NOSCRIPT until SCRIPT LOAD there). The
RESP server runs these commands off its event loop (:mod:`store.server.script_busy`), so
other clients get BUSY past ``busy-reply-threshold`` and SCRIPT KILL can reach a
running script; SCRIPT KILL that reaches the engine found no script running.
"""

from __future__ import annotations

from typing import Any

from ..errors import CommandError
from ..replies import ErrorReply, SimpleString
from ..scripting import NoScriptError, Scripting
from .context import ExecContext
from .table import command

__all__ = ["check_subcommand", "flush_mode", "parse_numkeys", "scripting_of"]

_SCRIPT_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"


def scripting_of(ctx: ExecContext) -> Scripting:
    if ctx.scripting is None:
        raise CommandError("scripting is not available in this context")
    return ctx.scripting


def parse_numkeys(
    args: list[bytes], at: int, bad: str = "value is not an integer or out of range"
) -> tuple[list[bytes], list[bytes]]:
    """KEYS and ARGV of ``args`` whose numkeys is ``args[at]``; the peer's errors."""
    try:
        numkeys = int(args[at])
    except ValueError:
        raise CommandError(bad) from None
    if numkeys < 0:
        raise CommandError("Number of keys can't be negative")
    rest = args[at + 1 :]
    if numkeys > len(rest):
        raise CommandError("Number of keys can't be greater than number of args")
    return rest[:numkeys], rest[numkeys:]


def _eval(ctx: ExecContext, args: list[bytes], *, by_sha: bool, read_only: bool) -> Any:
    keys, argv = parse_numkeys(args, 2)
    scripting = scripting_of(ctx)
    body, sha = (None, args[1]) if by_sha else (args[1], None)
    return scripting.eval(ctx, body=body, sha=sha, keys=keys, args=argv, read_only=read_only)


@command("EVAL", -3, _SCRIPT_FLAGS, "scripting slow")
def eval_(ctx: ExecContext, args: list[bytes]) -> Any:
    """Executes a server-side Lua script."""
    return _eval(ctx, args, by_sha=False, read_only=False)


@command("EVALSHA", -3, _SCRIPT_FLAGS, "scripting slow")
def evalsha(ctx: ExecContext, args: list[bytes]) -> Any:
    """Executes a server-side Lua script by SHA1 digest."""
    return _eval(ctx, args, by_sha=True, read_only=False)


@command("EVAL_RO", -3, "readonly " + _SCRIPT_FLAGS, "scripting slow")
def eval_ro(ctx: ExecContext, args: list[bytes]) -> Any:
    """Executes a read-only server-side Lua script."""
    return _eval(ctx, args, by_sha=False, read_only=True)


@command("EVALSHA_RO", -3, "readonly " + _SCRIPT_FLAGS, "scripting slow")
def evalsha_ro(ctx: ExecContext, args: list[bytes]) -> Any:
    """Executes a read-only server-side Lua script by SHA1 digest."""
    return _eval(ctx, args, by_sha=True, read_only=True)


_SCRIPT_ARITY = {
    b"LOAD": 3,
    b"EXISTS": -3,
    b"FLUSH": -2,
    b"KILL": 2,
    b"HELP": 2,
    b"SHOW": 3,
    b"DEBUG": -3,
}

_SCRIPT_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO) [<engine_name>]",
    "    Set the debug mode for subsequent scripts executed of the specified engine.",
    "    Default engine name: 'lua'",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined",
    "     by the lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "SHOW <sha1>",
    "    Show a script from the scripts cache.",
    "HELP",
    "    Print this help.",
]


def check_subcommand(container: str, args: list[bytes], arities: dict[bytes, int]) -> bytes:
    """The upper-case subcommand of ``args``, arity checked; the peer's errors."""
    sub = args[1].upper()
    arity = arities.get(sub)
    shown = args[1].decode("utf-8", "replace")
    if arity is None:
        raise CommandError(f"unknown subcommand '{shown}'. Try {container} HELP.")
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise CommandError(
            f"wrong number of arguments for '{container.lower()}|{sub.decode().lower()}' command"
        )
    return sub


def flush_mode(args: list[bytes], container: str) -> None:
    """FLUSH's optional ASYNC|SYNC (both flush at once here: the cache is small)."""
    if len(args) > 3 or (len(args) == 3 and args[2].upper() not in (b"ASYNC", b"SYNC")):
        raise CommandError(f"{container} FLUSH only support SYNC|ASYNC option")


@command("SCRIPT", -2, "noscript", "scripting slow")
def script(ctx: ExecContext, args: list[bytes]) -> Any:
    """A container for Lua scripts management commands."""
    sub = check_subcommand("SCRIPT", args, _SCRIPT_ARITY)
    scripting = scripting_of(ctx)
    if sub == b"LOAD":
        return scripting.load_script(args[2])
    if sub == b"EXISTS":
        return [1 if a.lower() in scripting.scripts else 0 for a in args[2:]]
    if sub == b"FLUSH":
        flush_mode(args, "SCRIPT")
        scripting.flush_scripts()
        return SimpleString("OK")
    if sub == b"SHOW":
        body = scripting.scripts.get(args[2].lower())
        if body is None:
            raise NoScriptError("No matching script.")
        return body
    if sub == b"DEBUG":
        raise CommandError("SCRIPT DEBUG (the Lua debugger) is not supported by memvec")
    if sub == b"KILL":
        line = scripting.kill("script")
        if line:
            return ErrorReply(line)
        return SimpleString("OK")
    return [SimpleString(line) for line in _SCRIPT_HELP]
