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
    """Every loaded library; functions by name. Caller holds the engine lock.

    Function names are case-insensitive and library names are not, as on the peer
    (functions are keyed by the lower-cased name; :class:`Function` keeps the name given).
    """

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
        for fn in reg.functions.values():
            owner = self.functions.get(fn.name.lower())
            if owner is not None and owner[0] is not old:
                raise CommandError(f"Function {fn.name.decode('utf-8', 'replace')} already exists")
        if old is not None:
            self._drop(old)
        lib = Library(name, code, reg.functions)
        self.libraries[name] = lib
        for fn in reg.functions.values():
            self.functions[fn.name.lower()] = (lib, fn)
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
            self.functions.pop(fname.lower(), None)

    def restore_codes(self, codes: list[bytes], policy: str) -> None:
        """FUNCTION RESTORE of these libraries under ``policy`` (FLUSH, APPEND, REPLACE):
        all or nothing, with the peer's errors (a library name already there under
        APPEND, a function name another library holds, code that does not load)."""
        if policy == "APPEND":
            for code in codes:
                name = _metadata(code)
                if name in self.libraries:
                    raise CommandError(f"Library {name.decode('utf-8', 'replace')} already exists")
        scratch = Libraries()
        if policy != "FLUSH":
            scratch.restore(self.to_plain())
        for code in codes:
            scratch.load(code, replace=policy == "REPLACE")
        self.libraries, self.functions = scratch.libraries, scratch.functions
        self._interpreter = scratch._interpreter

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
    """The library name of ``#!lua name=<name>`` (the peer's parsing and errors)."""
    if not code.startswith(b"#!"):
        raise CommandError("Missing library metadata")
    if b"\n" not in code:
        raise CommandError("Invalid library metadata")
    first = code.split(b"\n", 1)[0]
    parts = first.split()
    if not parts:
        raise CommandError("Invalid library metadata")
    engine = parts[0][2:]
    name: bytes | None = None
    for item in parts[1:]:
        if item[:5].lower() == b"name=":
            if name is not None:
                raise CommandError("Invalid metadata value, name argument was given multiple times")
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
    if engine.lower() != b"lua":
        raise CommandError(f"Engine '{engine.decode('utf-8', 'replace')}' not found")
    return name


def _register(interp: Interpreter, reg: _Registration, *args: Any) -> tuple[bool, Any]:
    """``redis.register_function``: ``(name, callback)`` or ``{function_name=, callback=,
    flags=, description=}``. Answers ``(ok, error line)`` with the peer's texts."""
    flags: tuple[str, ...] = ()
    description: bytes | None = None
    if len(args) not in (1, 2):
        return False, b"ERR wrong number of arguments to %s" % _REG
    if len(args) == 1:
        spec = args[0]
        if interp.type(spec) != b"table":
            return False, (
                b"ERR calling %s with a single argument is only applicable to Lua table "
                b"(representing named arguments)." % _REG
            )
        name = callback = None
        for key, value in spec.items():
            if not isinstance(key, bytes):
                return False, b"ERR named argument key given to %s is not a string" % _REG
            k = key.lower()
            if k == b"function_name":
                if not isinstance(value, (bytes, int, float)) or isinstance(value, bool):
                    return False, b"ERR function_name argument given to %s must be a string" % _REG
                name = value if isinstance(value, bytes) else str(value).encode()
            elif k == b"description":
                if not isinstance(value, (bytes, int, float)) or isinstance(value, bool):
                    return False, b"ERR description argument given to %s must be a string" % _REG
                description = value if isinstance(value, bytes) else str(value).encode()
            elif k == b"callback":
                if interp.type(value) != b"function":
                    return False, b"ERR callback argument given to %s must be a function" % _REG
                callback = value
            elif k == b"flags":
                if interp.type(value) != b"table":
                    return False, (
                        b"ERR flags argument to %s must be a table representing function flags"
                        % _REG
                    )
                collected = []
                i = 1
                while (flag := value[i]) is not None:
                    text = (
                        flag.decode("utf-8", "replace").lower() if isinstance(flag, bytes) else ""
                    )
                    if text not in FUNCTION_FLAGS:
                        return False, b"ERR unknown flag given"
                    collected.append(text)
                    i += 1
                flags = tuple(collected)
            else:
                return False, b"ERR unknown argument given to %s" % _REG
        if name is None:
            return False, b"ERR %s must get a function name argument" % _REG
        if callback is None:
            return False, b"ERR %s must get a callback argument" % _REG
    else:
        name, callback = args
        if not isinstance(name, (bytes, int, float)) or isinstance(name, bool):
            return False, b"ERR first argument to %s must be a string" % _REG
        if isinstance(name, (int, float)):
            name = str(name).encode()
        if callback is None or interp.type(callback) != b"function":
            return False, b"ERR second argument to %s must be a function" % _REG
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
