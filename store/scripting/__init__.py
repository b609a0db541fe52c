"""Lua scripting: EVAL scripts and FUNCTION libraries on a sandboxed Lua 5.1.

Modules, one concept each: ``prelude`` (the Lua side of the sandbox), ``interpreter``
(the lupa runtime: compile, run, the host functions), ``convert`` (Lua <-> reply
conversions), ``libs`` (``cjson`` and ``bit``), ``calls`` (one run and its
``redis.call``), ``libraries`` (FUNCTION libraries) and ``engine_state`` (what the
engine owns: :class:`Scripting`). Commands are in :mod:`store.commands.scripting` and
:mod:`store.commands.functions`; BUSY and SCRIPT KILL in :mod:`store.server.script_busy`.
"""

from .calls import ScriptRun
from .engine_state import NoScriptError, Scripting, busy_line, sha1hex
from .libraries import Libraries

__all__ = ["Libraries", "NoScriptError", "ScriptRun", "Scripting", "busy_line", "sha1hex"]
