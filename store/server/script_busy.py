"""Scripts seen from the connections: running them off the event loop, BUSY, and
SCRIPT KILL / FUNCTION KILL.

Contract:

* EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL and FCALL_RO run on one script thread
  (:class:`ScriptGuard`), still as one engine command under the engine lock, so the
  event loop keeps reading clients while a script runs. The script is checked per
  ``redis.call`` against the calling user's ACL (:func:`authorizer`).
* While a script is pending, every other command (from any client) waits, off the
  engine lock, for it to finish: atomicity as in Redis, without blocking the loop.
  Once the running script has run ``busy-reply-threshold`` ms (``lua-time-limit``,
  default 5000) those commands are answered ``BUSY ...`` instead, except SCRIPT KILL,
  FUNCTION KILL and FUNCTION STATS, answered here without the engine lock, and
  SHUTDOWN NOSAVE, which stops the script even if it wrote (none of its writes reach the
  log, so a restart never sees part of a script) and then shuts down.
  SCRIPT KILL stops a script that has not written yet (the Lua count hook
  sees the request), else answers UNKILLABLE; FUNCTION KILL does the same for FCALL.
* Scripts inside MULTI/EXEC run with the transaction, on the event loop (no BUSY
  replies meanwhile; the count hook still honours a kill request).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..commands.functions import stats_reply
from ..commands.table import CommandSpec
from ..engine import Submitted
from ..errors import CommandError, StoreError
from ..replies import ErrorReply, SimpleString
from ..scripting import busy_line
from .acl import User, no_key_permission
from .cmdstats import SUBCOMMAND_CONTAINERS

if TYPE_CHECKING:
    from .app import Server
    from .connection import Connection

__all__ = ["SCRIPT_RUNNERS", "ScriptGuard", "authorizer", "declared_keys_allowed"]

SCRIPT_RUNNERS = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})
# How often a waiting command looks again whether the script ended or became busy.
POLL_S = 0.002


def authorizer(
    server: Server, user: User | None
) -> Callable[[CommandSpec, list[bytes]], None] | None:
    """The per-call ACL check of ``user`` (None: nothing to check), as the connection's."""
    if user is None or user.unrestricted:
        return None
    acl = server.acl

    def check(spec: CommandSpec, args: list[bytes]) -> None:
        sub = args[1] if spec.name in SUBCOMMAND_CONTAINERS and len(args) > 1 else None
        acl.check_command(user, spec.name, sub)
        if user.all_keys:
            return
        write = spec.is_write
        for key in spec.keys(args):
            if not user.can_access(key, write):
                raise no_key_permission()

    return check


def declared_keys_allowed(user: User, spec: CommandSpec, args: list[bytes]) -> bool:
    """Whether ``user`` may access the KEYS an EVAL/FCALL declares (its numkeys key
    spec, checked before the script runs, as the peer does; RO for the ``_RO`` forms).
    A malformed numkeys is left for the command itself to refuse."""
    try:
        numkeys = int(args[2])
    except ValueError:
        return True
    if numkeys < 0 or numkeys > len(args) - 3:
        return True
    write = "readonly" not in spec.flags
    return all(user.can_access(key, write) for key in args[3 : 3 + numkeys])


class ScriptGuard:
    """One per server. ``pending`` is the connection's one-attribute fast-path check."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.pending = 0  # scripts handed to the script thread and not finished
        self._executor: ThreadPoolExecutor | None = None

    @property
    def active(self) -> bool:
        return self.pending > 0

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def handle(
        self, conn: Connection, spec: CommandSpec, args: list[bytes]
    ) -> Submitted | None:
        """The outcome of ``args`` if this module answers it, None to run it as usual."""
        if self.pending:
            reply = await self._wait_or_busy(spec, args)
            if reply is not None:
                error = reply if isinstance(reply, StoreError) else None
                self.server.observe.done(conn, spec, args, 0, error)
                return Submitted(reply)
        if spec.name not in SCRIPT_RUNNERS:
            return None
        return await self._run(conn, spec, args)

    async def _run(self, conn: Connection, spec: CommandSpec, args: list[bytes]) -> Submitted:
        user = conn.user
        if user is not None and not user.all_keys and not declared_keys_allowed(user, spec, args):
            refused = no_key_permission()
            self.server.observe.done(conn, spec, args, 0, refused)
            return Submitted(None, None, refused)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="memvec-script")
        engine = self.server.engine
        call = functools.partial(
            engine.submit,
            spec,
            args,
            protocol=conn.protocol,
            authorize=authorizer(self.server, conn.user),
        )
        self.pending += 1
        started = time.perf_counter_ns()
        try:
            done = await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except Exception as exc:  # a bug in a handler: answer it, keep serving
            done = Submitted(None, None, CommandError(f"internal error in {spec.name}: {exc!r}"))
        finally:
            self.pending -= 1
        self.server.observe.done(conn, spec, args, time.perf_counter_ns() - started, done.error)
        return done

    async def _wait_or_busy(self, spec: CommandSpec, args: list[bytes]) -> Any:
        """Wait while a script runs; None once none does, else the reply to give now."""
        scripting = self.server.engine.scripting
        while self.pending:
            run = scripting.running
            threshold = self.server.config.busy_reply_threshold_ms
            if run is not None and (time.monotonic() - run.started) * 1000 >= threshold:
                sub = args[1].upper() if len(args) > 1 else b""
                if spec.name == "SCRIPT" and sub == b"KILL":
                    return _kill_reply(scripting.kill("script"))
                if spec.name == "FUNCTION" and sub == b"KILL":
                    return _kill_reply(scripting.kill("function"))
                if spec.name == "FUNCTION" and sub == b"STATS":
                    running = None  # an EVAL script is not reported, as on the peer
                    if run.kind == "function":
                        running = {
                            b"name": run.name,
                            b"command": list(run.command),
                            b"duration_ms": int((time.monotonic() - run.started) * 1000),
                        }
                    return stats_reply(scripting.libraries, running)
                if spec.name == "SHUTDOWN":
                    if any(a.upper() == b"NOSAVE" for a in args[1:]):
                        scripting.abandon()  # the escape hatch: stop it, then shut down
                        return None
                    return ErrorReply(busy_line(run.kind))
                return ErrorReply(busy_line(run.kind))
            await asyncio.sleep(POLL_S)
        return None


def _kill_reply(line: str) -> Any:
    return ErrorReply(line) if line else SimpleString("OK")
