"""One script execution and its ``redis.call``: :class:`ScriptRun`.

Each ``redis.call`` takes the path a client command takes: the one command table
(:func:`store.commands.table.resolve`), the ACL check of the calling user
(``ExecContext.authorize``), the engine's admission (READONLY on a replica, OOM), the
lazy expiry of the keys a write touches, then the command's own handler with a
sub-:class:`ExecContext` sharing the keyspace (``may_block`` False: a blocking command
answers its timeout reply at once). What each call logged (its ``ctx.logged()``, with
deterministic rewrites such as SPOP -> SREM kept) is appended to the run's effects, and
the script's context logs those effects, in order, in one record: replay and replicas
never run Lua.

Errors use the peer's texts (Valkey 9 / Redis 7.2): ``redis.call`` raises an error table,
``redis.pcall`` returns it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..commands.table import CommandSpec, resolve
from ..errors import ArityError, NoPermError, StoreError, UnknownCommandError
from ..replies import ErrorReply, SimpleString
from .convert import number_arg, reply_to_lua

if TYPE_CHECKING:
    from ..commands.context import ExecContext

__all__ = ["ScriptRun"]

# Connection-scope commands a script may still call: they touch no connection state.
INLINE = frozenset({"PING", "ECHO", "WAIT"})

# (spec, args, now_ms) -> the commands to log for keys a write finds expired
Expirer = Callable[[CommandSpec, list[bytes], int], list[list[bytes]]]


class ScriptRun:
    """The state of one EVAL/FCALL while it runs (under the engine lock).

    ``read_only``: EVAL_RO, FCALL_RO, or a ``no-writes`` function. ``wrote`` turns True at
    the first write that changed data: from then on SCRIPT KILL answers UNKILLABLE.
    ``kill_requested`` is set (from another thread) by SCRIPT KILL / FUNCTION KILL; the
    interpreter's count hook raises the kill error when it sees it.
    """

    def __init__(
        self,
        ctx: ExecContext,
        lua: Any,
        *,
        name: bytes,
        kind: str,
        read_only: bool,
        admit: Callable[[CommandSpec], None],
        expire: Expirer,
    ) -> None:
        self.ctx = ctx
        self.lua = lua
        self.name = name
        self.kind = kind  # "script" (EVAL) or "function" (FCALL)
        self.read_only = read_only
        self.admit = admit
        self.expire = expire
        self.resp = 2
        self.wrote = False
        self.kill_requested = False
        self.abandoned = False  # stopped by SHUTDOWN NOSAVE: its writes are not logged
        self.started = time.monotonic()
        self.effects: list[list[bytes]] = []
        self.command: list[bytes] = []  # the EVAL/FCALL call, for FUNCTION STATS
        self.sub: ExecContext | None = None  # the context each redis.call runs in

    # -- redis.call / redis.pcall ---------------------------------------------------------
    def call(self, raise_errors: bool, *raw: Any) -> tuple[bool, Any]:
        """``(True, value)`` or ``(False, error table)``; never raises."""
        try:
            reply = self.dispatch(raw)
        except StoreError as exc:
            return False, self.error_table(exc.resp_line())
        except _CallError as exc:
            return False, self.error_table(str(exc))
        if isinstance(reply, ErrorReply):
            return False, self.error_table(str(reply))
        if isinstance(reply, StoreError):
            return False, self.error_table(reply.resp_line())
        return True, reply_to_lua(self.lua, reply, self.resp)

    def error_table(self, line: str) -> Any:
        return self.lua.table_from({b"err": line.encode("utf-8", "surrogateescape")})

    def dispatch(self, raw: tuple[Any, ...]) -> Any:
        if not raw:
            raise _CallError("ERR Please specify at least one argument for this call")
        args: list[bytes] = []
        for a in raw:
            if type(a) is bytes:
                args.append(a)
            elif isinstance(a, (int, float)) and not isinstance(a, bool):
                args.append(number_arg(a))
            else:
                raise _CallError("ERR Command arguments must be strings or integers")
        try:
            spec = resolve(args)
        except UnknownCommandError:
            raise _CallError("ERR Unknown command called from script") from None
        except ArityError:
            raise _CallError("ERR Wrong number of args calling command from script") from None
        if spec.scope == "connection":
            if spec.name not in INLINE:
                raise _CallError("ERR This Valkey command is not allowed from script")
            if spec.name == "PING":
                return SimpleString("PONG") if len(args) == 1 else args[1]
            if spec.name == "ECHO":
                return args[1]
            return 0  # WAIT: a script cannot wait, no replica acknowledged yet
        if "noscript" in spec.flags:
            raise _CallError("ERR This Valkey command is not allowed from script")
        if spec.is_write and self.read_only:
            raise _CallError("ERR Write commands are not allowed from read-only scripts.")
        ctx = self.ctx
        if ctx.authorize is not None:
            try:
                ctx.authorize(spec, args)
            except NoPermError as exc:
                raise _CallError(f"ERR ACL failure in script: {exc.message}") from None
        self.admit(spec)
        if spec.is_write:
            expired = self.expire(spec, args, ctx.now_ms)
            if expired:
                self.note_effects(expired)
        sub = self.sub
        if sub is None:  # one sub-context per run, its outputs reset per call (cheaper)
            sub = self.sub = dataclasses.replace(ctx, may_block=False)
        sub.dirty, sub.log_args, sub.log_commands = False, None, None
        sub.protocol = self.resp
        assert spec.handler is not None
        try:
            return spec.handler(sub, args)
        finally:
            if sub.dirty:
                self.note_effects(sub.logged(args))

    def note_effects(self, commands: list[list[bytes]]) -> None:
        """Record writes to log: they go into the script's context at once, so a script
        that fails after writing still logs what it did (Redis does not roll back)."""
        self.wrote = True
        self.effects.extend(commands)
        self.ctx.dirty = True
        self.ctx.log_commands = self.effects

    # -- the hook's questions --------------------------------------------------------------
    def killed(self) -> bool:
        return self.kill_requested

    def kill_error(self) -> bytes:
        what = "SCRIPT KILL" if self.kind == "script" else "FUNCTION KILL"
        return f"ERR Script killed by user with {what}.".encode()


class _CallError(Exception):
    """A redis.call refusal given as its whole error line."""
