"""What every JSON.* handler shares: reading arguments and documents the way RedisJSON
does, and applying RedisJSON's reply-shape rules for legacy and JSONPath paths."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..datatypes.json_doc import JsonDoc
from ..errors import ArityError
from ..json import codec
from ..json.errors import NO_KEY, JsonError, path_missing, wrong_key_type
from ..json.path import JsonPathError, Location, Path, Query, compile, select

if TYPE_CHECKING:
    from .context import ExecContext

__all__ = [
    "MAX_NESTING",
    "arity",
    "check_nesting",
    "clone",
    "compiled",
    "doc_for_read",
    "doc_for_write",
    "existing_doc",
    "first_value",
    "locate",
    "parse_json",
    "path_arg",
    "text",
]


def arity(name: str) -> ArityError:
    return ArityError.for_command(name)


def text(arg: bytes) -> str:
    """An argument as UTF-8 text (RedisJSON refuses anything else)."""
    try:
        return arg.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonError("ERR Couldn't parse as UTF-8 string") from None


def path_arg(arg: bytes) -> Path:
    return Path.of(text(arg))


def compiled(path: Path | str) -> Query:
    """The compiled path; RedisJSON's compile error (no ``ERR`` prefix) otherwise."""
    try:
        return compile(path.text if isinstance(path, Path) else path)
    except JsonPathError as err:
        raise JsonError(str(err)) from None


def locate(root: Any, path: Path | str) -> list[tuple[Any, Location]]:
    return select(root, compiled(path))


def first_value(root: Any, path: Path) -> Any:
    """RedisJSON's ``get_first``: the first match, ``Path '<fixed>' does not exist``
    otherwise."""
    found = locate(root, path)
    if not found:
        raise path_missing(path.text)
    return found[0][0]


def parse_json(arg: bytes) -> Any:
    """A JSON argument; serde_json's message (no ``ERR`` prefix) if it does not parse."""
    try:
        return codec.loads(text(arg))
    except codec.JsonParseError as err:
        raise JsonError(str(err)) from None


def doc_for_read(ctx: ExecContext, key: bytes) -> JsonDoc | None:
    value = ctx.keyspace.get(key, ctx.read_now)
    if value is None or isinstance(value, JsonDoc):
        return value
    raise wrong_key_type()


def doc_for_write(ctx: ExecContext, key: bytes) -> JsonDoc | None:
    value = ctx.keyspace.get(key, ctx.expire_now)
    if value is None or isinstance(value, JsonDoc):
        return value
    raise wrong_key_type()


def existing_doc(ctx: ExecContext, key: bytes, *, write: bool) -> JsonDoc:
    """The document at ``key``; RedisJSON's ``could not perform this operation on a key
    that doesn't exist`` if there is none."""
    doc = doc_for_write(ctx, key) if write else doc_for_read(ctx, key)
    if doc is None:
        raise JsonError(NO_KEY)
    return doc


def clone(value: Any) -> Any:
    """A deep copy of a JSON value (each location written gets its own)."""
    if isinstance(value, (dict, list)):
        return copy.deepcopy(value)
    return value


MAX_NESTING = 128  # containers inside containers; MemoryDB documents the same limit


def check_nesting(base: int, values: list[Any]) -> None:
    """Refuse a write that would put ``values`` ``base`` levels deep and so nest the
    document deeper than :data:`MAX_NESTING` (RedisJSON has no limit past parsing; a
    bounded depth keeps every walk of the document within Python's recursion limit)."""
    deepest = max((codec.value_depth(v) for v in values), default=0)
    if base + deepest > MAX_NESTING:
        raise JsonError(
            f"ERR the document would nest deeper than {MAX_NESTING} levels (memvec's limit)"
        )
