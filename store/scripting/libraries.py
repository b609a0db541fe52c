"""FUNCTION libraries: ``#!lua name=lib`` code that registers named functions.

Contract: :class:`Libraries` holds every loaded library and its functions, compiled in
one function interpreter (chunks named ``@user_function``). :meth:`Libraries.load`
checks the metadata line, compiles the code, runs its body with the load-time ``redis``
table (only ``register_function``, ``log``, ``setresp`` and the constants) and installs
the library only if all of that succeeded: a failed FUNCTION LOAD (or REPLACE) changes
nothing. The libraries are state: the engine persists them in snapshots
(:meth:`to_plain` / :meth:`restore`, the code of each library) and FUNCTION
LOAD/DELETE/FLUSH are logged as themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import CommandError
from .interpreter import CompileError, Interpreter, ScriptFailure

__all__ = ["FUNCTION_FLAGS", "Function", "Libraries", "Library"]

FUNCTION_FLAGS = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")
_REG = b"server.register_function"
_NAME = re.compile(rb"^[A-Za-z0-9_]+$")


@dataclass(slots=True)
class Function:
    name: bytes
    callback: Any  # the Lua function
    flags: tuple[str, ...] = ()
    description: bytes | None = None


@dataclass(slots=True)
class Library:
    name: bytes
    code: bytes
    functions: dict[bytes, Function] = field(default_factory=dict)


class _Registration:
    """What one library body registered while it ran (and the first refusal)."""

    def __init__(self) -> None:
        self.functions: dict[bytes, Function] = {}
        self.direct_error: str | None = None  # refused outright, not "Error registering..."


class Libraries:
    """Every loaded library; functions by name. Caller holds the engine lock."""

    def __init__(self) -> None:
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, tuple[Library, Function]] = {}
        self._interpreter: Interpreter | None = None

    @property
    def interpreter(self) -> Interpreter:
        if self._interpreter is None:
            self._interpreter = Interpreter("@user_function")
        return self._interpreter

    def load(self, code: bytes, replace: bool = False) -> bytes:
        """Install a library; returns its name. Raises CommandError as the peer."""
        name = _metadata(code)
        old = self.libraries.get(name)
        if old is not None and not replace:
            raise CommandError(f"Library '{name.decode('utf-8', 'replace')}' already exists")
        interp = self.interpreter
        # the metadata line is blanked, not removed: Lua's line numbers stay the code's
        first_end = code.find(b"\n")
        body = b"" if first_end < 0 else b"\n" + code[first_end + 1 :]
        try:
            chunk = interp.compile(body)
        except CompileError as exc:
            raise CommandError(f"Error compiling function: {exc}") from None
        reg = _Registration()
        try:
            interp.load_library(chunk, lambda *a: _register(interp, reg, *a), None)
        except ScriptFailure as exc:
            if reg.direct_error is not None:
                raise CommandError(reg.direct_error) from None
            raise CommandError(f"Error registering functions: {exc.message}") from None
        if not reg.functions:
            raise CommandError("No functions registered")
        for fname in reg.functions:
            owner = self.functions.get(fname)
            if owner is not None and owner[0].name != name:
                raise CommandError(f"Function {fname.decode('utf-8', 'replace')} already exists")
        if old is not None:
            self._drop(old)
        lib = Library(name, code, reg.functions)
        self.libraries[name] = lib
        for fname, fn in reg.functions.items():
            self.functions[fname] = (lib, fn)
        return name

    def delete(self, name: bytes) -> None:
        lib = self.libraries.get(name)
        if lib is None:
            raise CommandError("Library not found")
        self._drop(lib)

    def flush(self) -> None:
        self.libraries.clear()
        self.functions.clear()
        self._interpreter = None  # a fresh Lua state, as FUNCTION FLUSH gives

    def _drop(self, lib: Library) -> None:
        del self.libraries[lib.name]
        for fname in lib.functions:
            self.functions.pop(fname, None)

    # -- persistence ----------------------------------------------------------------------
    def to_plain(self) -> list[bytes]:
        """The code of every library, by name: what a snapshot stores."""
        return [self.libraries[n].code for n in sorted(self.libraries)]

    def restore(self, codes: list[bytes]) -> None:
        """Replace every library with those of a snapshot (loaded as FUNCTION LOAD does)."""
        self.flush()
        for code in codes:
            self.load(code)


def _metadata(code: bytes) -> bytes:
    if not code.startswith(b"#!"):
        raise CommandError("Missing library metadata")
    first = code.split(b"\n", 1)[0].rstrip(b"\r")
    parts = first[2:].split()
    if not parts:
        raise CommandError("Engine '' not found")
    engine = parts[0]
    if engine.lower() != b"lua":
        raise CommandError(f"Engine '{engine.decode('utf-8', 'replace')}' not found")
    name: bytes | None = None
    for item in parts[1:]:
        if item.startswith(b"name="):
            name = item[5:]
        else:
            raise CommandError(f"Invalid metadata value given: {item.decode('utf-8', 'replace')}")
    if name is None:
        raise CommandError("Library name was not given")
    if not _NAME.match(name):
        raise CommandError(
            "Library names can only contain letters, numbers, or underscores(_) and must be at "
            "least one character long"
        )
    return name


def _register(interp: Interpreter, reg: _Registration, *args: Any) -> tuple[bool, Any]:
    """``redis.register_function``: ``(name, callback)`` or ``{function_name=, callback=,
    flags=, description=}``. Answers ``(ok, error line)``."""
    wrong = b"ERR wrong number of arguments to server.register_function"
    flags: tuple[str, ...] = ()
    description: bytes | None = None
    if len(args) == 1 and interp.type(args[0]) == b"table":
        spec = args[0]
        name, callback = spec[b"function_name"], spec[b"callback"]
        for key in spec:
            if key not in (b"function_name", b"callback", b"flags", b"description"):
                return False, b"ERR unknown argument given to server.register_function"
        raw_flags = spec[b"flags"]
        if raw_flags is not None:
            if interp.type(raw_flags) != b"table":
                return False, b"ERR flags argument to server.register_function must be a table"
            collected = []
            for _, flag in raw_flags.items():
                text = flag.decode("utf-8", "replace") if isinstance(flag, bytes) else None
                if text not in FUNCTION_FLAGS:
                    return False, b"ERR unknown flag given"
                collected.append(text)
            flags = tuple(collected)
        raw_desc = spec[b"description"]
        if raw_desc is not None:
            if not isinstance(raw_desc, bytes):
                return False, b"ERR description argument given to %s must be a string" % _REG
            description = raw_desc
    elif len(args) == 2:
        name, callback = args
    else:
        return False, wrong
    if not isinstance(name, bytes):
        return False, b"ERR function_name argument given to %s must be a string" % _REG
    if callback is None or interp.type(callback) != b"function":
        return False, b"ERR callback argument given to server.register_function must be a function"
    if not _NAME.match(name):
        reg.direct_error = (
            "Function names can only contain letters, numbers, or underscores(_) and must be at "
            "least one character long"
        )
        return False, reg.direct_error.encode()
    if name in reg.functions:
        return False, b"ERR Function already exists in the library"
    reg.functions[name] = Function(name, callback, flags, description)
    return True, None
