"""``struct`` for scripts (Roberto Ierusalimschy's lua-struct 1.7, as Redis ships it), in Python.

``struct.pack(fmt, ...)``, ``struct.unpack(fmt, data [, pos])`` and ``struct.size(fmt)``
with the format language Redis documents: ``>``/``<`` endianness (native is little),
``![n]`` alignment (default 8), ``x`` padding, ``b/B h/H l/L T i[n]/I[n]`` integers (1, 2,
8, 8 and n bytes, n <= 32), ``c[n]`` fixed strings (``c0``: the whole string when
packing, the previous result's value as the length when unpacking), ``s`` zero-terminated
strings, ``f``/``d`` floats, spaces ignored.

The answers are the peer's to the byte, including what its C code does on x86-64 with
numbers C leaves undefined: a double outside an integer's range packs as the processor
converts it (``0x8000000000000000`` for NaN and huge negatives, 0 above 2**64), integers
wider than 8 bytes keep only 64 bits, unsigned 64-bit values come back as doubles. Error
texts are lua-struct's own, with Lua's ``bad argument #n to 'name' (...)`` form and
lua-struct's argument numbers (one past the string for ``string too short``).

Every function answers ``(ok, value)`` (``unpack``: ``(ok, *values)``) and never raises;
the interpreter calls them as C functions and raises the Lua error.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from .lua_args import LuaError, arg_error, lua_number, lua_string

__all__ = ["struct_functions"]

MAX_INT_SIZE = 32
MAX_ALIGN = 8  # max(offsetof(struct {char c; double d;}, d), sizeof(int)) on x86-64
SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
INTEGERS = frozenset("bBhHlLTiI")
U64 = (1 << 64) - 1
INT_MAX = 2**31 - 1


class _Format:
    """A cursor over a format string (lua-struct's ``getnum``/``optsize``)."""

    def __init__(self, fmt: bytes) -> None:
        self.fmt = fmt
        self.i = 0
        self.little = True
        self.align = 1

    def __iter__(self) -> _Format:
        return self

    def __next__(self) -> str:
        if self.i >= len(self.fmt):
            raise StopIteration
        opt = chr(self.fmt[self.i])
        self.i += 1
        return opt

    def number(self, default: int) -> int:
        if not self.digit():
            return default
        a = 0
        while self.digit():
            d = self.fmt[self.i] - 48
            if a > INT_MAX // 10 or a * 10 > INT_MAX - d:
                raise LuaError("integral size overflow")
            a = a * 10 + d
            self.i += 1
        return a

    def digit(self) -> bool:
        return self.i < len(self.fmt) and 48 <= self.fmt[self.i] <= 57

    def size(self, opt: str) -> int:
        if opt in SIZES:
            return SIZES[opt]
        if opt == "c":
            return self.number(1)
        if opt in "iI":
            n = self.number(4)
            if n > MAX_INT_SIZE:
                raise LuaError(f"integral size {n} is larger than limit of {MAX_INT_SIZE}")
            return n
        return 0

    def to_align(self, pos: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        size = min(size, self.align)
        return (size - (pos & (size - 1))) & (size - 1)

    def control(self, opt: str, fn: str) -> None:
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            a = self.number(MAX_ALIGN)
            if a <= 0 or a & (a - 1):
                raise LuaError(f"alignment {a} is not a power of 2")
            self.align = a
        else:
            raise arg_error(fn, 1, f"invalid format option '{opt}'")


def _c_int64(n: float) -> int:
    """x86-64 ``cvttsd2si``: truncation, 0x8000000000000000 when out of range or NaN."""
    if math.isnan(n) or not -(2.0**63) <= n < 2.0**63:
        return 1 << 63
    return int(n) & U64


def _c_uint64(n: float) -> int:
    """What gcc's ``(uint64_t)double`` gives on x86-64 for ``n >= 0`` (and NaN)."""
    if math.isnan(n) or n < 2.0**63:
        return _c_int64(n)
    return _c_int64(n - 2.0**63) ^ (1 << 63)


def struct_functions(type_name: Callable[[Any], bytes]) -> dict[bytes, Callable[..., Any]]:
    """``pack``, ``unpack`` and ``size`` for the prelude's ``struct`` table. ``type_name``
    names a Lua value's type (for ``... expected, got <type>``)."""

    def got(args: tuple[Any, ...], i: int, fn: str) -> str:
        # pack pushes a nil past its arguments before reading them (lua-struct's
        # separator from its string buffer): the first missing value is "nil" there
        if i < len(args) or (fn == "pack" and i == len(args) and i > 0):
            return type_name(args[i]).decode() if i < len(args) else "nil"
        return "no value"

    def check_number(fn: str, args: tuple[Any, ...], i: int) -> float:
        n = lua_number(args[i]) if i < len(args) else None
        if n is None:
            raise arg_error(fn, i + 1, f"number expected, got {got(args, i, fn)}")
        return n

    def check_string(fn: str, args: tuple[Any, ...], i: int) -> bytes:
        s = lua_string(args[i]) if i < len(args) else None
        if s is None:
            raise arg_error(fn, i + 1, f"string expected, got {got(args, i, fn)}")
        return s

    def pack(*args: Any) -> tuple[bool, Any]:
        try:
            f = _Format(check_string("pack", args, 0))
            out = bytearray()
            arg = 1
            for opt in f:
                size = f.size(opt)
                out += bytes(f.to_align(len(out), opt, size))
                if opt in INTEGERS:
                    n = check_number("pack", args, arg)
                    arg += 1
                    value = _c_int64(n) if n < 0 else _c_uint64(n)
                    raw = bytes((value >> (8 * k)) & 0xFF if k < 8 else 0 for k in range(size))
                    out += raw if f.little else raw[::-1]
                elif opt == "x":
                    out += b"\0"
                elif opt in "fd":
                    n = check_number("pack", args, arg)
                    arg += 1
                    if opt == "f":
                        with np.errstate(over="ignore"):  # C's cast: inf past FLT_MAX
                            single = float(np.float32(n))
                        out += struct.pack("<f" if f.little else ">f", single)
                    else:
                        out += struct.pack("<d" if f.little else ">d", n)
                elif opt in "cs":
                    s = check_string("pack", args, arg)
                    arg += 1
                    if size == 0:
                        size = len(s)
                    if len(s) < size:
                        raise arg_error("pack", arg + 1, "string too short")
                    out += s[:size]
                    if opt == "s":
                        out += b"\0"
                else:
                    f.control(opt, "pack")
            return True, bytes(out)
        except LuaError as e:
            return False, str(e)

    def unpack(*args: Any) -> tuple[Any, ...]:
        try:
            f = _Format(check_string("unpack", args, 0))
            data = check_string("unpack", args, 1)
            offset = 1
            if len(args) > 2 and args[2] is not None:
                offset = int(check_number("unpack", args, 2))
            if offset == 0:
                raise arg_error("unpack", 3, "offset must be 1 or greater")
            # a size_t in C: a negative offset is huge, so any item is "too short"
            pos = (offset - 1) & U64
            values: list[Any] = []
            for opt in f:
                size = f.size(opt)
                pos += f.to_align(pos, opt, size)
                if size > len(data) or pos > len(data) - size:
                    raise arg_error("unpack", 2, "data string too short")
                chunk = data[pos : pos + size]
                if opt in INTEGERS:
                    raw = chunk if not f.little else chunk[::-1]  # most significant first
                    value = 0
                    for byte in raw:
                        value = ((value << 8) | byte) & U64
                    if opt.islower():
                        mask = (U64 << ((size * 8 - 1) & 63)) & U64
                        if value & mask:
                            value |= mask
                        values.append(float(value - (1 << 64) if value >> 63 else value))
                    else:
                        values.append(float(value))
                elif opt == "f":
                    values.append(float(struct.unpack("<f" if f.little else ">f", chunk)[0]))
                elif opt == "d":
                    values.append(struct.unpack("<d" if f.little else ">d", chunk)[0])
                elif opt == "c":
                    if size == 0:
                        previous = lua_number(values[-1]) if values else None
                        if previous is None:
                            raise LuaError("format 'c0' needs a previous size")
                        values.pop()
                        size = int(previous)
                        if size < 0 or size > len(data) or pos > len(data) - size:
                            raise arg_error("unpack", 2, "data string too short")
                    values.append(data[pos : pos + size])
                elif opt == "s":
                    end = data.find(b"\0", pos)
                    if end < 0:
                        raise LuaError("unfinished string in data")
                    size = end - pos + 1
                    values.append(data[pos:end])
                elif opt != "x":
                    f.control(opt, "unpack")
                pos += size
            following = (pos + 1) & U64
            values.append(float(following - (1 << 64) if following >> 63 else following))
            return (True, *values)
        except LuaError as e:
            return False, str(e)

    def size(*args: Any) -> tuple[bool, Any]:
        try:
            f = _Format(check_string("size", args, 0))
            pos = 0
            for opt in f:
                n = f.size(opt)
                pos += f.to_align(pos, opt, n)
                if opt == "s":
                    raise arg_error("size", 1, "option 's' has no fixed size")
                if opt == "c" and n == 0:
                    raise arg_error("size", 1, "option 'c0' has no fixed size")
                if not (opt.isascii() and opt.isalnum()):
                    f.control(opt, "size")
                pos += n
            return True, float(pos)
        except LuaError as e:
            return False, str(e)

    return {b"pack": pack, b"unpack": unpack, b"size": size}
