"""A sandboxed Lua 5.1 interpreter (lupa's ``lua51``, the Lua version Redis embeds).

Contract: :class:`Interpreter` compiles script bodies into Lua functions
(:meth:`compile`) and runs them (:meth:`run`) for one :class:`ScriptRun` at a time (the
engine lock serialises scripts). The globals are Redis's whitelist (``store.scripting
.prelude``); reading a missing global or creating one is an error, and whatever a script
changed in the global table through ``rawset`` is put back after it (:meth:`run`).

Why lupa: it is a maintained binding with wheels (no compiler, no system package), it
embeds PUC Lua 5.1 as Redis does (so number formatting, table order and error texts
agree), and a call into Lua costs microseconds (measured: EVAL "return 1" is dominated
by the server's own dispatch, see the module docs of :mod:`store.commands.scripting`).
Strings cross as bytes (``encoding=None``): scripts are binary-safe.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any

import lupa.lua51 as lua51

from ..commands.table import resolve
from ..errors import StoreError
from .calls import ScriptRun
from .convert import lua_to_reply
from .libs import bit_functions, json_decoder, json_encoder
from .msgpack import msgpack_functions
from .prelude import PRELUDE
from .struct_lib import struct_functions

__all__ = ["CompileError", "Interpreter", "ScriptFailure"]

log = logging.getLogger("memvec.scripting")

_LOG_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.INFO, 3: logging.WARNING}


class CompileError(Exception):
    """The body does not compile; ``str()`` is Lua's message (``user_script:1: ...``)."""


