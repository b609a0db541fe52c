"""What the engine owns for scripting: :class:`Scripting`.

* The EVAL script cache (sha1 -> body, and the compiled function): SCRIPT LOAD / EXISTS /
  FLUSH. Not replicated and not persisted (Redis 7 semantics: EVALSHA on a replica or
  after a restart answers NOSCRIPT until the script is loaded there).
* The FUNCTION libraries (:class:`store.scripting.libraries.Libraries`): state, in
  snapshots and in the log.
* The script running now (:attr:`running`), for BUSY replies and SCRIPT/FUNCTION KILL,
  which the server reads without the engine lock.

``admit`` and ``expire`` are the engine's admission (READONLY, OOM) and lazy expiry for
one call: the engine sets them, so a ``redis.call`` takes the client command's path.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lupa.lua51 import LuaError

from ..commands.table import CommandSpec
from ..errors import CommandError, StoreError
from ..replies import ErrorReply
from .calls import Expirer, ScriptRun
from .interpreter import CompileError, Interpreter, ScriptFailure
from .libraries import FUNCTION_FLAGS, Libraries

if TYPE_CHECKING:
    from ..commands.context import ExecContext

__all__ = ["NoScriptError", "Scripting", "busy_line", "sha1hex"]

# Default busy-reply-threshold (lua-time-limit), ms.
DEFAULT_BUSY_MS = 5000


EVAL_CACHE_LIMIT = 500  # valkey's LRU_LIST_LENGTH


def sha1hex(body: bytes) -> bytes:
    return hashlib.sha1(body).hexdigest().encode()


def _no_admission(spec: CommandSpec) -> None:
    return None


def _no_expiry(spec: CommandSpec, args: list[bytes], now_ms: int) -> list[list[bytes]]:
    return []


class Scripting:
    """Scripts and functions of one engine. Every method but the ``running`` readers
    is called under the engine lock."""

    def __init__(self) -> None:
        self.scripts: dict[bytes, bytes] = {}
        # scripts cached by EVAL (not SCRIPT LOAD), least recently run first: past
        # EVAL_CACHE_LIMIT the oldest is evicted, as Redis 8 / valkey 8.1+ do, so clients
        # that build a new script per call cannot grow the cache without bound
        self.eval_lru: OrderedDict[bytes, None] = OrderedDict()
        self.evicted_scripts = 0
        self.compiled: dict[bytes, Any] = {}
        self.flags: dict[bytes, frozenset[str]] = {}  # a script's shebang flags
        self.libraries = Libraries()
        self.running: ScriptRun | None = None
        self.admit: Callable[[CommandSpec], None] = _no_admission
        self.expire: Expirer = _no_expiry
        self.busy_threshold_ms = DEFAULT_BUSY_MS
        self._interpreter: Interpreter | None = None

    @property
    def interpreter(self) -> Interpreter:
        if self._interpreter is None:
            self._interpreter = Interpreter("@user_script")
        return self._interpreter

    # -- the script cache ------------------------------------------------------------------
    def load_script(self, body: bytes, by_eval: bool = False) -> bytes:
        """SCRIPT LOAD (or EVAL's load, ``by_eval``): compile (errors as the peer) and
        cache; the sha1. A script EVAL cached joins the eviction order (evicting the
        least recently run one past :data:`EVAL_CACHE_LIMIT`); SCRIPT LOAD of a script
        EVAL cached takes it out of that order for good, as on the peer."""
        sha = sha1hex(body)
        if sha in self.compiled:
            if not by_eval:
                self.eval_lru.pop(sha, None)
            return sha
        code, flags = script_shebang(body)
        try:
            compiled = self.interpreter.compile(code)
        except CompileError as exc:
            raise CommandError(f"Error compiling script (new function): {exc}") from None
        if by_eval:
            while len(self.eval_lru) >= EVAL_CACHE_LIMIT:
                oldest, _ = self.eval_lru.popitem(last=False)
                del self.scripts[oldest], self.compiled[oldest]
                self.flags.pop(oldest, None)
                self.evicted_scripts += 1
            self.eval_lru[sha] = None
        self.compiled[sha] = compiled
        self.scripts[sha] = body
        self.flags[sha] = flags
        return sha

    def flush_scripts(self) -> None:
        self.scripts.clear()
        self.compiled.clear()
        self.flags.clear()
        self.eval_lru.clear()
        self._interpreter = None

    # -- running ---------------------------------------------------------------------------
    def eval(
        self,
        ctx: ExecContext,
        *,
        body: bytes | None,
        sha: bytes | None,
        keys: list[bytes],
        args: list[bytes],
        read_only: bool,
    ) -> Any:
        """EVAL (``body``) or EVALSHA (``sha``): the script's reply, or an ErrorReply."""
        if body is not None:
            sha = self.load_script(body, by_eval=True)
        assert sha is not None
        sha = sha.lower()
        fn = self.compiled.get(sha)
        if fn is None:
            raise NoScriptError("No matching script.")
        if sha in self.eval_lru:  # run: the most recently used (moved before, as after)
            self.eval_lru.move_to_end(sha)
        interp = self.interpreter
        run = ScriptRun(
            ctx,
            interp,
            name=b"f_" + sha,
            kind="script",
            read_only=read_only or "no-writes" in self.flags.get(sha, ()),
            admit=self.admit,
            expire=self.expire,
        )
        run.command = [b"eval" if body is not None else b"evalsha", body or sha, b"%d" % len(keys)]
        run.command += keys + args
        return self._run(interp, fn, run, keys, args)

    def fcall(
        self, ctx: ExecContext, name: bytes, keys: list[bytes], args: list[bytes], read_only: bool
    ) -> Any:
        """FCALL / FCALL_RO: the function's reply, or an ErrorReply."""
        found = self.libraries.functions.get(name.lower())
        if found is None:
            raise CommandError("Function not found")
        _, fn = found
        no_writes = "no-writes" in fn.flags
        if read_only and not no_writes:
            raise CommandError("Can not execute a script with write flag using *_ro command.")
        interp = self.libraries.interpreter
        run = ScriptRun(
            ctx,
            interp,
            name=name,
            kind="function",
            read_only=read_only or no_writes,
            admit=self.admit,
            expire=self.expire,
        )
        run.command = [b"fcall_ro" if read_only else b"fcall", name, b"%d" % len(keys)]
        run.command += keys + args
        return self._run(interp, fn.callback, run, keys, args)

    def _run(
        self, interp: Interpreter, fn: Any, run: ScriptRun, keys: list[bytes], args: list[bytes]
    ) -> Any:
        self.running = run
        try:
            return interp.run(fn, run, keys, args)
        except ScriptFailure as exc:
            if run.abandoned:  # SHUTDOWN NOSAVE: its partial writes must not be logged
                run.ctx.dirty, run.ctx.log_commands = False, None
            return ErrorReply(exc.reply_line())
        except LuaError as exc:  # raised outside the script's xpcall (a conversion)
            first = str(exc).splitlines()[0] if str(exc) else "Lua error"
            return ErrorReply(f"ERR {first}")
        finally:
            self.running = None

    def abandon(self) -> None:
        """SHUTDOWN NOSAVE while a script runs (any thread): stop it even if it wrote, and
        log none of its writes, so the log (what a restart replays) never holds part of
        a script. Memory keeps them until the process exits."""
        run = self.running
        if run is not None:
            run.abandoned = True
            run.kill_requested = True

    def kill(self, kind: str) -> str:
        """SCRIPT KILL (``kind`` "script") or FUNCTION KILL ("function"), from any thread:
        "" if the kill was requested, else the error line to answer."""
        run = self.running
        if run is None:
            return "NOTBUSY No scripts in execution right now."
        if run.wrote:
            return (
                "UNKILLABLE Sorry the script already executed write commands against the "
                "dataset. You can either wait the script termination or kill the server in a "
                "hard way using the SHUTDOWN NOSAVE command."
            )
        if run.kind != kind:  # SCRIPT KILL of a function, FUNCTION KILL of a script
            return busy_line(run.kind)
        run.kill_requested = True
        return ""


def script_shebang(body: bytes) -> tuple[bytes, frozenset[str]]:
    """An EVAL body's ``#!lua flags=a,b`` line (Redis 7): the code to compile (that line
    blanked, so line numbers stay) and the flags. No shebang: the body, no flags."""
    if not body.startswith(b"#!"):
        return body, frozenset()
    first, newline, rest = body.partition(b"\n")
    parts = first[2:].split()
    engine = parts[0].decode("utf-8", "replace") if parts else ""
    if engine != "lua":
        raise CommandError(f"Could not find scripting engine '{engine}'")
    flags: set[str] = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise CommandError(f"Unknown lua shebang option: {part.decode('utf-8', 'replace')}")
        for flag in part[6:].split(b","):
            text = flag.decode("utf-8", "replace")
            if text and text not in FUNCTION_FLAGS:
                raise CommandError(f"Unexpected flag in script shebang: {text}")
            if text:
                flags.add(text)
    return newline + rest, frozenset(flags)


def busy_line(kind: str) -> str:
    """The BUSY error while a ``kind`` ("script" or "function") runs, as the peer's."""
    kill = "SCRIPT KILL" if kind == "script" else "FUNCTION KILL"
    return f"BUSY Valkey is busy running a script. You can only call {kill} or SHUTDOWN NOSAVE."


class NoScriptError(StoreError):
    """EVALSHA of a sha1 the script cache does not hold."""

    prefix = "NOSCRIPT"
    http_status = 404
