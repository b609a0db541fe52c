"""``cjson`` and ``bit`` for scripts, as Python functions the prelude wraps.

lupa's Lua 5.1 ships neither; Redis ships both (and ``cmsgpack`` and ``struct``, in
:mod:`.msgpack` and :mod:`.struct_lib`). Every function answers ``(ok, value)`` and never
raises: the prelude raises the Lua error.

``bit`` follows LuaBitOp: arguments are normalised to signed 32-bit integers, results
are signed 32-bit. ``cjson`` follows lua-cjson's defaults: a table whose keys are exactly
1..n is an array, an empty table is ``{}``, numbers print as ``%.14g``, ``null`` decodes
to the ``cjson.null`` sentinel.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from .lua_args import Args, LuaError

__all__ = ["bit_functions", "json_decoder", "json_encoder"]


def _tobit(x: Any) -> int:
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            x = 0
        else:
            x = round(x)  # LuaBitOp's 2^52+2^51 trick rounds half to even, as round()
    x = int(x) & 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def _u(x: Any) -> int:
    return _tobit(x) & 0xFFFFFFFF


def _band(*xs: Any) -> int:
    r = -1
    for x in xs:
        r &= _tobit(x)
    return _tobit(r)


def _bor(*xs: Any) -> int:
    r = 0
    for x in xs:
        r |= _tobit(x)
    return _tobit(r)


def _bxor(*xs: Any) -> int:
    r = 0
    for x in xs:
        r ^= _tobit(x)
    return _tobit(r)


def _rol(x: Any, n: Any) -> int:
    v, s = _u(x), _tobit(n) & 31
    return _tobit((v << s) | (v >> (32 - s)))


def _ror(x: Any, n: Any) -> int:
    v, s = _u(x), _tobit(n) & 31
    return _tobit((v >> s) | (v << (32 - s)))


def _bswap(x: Any) -> int:
    return _tobit(int.from_bytes(_u(x).to_bytes(4, "little"), "big"))


def _tohex(x: Any, n: Any = 8) -> str:
    width = _tobit(n)
    digits = "0123456789ABCDEF" if width < 0 else "0123456789abcdef"
    width = min(abs(width), 8)
    v = _u(x)
    out = "".join(digits[(v >> (4 * i)) & 15] for i in range(width - 1, -1, -1))
    return out


def bit_functions(type_name: Callable[[Any], bytes]) -> dict[bytes, Callable[..., tuple[Any, ...]]]:
    """The ``bit`` table's functions, by name, answering ``(ok, value)``; arguments are
    checked as LuaBitOp's ``barg`` does (numeric strings are numbers; the first argument
    first, then the others from the last), errors in Lua's words."""

    def fixed(name: str, count: int, fn: Callable[..., int]) -> Callable[..., tuple[Any, ...]]:
        def call(*args: Any) -> tuple[Any, ...]:
            a = Args(name, args, type_name)
            try:
                return True, fn(*(a.number(i) for i in range(count)))
            except LuaError as e:
                return False, str(e)

        return call

    def variadic(name: str, fn: Callable[..., int]) -> Callable[..., tuple[Any, ...]]:
        def call(*args: Any) -> tuple[Any, ...]:
            a = Args(name, args, type_name)
            try:
                first = a.number(0)
                rest = [a.number(i) for i in range(len(args) - 1, 0, -1)]
                return True, fn(first, *rest)
            except LuaError as e:
                return False, str(e)

        return call

    def tohex(*args: Any) -> tuple[Any, ...]:
        a = Args("tohex", args, type_name)
        try:
            x = a.number(0)
            n = a.number(1) if len(args) > 1 else 8
            return True, _tohex(x, n).encode()
        except LuaError as e:
            return False, str(e)

    return {
        b"tobit": fixed("tobit", 1, _tobit),
        b"bnot": fixed("bnot", 1, lambda x: _tobit(~_tobit(x))),
        b"band": variadic("band", _band),
        b"bor": variadic("bor", _bor),
        b"bxor": variadic("bxor", _bxor),
        b"lshift": fixed("lshift", 2, lambda x, n: _tobit(_u(x) << (_tobit(n) & 31))),
        b"rshift": fixed("rshift", 2, lambda x, n: _tobit(_u(x) >> (_tobit(n) & 31))),
        b"arshift": fixed("arshift", 2, lambda x, n: _tobit(_tobit(x) >> (_tobit(n) & 31))),
        b"rol": fixed("rol", 2, _rol),
        b"ror": fixed("ror", 2, _ror),
        b"bswap": fixed(
            "bswap", 1, lambda x: _tobit(int.from_bytes(_u(x).to_bytes(4, "little"), "big"))
        ),
        b"tohex": tohex,
    }