class ScriptFailure(Exception):
    """A script raised: ``message`` is the error text, ``source``/``line`` where."""

    def __init__(self, message: str, source: str | None, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line

    def reply_line(self) -> str:
        """The error the client gets, as the peer words it."""
        if self.source is None:
            return self.message
        return f"{self.message} script: on {self.source}:{self.line}."


def _deny(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Python attributes are not reachable from scripts")


class Interpreter:
    """One Lua state. ``source`` names its chunks: ``@user_script`` or ``@user_function``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.current: ScriptRun | None = None
        # cjson.encode_max_depth / decode_max_depth: per Lua state, as lua-cjson's
        self.json_settings = {
            "encode_max_depth": 1000,
            "decode_max_depth": 1000,
            "encode_invalid_numbers": 0,
        }
        self.lua = lua51.LuaRuntime(
            encoding=None,
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            attribute_filter=_deny,
        )
        fix = functools.partial(lua_results, self.lua)
        host = self.lua.table_from(
            {
                b"call": self._call,
                b"raising_call": self._raising_call,
                b"unwrap": _unwrap,
                b"sha1hex": fix(_sha1hex),
                b"log": fix(_log),
                b"setresp": fix(self._setresp),
                b"acl_check_cmd": fix(self._acl_check_cmd),
                b"killed": self._killed,
                b"kill_error": self._kill_error,
                b"json_encode": fix(json_encoder(self, self.json_settings)),
                b"json_decode": fix(json_decoder(self.lua, self.json_settings)),
                b"json_config": self._json_config,
                b"bit": self.lua.table_from(
                    {k: self._c_function(f) for k, f in bit_functions(self.type).items()}
                ),
                b"msgpack": self.lua.table_from(
                    {k: self._c_function(f) for k, f in msgpack_functions(self, self.type).items()}
                ),
                b"struct": self.lua.table_from(
                    {k: self._c_function(f) for k, f in struct_functions(self.type).items()}
                ),
            }
        )
        self.api = self.lua.execute(PRELUDE, host)
        self._type = self.api[b"type"]
        self._is_null = self.api[b"is_null"]
        self.shape = self.api[b"shape"]
        self.array = self.api[b"array"]

    # -- used by conversions --------------------------------------------------------------
    def type(self, value: Any) -> bytes:
        return bytes(self._type(value))

    def is_null(self, value: Any) -> bool:
        """Whether ``value`` is ``cjson.null``."""
        return bool(self._is_null(value))

    def table_from(self, value: Any) -> Any:
        return self.lua.table_from(value)

    # -- compile and run --------------------------------------------------------------------
    def compile(self, body: bytes) -> Any:
        """The body as a Lua function; raises :class:`CompileError`."""
        fn, err = self.api[b"compile"](body, self.source.encode())
        if fn is None:
            raise CompileError(bytes(err).decode("utf-8", "replace"))
        return fn

    def run(self, fn: Any, run: ScriptRun, keys: list[bytes], args: list[bytes]) -> Any:
        """Call ``fn``: EVAL bodies read the KEYS/ARGV globals, functions get
        ``(keys, args)``. Returns the reply; raises :class:`ScriptFailure`."""
        table = self.lua.table_from
        lua_keys, lua_args = table(keys), table(args)
        self.current = run
        try:
            self.api[b"set_args"](lua_keys, lua_args)
            ok, value = self.api[b"run"](fn, lua_keys, lua_args)
            if not ok:
                raise self.failure(value)
            return lua_to_reply(self, value, run.resp)
        finally:
            self.current = None
            self.api[b"restore"]()

    def failure(self, value: Any) -> ScriptFailure:
        """The :class:`ScriptFailure` for the error handler's table."""
        if value is None or self.type(value) != b"table":
            return ScriptFailure(f"ERR {value!r}", None, None)
        msg = value[b"err"]
        source = value[b"source"]
        line = value[b"line"]
        text = bytes(msg).decode("utf-8", "surrogateescape") if msg is not None else "ERR"
        return ScriptFailure(
            text,
            bytes(source).decode("utf-8", "replace") if source is not None else None,
            int(line) if line is not None else None,
        )

    def load_library(self, fn: Any, register: Any, run: ScriptRun | None) -> None:
        """Run a library body with FUNCTION LOAD's restricted ``redis`` table."""
        self.current = run
        try:
            ok, value = self.api[b"with_load_api"](register, fn)
            if not ok:
                raise self.failure(value)
        finally:
            self.current = None
            self.api[b"restore"]()

    # -- host functions (the prelude wraps each; they answer (ok, value)) ---------------
    def _call(self, raise_errors: bool, *args: Any) -> tuple[bool, Any]:
        run = self.current
        if run is None:  # called from a library body at load time: not reachable
            return False, self.lua.table_from({b"err": b"ERR redis.call is not available"})
        return run.call(raise_errors, *args)

    def _c_function(self, fn: Callable[..., tuple[Any, ...]]) -> Callable[..., Any]:
        """``fn`` (answering ``(ok, value, ...)``) as a function scripts call directly, as
        Redis's C library functions: its values on success; on failure a
        :class:`LibraryFailed` whose text starts with the calling script's position, as
        ``luaL_error`` writes it (the handler and the script's pcall unwrap it)."""

        def call(*args: Any) -> Any:
            ok, *values = fn(*args)
            if ok:
                return values[0] if len(values) == 1 else tuple(values)
            message = values[0]
            text = message.encode() if isinstance(message, str) else bytes(message)
            raise LibraryFailed(bytes(self.api[b"where"]()) + text)

        return call

    def _raising_call(self, *args: Any) -> Any:
        ok, value = self._call(True, *args)
        if not ok:
            raise CallFailed(value)
        return value

    def _json_config(self, name: bytes | str, value: Any = None) -> Any:
        key = name.decode() if isinstance(name, bytes) else name
        if (key == "encode_invalid_numbers" and isinstance(value, bool)) or (
            isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1
        ):
            self.json_settings[key] = int(value)
        return self.json_settings[key]

    def _setresp(self, *args: Any) -> tuple[bool, Any]:
        if len(args) != 1:
            return False, ApiError("ERR redis.setresp() requires one argument.")
        resp = args[0]
        if resp not in (2, 3):
            return False, ApiError("ERR RESP version must be 2 or 3.")
        if self.current is not None:
            self.current.resp = int(resp)
        return True, None

    def _acl_check_cmd(self, *args: Any) -> tuple[bool, Any]:
        run = self.current
        if run is None or not args:
            return False, ApiError("ERR Please specify at least one argument for this call")
        try:
            argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
            spec = resolve(argv)
        except StoreError:
            return False, ApiError("ERR Invalid command passed to server.acl_check_cmd()")
        if run.ctx.authorize is None:
            return True, True
        try:
            run.ctx.authorize(spec, argv)
        except StoreError:
            return True, False
        return True, True

    def _killed(self) -> bool:
        run = self.current
        return run is not None and run.kill_requested

    def _kill_error(self) -> bytes:
        run = self.current
        return run.kill_error() if run is not None else b"ERR Script killed"


class ApiError(str):
    """An error of the redis API (setresp, log, ...): raised as an error table, without a
    ``user_script:N:`` prefix, as the peer raises them (:func:`lua_results`)."""


def lua_results(lua: Any, fn: Any) -> Any:
    """``fn`` with its ``(ok, value, ...)`` made Lua-ready: a ``str`` message becomes Lua
    bytes (a Python str would reach Lua as a userdata) and an :class:`ApiError` an error
    table."""

    def call(*args: Any) -> Any:
        result = fn(*args)
        if not isinstance(result, tuple):
            return result
        out = []
        for item in result:
            if isinstance(item, ApiError):
                item = lua.table_from({b"err": item.encode()})
            elif isinstance(item, str):
                item = item.encode("utf-8", "surrogateescape")
            out.append(item)
        return tuple(out)

    return call


class CallFailed(Exception):
    """``redis.call`` answered an error: raised through Lua, unwrapped to ``table``."""

    def __init__(self, table: Any) -> None:
        super().__init__("redis.call failed")
        self.table = table


class LibraryFailed(Exception):
    """A library function (``struct``) failed: ``text`` is the Lua error message."""

    def __init__(self, text: bytes) -> None:
        super().__init__("library function failed")
        self.text = text


def _unwrap(value: Any) -> Any:
    if isinstance(value, LibraryFailed):
        return value.text
    return value.table if isinstance(value, CallFailed) else None


def _sha1hex(*args: Any) -> tuple[bool, Any]:
    if len(args) != 1:
        return False, b"wrong number of arguments"
    value = args[0]
    data = value if isinstance(value, bytes) else str(value).encode()
    return True, hashlib.sha1(data).hexdigest().encode()


def _log(*args: Any) -> tuple[bool, Any]:
    if len(args) < 2:
        return False, ApiError("ERR redis.log() requires two arguments or more.")
    level = args[0]
    if level not in _LOG_LEVELS:
        return False, ApiError("ERR Invalid debug level.")
    parts = [a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in args[1:]]
    log.log(_LOG_LEVELS[int(level)], "%s", " ".join(parts))
    return True, None
