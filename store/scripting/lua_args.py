"""Arguments of the library functions scripts call (``bit``, ``cmsgpack``, ``struct``), read
as Lua's C API reads them, and their errors in Lua's words.

``lua_number`` / ``lua_string`` are ``lua_tonumber`` / ``lua_tolstring``: a numeric string
is a number, a number is a string (``%.14g``). :class:`Args` checks them as
``luaL_checknumber`` / ``luaL_checklstring`` / ``luaL_optinteger`` do and raises
:class:`LuaError` with ``bad argument #n to 'name' (number expected, got string)``; a
missing argument is ``no value``, an explicit nil ``nil``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Args", "LuaError", "arg_error", "lua_number", "lua_string"]


class LuaError(Exception):
    """An error a library function raises in the script: ``str(err)`` is Lua's message
    (the interpreter prefixes the script's position, as ``luaL_error`` does)."""


def arg_error(fn: str, narg: int, message: str) -> LuaError:
    """``luaL_argerror``."""
    return LuaError(f"bad argument #{narg} to '{fn}' ({message})")


def lua_number(v: Any) -> float | None:
    """``lua_tonumber``: numbers, and strings that read as one (decimal, ``0x`` hex,
    surrounding spaces); None otherwise."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, bytes):
        text = v.strip(b" \t\n\v\f\r")
        if not text or b"_" in text:
            return None
        try:
            if text[:2].lower() == b"0x" or text[:3].lower() in (b"-0x", b"+0x"):
                return float(int(text, 16))
            return float(text)
        except ValueError:
            return None
    return None


def lua_string(v: Any) -> bytes | None:
    """``lua_tolstring``: strings, and numbers spelled as ``%.14g``; None otherwise."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return b"%.14g" % v


class Args:
    """The arguments of one call to library function ``fn``; indexes are 0-based, error
    texts 1-based as Lua's. ``type_name`` names a Lua value's type."""

    def __init__(self, fn: str, args: tuple[Any, ...], type_name: Callable[[Any], bytes]) -> None:
        self.fn = fn
        self.args = args
        self.type_name = type_name

    def got(self, i: int) -> str:
        if i >= len(self.args):
            return "no value"
        return self.type_name(self.args[i]).decode()

    def number(self, i: int) -> float:
        n = lua_number(self.args[i]) if i < len(self.args) else None
        if n is None:
            raise arg_error(self.fn, i + 1, f"number expected, got {self.got(i)}")
        return n

    def integer(self, i: int) -> int:
        """``luaL_checkinteger``: the number truncated toward zero."""
        n = self.number(i)
        return int(n) if n == n and abs(n) < 2.0**63 else -(2**63)

    def opt_integer(self, i: int, default: int) -> int:
        if i >= len(self.args) or self.args[i] is None:
            return default
        return self.integer(i)

    def string(self, i: int) -> bytes:
        s = lua_string(self.args[i]) if i < len(self.args) else None
        if s is None:
            raise arg_error(self.fn, i + 1, f"string expected, got {self.got(i)}")
        return s
