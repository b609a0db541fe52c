"""``cmsgpack`` for scripts (lua-cmsgpack's encoding choices), in Python.

``pack(v1, v2, ...)`` concatenates the encodings; ``unpack(s)`` returns every value.
Encoding as lua-cmsgpack: integral numbers take the smallest integer form, other numbers
float32 when exact and float64 otherwise, strings the smallest str form (``d9`` from 32
bytes), a table whose keys are exactly 1..n an array (an empty table too) and any other
table a map, nesting past 16 levels nil. Decoding accepts every msgpack type but ext.
Functions answer ``(ok, value...)``; the interpreter calls them as C functions (its
``_c_function``) and raises the Lua error with the script's position.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from .lua_args import Args, LuaError

__all__ = ["msgpack_functions"]

MAX_NESTING = 16


def _int(n: int) -> bytes:
    if 0 <= n < 128:
        return bytes([n])
    if n >= 0:
        for code, fmt, limit in (
            (0xCC, ">B", 0xFF),
            (0xCD, ">H", 0xFFFF),
            (0xCE, ">I", 0xFFFFFFFF),
        ):
            if n <= limit:
                return bytes([code]) + struct.pack(fmt, n)
        return b"\xcf" + struct.pack(">Q", n & 0xFFFFFFFFFFFFFFFF)
    if n >= -32:
        return struct.pack(">b", n)
    for code, fmt, limit in ((0xD0, ">b", -0x80), (0xD1, ">h", -0x8000), (0xD2, ">i", -0x80000000)):
        if n >= limit:
            return bytes([code]) + struct.pack(fmt, n)
    return b"\xd3" + struct.pack(">q", max(n, -(2**63)))


def _float(x: float) -> bytes:
    try:
        f32 = struct.unpack(">f", struct.pack(">f", x))[0]
    except OverflowError:
        f32 = None
    if f32 is not None and (f32 == x or (f32 != f32 and x != x)):
        return b"\xca" + struct.pack(">f", x)
    return b"\xcb" + struct.pack(">d", x)


def _str(data: bytes) -> bytes:
    n = len(data)
    if n < 32:
        return bytes([0xA0 | n]) + data
    if n <= 0xFF:
        return b"\xd9" + bytes([n]) + data
    if n <= 0xFFFF:
        return b"\xda" + struct.pack(">H", n) + data
    return b"\xdb" + struct.pack(">I", n) + data


def _header(n: int, fix: int, c16: int, c32: int) -> bytes:
    if n < 16:
        return bytes([fix | n])
    if n <= 0xFFFF:
        return bytes([c16]) + struct.pack(">H", n)
    return bytes([c32]) + struct.pack(">I", n)


def msgpack_functions(
    runtime: Any, type_name: Callable[[Any], bytes]
) -> dict[bytes, Callable[..., Any]]:
    """``pack`` and ``unpack`` for the prelude's ``cmsgpack`` table."""

    def encode(v: Any, depth: int, out: list[bytes]) -> None:
        if v is None:
            out.append(b"\xc0")
        elif v is True or v is False:
            out.append(b"\xc3" if v else b"\xc2")
        elif isinstance(v, int):
            out.append(_int(v))
        elif isinstance(v, float):
            if v == v and abs(v) < 2**63 and v == int(v):
                out.append(_int(int(v)))
            else:
                out.append(_float(v))
        elif isinstance(v, bytes):
            out.append(_str(v))
        elif runtime.type(v) == b"table":
            if depth >= MAX_NESTING:
                out.append(b"\xc0")
                return
            items = list(v.items())
            keys = [k for k, _ in items]
            ints = all(isinstance(k, int) and not isinstance(k, bool) for k in keys)
            if ints and sorted(keys) == list(range(1, len(keys) + 1)):
                out.append(_header(len(keys), 0x90, 0xDC, 0xDD))
                for i in range(1, len(keys) + 1):
                    encode(v[i], depth + 1, out)
            else:
                out.append(_header(len(items), 0x80, 0xDE, 0xDF))
                for k, val in items:
                    encode(k, depth + 1, out)
                    encode(val, depth + 1, out)
        else:
            out.append(b"\xc0")  # functions, userdata: nil, as lua-cmsgpack

    def pack(*values: Any) -> tuple[Any, ...]:
        if not values:
            return False, "bad argument #0 to 'pack' (MessagePack pack needs input.)"
        out: list[bytes] = []
        for v in values:
            encode(v, 0, out)
        return True, b"".join(out)

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        c = data[pos]
        pos += 1
        if c < 0x80:
            return c, pos
        if c >= 0xE0:
            return c - 0x100, pos
        if 0xA0 <= c <= 0xBF:
            n = c & 0x1F
            return data[pos : pos + n], pos + n
        if 0x90 <= c <= 0x9F:
            return decode_array(data, pos, c & 0x0F)
        if 0x80 <= c <= 0x8F:
            return decode_map(data, pos, c & 0x0F)
        if c == 0xC0:
            return None, pos
        if c in (0xC2, 0xC3):
            return c == 0xC3, pos
        sized = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h",
                 0xD2: ">i", 0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}  # fmt: skip
        if c in sized:
            fmt = sized[c]
            size = struct.calcsize(fmt)
            return struct.unpack(fmt, data[pos : pos + size])[0], pos + size
        lengths = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I", 0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}
        if c in lengths:
            fmt = lengths[c]
            size = struct.calcsize(fmt)
            n = struct.unpack(fmt, data[pos : pos + size])[0]
            pos += size
            return data[pos : pos + n], pos + n
        if c in (0xDC, 0xDD, 0xDE, 0xDF):
            fmt = ">H" if c in (0xDC, 0xDE) else ">I"
            size = struct.calcsize(fmt)
            n = struct.unpack(fmt, data[pos : pos + size])[0]
            pos += size
            return (decode_array if c in (0xDC, 0xDD) else decode_map)(data, pos, n)
        raise ValueError("Bad data format in input.")

    def decode_array(data: bytes, pos: int, n: int) -> tuple[Any, int]:
        items = []
        for _ in range(n):
            item, pos = decode(data, pos)
            items.append(item)
        return runtime.table_from(items), pos

    def decode_map(data: bytes, pos: int, n: int) -> tuple[Any, int]:
        mapping = {}
        for _ in range(n):
            k, pos = decode(data, pos)
            v, pos = decode(data, pos)
            if k is not None:
                mapping[k] = v
        return runtime.table_from(mapping), pos

    def unpack_from(data: bytes, limit: int, offset: int) -> tuple[Any, ...]:
        """``mp_unpack_full``: with a limit, the next offset (-1 at the end) comes first."""
        pos = offset
        values: list[Any] = []
        if pos < 0 or pos > len(data):
            return False, f"Start offset {offset} greater than input length {len(data)}."
        try:
            while pos < len(data) and (limit <= 0 or len(values) < limit):
                value, pos = decode(data, pos)
                values.append(value)
        except (IndexError, struct.error, ValueError):
            return False, "Bad data format in input."
        if limit <= 0 and offset == 0:
            return (True, *values)
        return True, pos if pos < len(data) else -1, *values

    def unpack(*args: Any) -> tuple[Any, ...]:
        try:
            return unpack_from(Args("unpack", args, type_name).string(0), 0, 0)
        except LuaError as e:
            return False, str(e)

    def unpack_limit(*args: Any) -> tuple[Any, ...]:
        """``(next offset or -1, value...)`` for at most ``limit`` values from ``offset``."""
        a = Args("unpack_limit", args, type_name)
        try:
            data, limit, offset = a.string(0), a.integer(1), a.opt_integer(2, 0)
        except LuaError as e:
            return False, str(e)
        return unpack_from(data, limit, offset)

    def unpack_one(*args: Any) -> tuple[Any, ...]:
        a = Args("unpack_one", args, type_name)
        try:
            data, offset = a.string(0), a.opt_integer(1, 0)
        except LuaError as e:
            return False, str(e)
        return unpack_from(data, 1, offset)

    return {b"pack": pack, b"unpack": unpack, b"unpack_limit": unpack_limit,
            b"unpack_one": unpack_one}  # fmt: skip
