"""Redis's type conversions between Lua values and replies, both ways.

Reply -> Lua (what ``redis.call`` returns), by the protocol the script chose with
``redis.setresp`` (2 by default)::

    reply                       RESP2 script                RESP3 script
    integer                     number                      number
    bulk string                 string                      string
    nil / null array            false                       nil
    status (SimpleString)       {ok = s}                    {ok = s}
    error                       raised / {err = e}          raised / {err = e}
    array, set, push            table (array)               table / {set = {k = true}}
    map (dict)                  flat table k1 v1 ...        {map = {k = v}}
    double                      string (its RESP2 text)     {double = n}
    boolean                     1 / false                   true / false
    big number                  string                      {big_number = s}
    verbatim                    string                      {verbatim_string = {format, string}}

Lua -> reply (what the script returns): a number is truncated to an integer, a string is
a bulk string, ``true`` is 1 and ``false`` nil (a RESP3 script's booleans stay booleans),
a table with ``err`` / ``ok`` is an error / status reply, with ``double`` / ``map`` /
``set`` / ``big_number`` the RESP3 type (the writer downgrades them for a RESP2 client),
any other table an array that stops at its first nil.
"""

from __future__ import annotations

import math
from typing import Any

from ..commands.util import format_float
from ..errors import StoreError
from ..replies import BigNumber, ErrorReply, NullArray, SimpleString, Verbatim

__all__ = ["lua_to_reply", "number_arg", "reply_to_lua"]

MAX_DEPTH = 200  # nesting a reply may have (Python recursion, not Lua, bounds it)


def number_arg(value: float | int) -> bytes:
    """A Lua number as the string Lua's ``tostring`` gives it (``%.14g``): the command
    argument ``redis.call`` passes for it."""
    if isinstance(value, int):
        return b"%d" % value
    if value != value:
        return b"nan" if math.copysign(1.0, value) > 0 else b"-nan"
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if value == int(value) and abs(value) < 1e15:
        return b"%d" % int(value)
    return (b"%.14g" % value).replace(b"e+0", b"e+").replace(b"e-0", b"e-")


def reply_to_lua(lua: Any, value: Any, resp: int) -> Any:
    """A handler's reply as the Lua value ``redis.call`` returns. Errors are the caller's."""
    table = lua.table_from
    t = type(value)
    if t is bytes:
        return value
    if t is int:
        return value
    if value is None or isinstance(value, NullArray):
        return None if resp == 3 else False
    if t is str:
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, SimpleString):
        return table({b"ok": str(value).encode("utf-8", "surrogateescape")})
    if isinstance(value, bool):
        if resp == 3:
            return value
        return 1 if value else False
    if isinstance(value, BigNumber):
        digits = b"%d" % int(value)
        return table({b"big_number": digits}) if resp == 3 else digits
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if resp == 3:
            return table({b"double": value})
        return format_float(value)
    if isinstance(value, Verbatim):
        text = value.text
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        if resp == 3:
            inner = table({b"format": value.format[:3].encode(), b"string": data})
            return table({b"verbatim_string": inner})
        return data
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, dict):
        if resp == 3:
            mapping = {
                reply_to_lua(lua, k, resp): reply_to_lua(lua, v, resp) for k, v in value.items()
            }
            return table({b"map": table(mapping)})
        flat: list[Any] = []
        for k, v in value.items():
            flat.append(reply_to_lua(lua, k, resp))
            flat.append(reply_to_lua(lua, v, resp))
        return table(flat)
    if isinstance(value, (set, frozenset)):
        if resp == 3:
            return table({b"set": table({reply_to_lua(lua, k, resp): True for k in value})})
        return table([reply_to_lua(lua, v, resp) for v in value])
    if isinstance(value, (list, tuple)):
        return table([reply_to_lua(lua, v, resp) for v in value])
    if isinstance(value, (ErrorReply, StoreError)):
        raise TypeError("errors are converted by the caller")
    if isinstance(value, float | int):
        return value
    raise TypeError(f"cannot give a {type(value).__name__} reply to Lua")


def lua_to_reply(runtime: Any, value: Any, resp: int, depth: int = 0) -> Any:
    """A script's return value (or a value inside it) as a reply."""
    if value is None:
        return None
    t = type(value)
    if t is bytes:
        return value
    if t is bool:
        if resp == 3:
            return value
        return 1 if value else None
    if t is int or t is float:
        if value != value or not -(2.0**63) <= value < 2.0**63:
            return _clamp(value)
        return int(value)  # C's cast: toward zero
    if depth > MAX_DEPTH:
        return ErrorReply("ERR reached lua stack limit")
    kind = runtime.type(value)
    if kind != b"table":
        return None  # functions, userdata, threads: nil, as in Redis
    err, ok, double, big, mapping, members = runtime.shape(value)
    if type(err) is bytes:
        return ErrorReply(err.decode("utf-8", "surrogateescape"))
    if type(ok) is bytes:
        return SimpleString(ok.decode("utf-8", "surrogateescape"))
    if type(double) in (int, float):
        return float(double)
    if type(big) is bytes:
        try:
            return BigNumber(int(big))
        except ValueError:
            return big
    if mapping is not None and runtime.type(mapping) == b"table":
        return {
            _key(lua_to_reply(runtime, k, resp, depth + 1)): lua_to_reply(
                runtime, v, resp, depth + 1
            )
            for k, v in mapping.items()
        }
    if members is not None and runtime.type(members) == b"table":
        return {_key(lua_to_reply(runtime, k, resp, depth + 1)) for k in members}
    array, n = runtime.array(value)
    return [lua_to_reply(runtime, array[i], resp, depth + 1) for i in range(1, n + 1)]


def _clamp(value: float) -> int:
    # (long long) of inf, nan or anything past its range is undefined in C; x86-64 gives
    # LLONG_MIN, as the peer shows (`return 2^64` answers -9223372036854775808)
    return -(2**63)


def _key(value: Any) -> Any:
    # map keys and set members must be hashable: an array key becomes a tuple
    if isinstance(value, list):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(value.items())
    return value