def _number_text(v: float | int, invalid_ok: bool = False) -> str:
    if isinstance(v, int):
        return str(v)
    if math.isnan(v) or math.isinf(v):
        if invalid_ok:  # cjson.encode_invalid_numbers(true)
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        raise ValueError("Cannot serialise number: must not be NaN or Inf")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.14g}"


def _nesting(v: Any) -> int:
    """How deep arrays and objects nest in a decoded JSON value."""
    if isinstance(v, list):
        return 1 + max((_nesting(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((_nesting(x) for x in v.values()), default=0)
    return 0


def _json_string(text: str) -> str:
    # lua-cjson escapes "/" too; bytes pass through as latin-1 code points
    return json.dumps(text, ensure_ascii=False).replace("/", "\\/")


def json_encoder(runtime: Any, settings: dict[str, int]) -> Callable[[Any, Any], tuple[bool, Any]]:
    """``cjson.encode``: ``(value, null_sentinel) -> (ok, json bytes | message)``."""

    def encode_value(v: Any, null: Any, depth: int) -> str:
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return _number_text(v, bool(settings["encode_invalid_numbers"]))
        if isinstance(v, bytes):
            return _json_string(v.decode("latin-1"))
        kind = runtime.type(v)
        if kind == b"userdata" and runtime.is_null(v):
            return "null"
        if kind != b"table":
            raise ValueError(f"Cannot serialise {kind.decode()}: type not supported")
        if depth + 1 > settings["encode_max_depth"]:
            raise ValueError(f"Cannot serialise, excessive nesting ({depth + 1})")
        items = list(v.items())
        keys = [k for k, _ in items]
        n = len(keys)
        ints = all(isinstance(k, int) and not isinstance(k, bool) for k in keys)
        if n and ints and sorted(keys) == list(range(1, n + 1)):
            inner = ",".join(encode_value(v[i], null, depth + 1) for i in range(1, n + 1))
            return "[" + inner + "]"
        parts = []
        for k, val in items:
            if isinstance(k, bytes):
                key = k.decode("latin-1")
            elif isinstance(k, (int, float)) and not isinstance(k, bool):
                key = _number_text(k)
            else:
                raise ValueError("Cannot serialise table: table key must be a number or string")
            parts.append(_json_string(key) + ":" + encode_value(val, null, depth + 1))
        return "{" + ",".join(parts) + "}"

    def encode(v: Any = None, null: Any = None) -> tuple[bool, Any]:
        try:
            return True, encode_value(v, null, 0).encode("latin-1")
        except ValueError as exc:
            return False, str(exc)

    return encode


def json_decoder(runtime: Any, settings: dict[str, int]) -> Callable[[Any, Any], tuple[bool, Any]]:
    """``cjson.decode``: ``(json text, null_sentinel) -> (ok, Lua value | message)``."""
    table = runtime.table_from

    def to_lua(v: Any, null: Any) -> Any:
        if v is None:
            return null
        if isinstance(v, str):
            return v.encode("utf-8", "surrogatepass")
        if isinstance(v, list):
            return table([to_lua(x, null) for x in v])
        if isinstance(v, dict):
            return table(
                {k.encode("utf-8", "surrogatepass"): to_lua(x, null) for k, x in v.items()}
            )
        if isinstance(v, int) and not isinstance(v, bool):
            return float(v) if abs(v) >= 2**53 else v
        return v

    def decode(text: Any = None, null: Any = None) -> tuple[bool, Any]:
        if not isinstance(text, (bytes, int, float)):
            return False, "bad argument #1 to 'decode' (string expected)"
        data = text if isinstance(text, bytes) else str(text).encode()
        try:
            parsed = json.loads(data.decode("utf-8", "surrogateescape"))
        except (ValueError, RecursionError) as exc:
            return False, f"Expected value but found invalid token: {exc}"
        depth = _nesting(parsed)
        if depth > settings["decode_max_depth"]:
            return False, f"Found too many nested data structures ({depth})"
        return True, to_lua(parsed, null)

    return decode
