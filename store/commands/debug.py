"""``DEBUG``: of Redis's debugging subcommands, ``RELOAD`` only.

``DEBUG RELOAD [NOSAVE]`` takes a snapshot (as SAVE; NOSAVE: the newest one as it is) and
rebuilds the whole state from it and the log after it, in place, as a restart would
(:meth:`store.commands.context.Snapshots.reload_in_place`): keys, expiry, indexes (HNSW
graphs loaded from the snapshot) and function libraries. Clients see the state a restart
would recover, which is how RediSearch's tests use it (``env.dumpAndReload()``). It is
not logged: the state does not change. Redis's ``MERGE`` and ``NOFLUSH`` (load the dump on
top of the keys in memory) are refused, as are the other subcommands (object internals,
crashes, sleeps), naming what memvec has. Redis refuses every DEBUG subcommand unless
``enable-debug-command`` allows it; memvec allows RELOAD, which changes no data
(docs/compatibility.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CommandError
from ..replies import SimpleString
from .table import command

if TYPE_CHECKING:
    from .context import ExecContext


@command(
    "DEBUG",
    -2,
    "admin noscript loading stale",
    "admin slow dangerous",
    summary="A container for debugging commands.",
)
def debug(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """``DEBUG RELOAD [NOSAVE]`` (module docstring); other subcommands are refused."""
    sub = args[1].upper()
    if sub != b"RELOAD":
        name = args[1].decode("utf-8", "replace")
        raise CommandError(
            f"unknown subcommand or wrong number of arguments for '{name}'. "
            "memvec's DEBUG has RELOAD [NOSAVE] only"
        )
    options = {a.upper() for a in args[2:]}
    if not options <= {b"MERGE", b"NOFLUSH", b"NOSAVE"}:
        raise CommandError("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    if options & {b"MERGE", b"NOFLUSH"}:
        raise CommandError(
            "DEBUG RELOAD MERGE and NOFLUSH are not supported by memvec: the dump always "
            "replaces the whole state (DEBUG RELOAD [NOSAVE])"
        )
    ctx.snapshots.reload_in_place(save=b"NOSAVE" not in options)
    return SimpleString("OK")
