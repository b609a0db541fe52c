"""JSON.* commands on the values inside a document: numbers, strings, booleans, arrays,
objects, and JSON.CLEAR.

RedisJSON 2.8's rules (``redis_json/src/commands.rs``): with a ``$`` path every match
gets an answer (nil where the match has the wrong type); with a legacy path the
operation applies to every match of the right type and answers with the last result,
or errors when there is none. Errors are RedisJSON's texts.

One difference by design: when an operation fails part-way through several matches
(``result is not a number``, ``index out of bounds``) RedisJSON keeps the matches it had
already changed; memvec computes every result first and changes nothing (a rejected
command changes nothing, :mod:`store.commands.table`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..datatypes.json_doc import JsonDoc
from ..json import codec
from ..json.edit import MISSING, get_at
from ..json.errors import NO_KEY, JsonError, path_missing, path_missing_or
from ..json.path import Location, Path
from ..numbers import parse_int64
from .json_access import (
    arity,
    check_nesting,
    clone,
    doc_for_read,
    existing_doc,
    first_value,
    locate,
    parse_json,
    path_arg,
    text,
)
from .json_core import ROOT, Format, parse_reply_format, to_resp3
from .table import command

if TYPE_CHECKING:
    from .context import ExecContext

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def int_arg(raw: bytes) -> int:
    value = parse_int64(raw)
    if value is None:
        raise JsonError("Couldn't parse as integer")
    return value


def is_long(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and INT64_MIN <= v <= INT64_MAX


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def expected(kind: str, found: str) -> JsonError:
    return JsonError(f"WRONGTYPE wrong type of path value - expected {kind} but found {found}")


def replace(root: Any, loc: Location, value: Any) -> Any:
    """Put ``value`` at ``loc`` (the root when empty); returns the new root."""
    if not loc:
        return value
    parent = get_at(root, loc[:-1])
    key: Any = loc[-1]
    if isinstance(parent, dict):
        parent[str(key)] = value
    else:
        parent[int(key)] = value
    return root


KEEP: Any = object()  # an op changed its value in place


def run_each(
    ctx: ExecContext,
    args: list[bytes],
    path: Path,
    want: Callable[[Any], bool],
    op: Callable[[Any], tuple[Any, Any, bool]],
    *,
    vanished: Any = None,
) -> list[Any]:
    """Apply ``op`` to every match of ``path`` whose value passes ``want``, in order, on
    the document as the earlier matches left it (RedisJSON's order: popping an outer
    array can remove an inner match). ``op(value)`` returns ``(new value or KEEP,
    result, changed)``. Per match: its result, None where ``want`` refused it, and
    ``vanished`` (or RedisJSON's ``Path does not exist`` error when that is
    ``ERROR``) where an earlier match removed it. NO_KEY error when the key is missing.

    With several matches the work is done on a copy committed at the end, so a failing
    match changes nothing."""
    doc = existing_doc(ctx, args[1], write=True)
    found = locate(doc.root, path)
    work = doc.root if len(found) <= 1 else copy.deepcopy(doc.root)
    out: list[Any] = []
    changed = False
    for value, loc in found:
        if not want(value):
            out.append(None)
            continue
        live = work if not loc else get_at(work, loc)
        if live is MISSING:
            if vanished is ERROR:
                raise JsonError("ERR Path does not exist")
            out.append(vanished)
            continue
        new, result, did = op(live)
        if new is not KEEP:
            work = replace(work, loc, new)
        changed = changed or did
        out.append(result)
    doc.root = work
    finish(ctx, args[1], changed)
    return out


ERROR: Any = object()


def finish(ctx: ExecContext, key: bytes, changed: bool) -> None:
    if changed:
        doc = ctx.keyspace.data.get(key)
        if isinstance(doc, JsonDoc):
            doc.changed()
        ctx.keyspace.touched(key)
        ctx.dirty = True


# -- numbers ----------------------------------------------------------------------------


def parse_number(raw: bytes) -> int | float:
    try:
        value = codec.loads(text(raw))
    except codec.JsonParseError as err:
        raise JsonError(f"ERR {err}") from None
    if not is_number(value):
        raise JsonError("bad input number")
    return value


def wrap64(n: int) -> int:
    return (n + 2**63) % 2**64 - 2**63


def num_op(mult: bool) -> Callable[[ExecContext, list[bytes]], object]:
    name = "json.nummultby" if mult else "json.numincrby"

    def handler(ctx: ExecContext, args: list[bytes]) -> object:
        if len(args) < 4:
            raise arity(name)
        path = path_arg(args[2])
        number: list[int | float] = []

        def op(value: Any) -> tuple[Any, Any, bool]:
            if not number:
                number.append(parse_number(args[3]))
            n = number[0]
            result: int | float
            if is_long(value) and is_long(n):
                result = wrap64(value * n if mult else value + n)
            else:
                result = float(value) * float(n) if mult else float(value) + float(n)
                if not math.isfinite(result):
                    raise JsonError("ERR result is not a number")
            return result, result, True

        results = run_each(ctx, args, path, is_number, op, vanished=ERROR)
        done = [r for r in results if r is not None]
        if ctx.protocol >= 3:
            return results
        if path.legacy:
            if not done:
                raise path_missing_or(path.text, "does not contains a number")
            return codec.dumps(done[-1]).encode()
        return codec.dumps(results).encode()

    return handler


command("JSON.NUMINCRBY", -1, "write", "json slow", keys=(1, 1, 1), summary="JSON.NUMINCRBY")(
    num_op(False)
)
command("JSON.NUMMULTBY", -1, "write", "json slow", keys=(1, 1, 1), summary="JSON.NUMMULTBY")(
    num_op(True)
)


# -- booleans and strings -----------------------------------------------------------------


@command("JSON.TOGGLE", -1, "write denyoom", "json slow", keys=(1, 1, 1))
def json_toggle(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.TOGGLE key path: flip booleans."""
    if len(args) < 3:
        raise arity("json.toggle")
    path = path_arg(args[2])
    out = run_each(
        ctx, args, path, lambda v: isinstance(v, bool), lambda v: (not v, int(not v), True),
        vanished=ERROR,
    )  # fmt: skip
    done = [r for r in out if r is not None]
    if path.legacy:
        if not done:
            raise path_missing_or(path.text, "not a bool")
        return b"true" if done[-1] else b"false"
    return out


@command("JSON.STRAPPEND", -1, "write denyoom", "json slow", keys=(1, 1, 1))
def json_strappend(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.STRAPPEND key [path] json-string."""
    if len(args) < 3:
        raise arity("json.strappend")
    path, raw = (path_arg(args[2]), args[3]) if len(args) > 3 else (ROOT, args[2])
    suffix: list[str] = []

    def op(value: str) -> tuple[Any, Any, bool]:
        if not suffix:
            try:
                parsed = codec.loads(text(raw))
            except codec.JsonParseError as err:
                raise JsonError(f"ERR {err}") from None
            if not isinstance(parsed, str):
                raise expected("string", text(raw))
            suffix.append(parsed)
        joined = value + suffix[0]
        return joined, len(joined.encode("utf-8", "surrogatepass")), True

    out = run_each(ctx, args, path, lambda v: isinstance(v, str), op, vanished=ERROR)
    done = [r for r in out if r is not None]
    if path.legacy:
        if not done:
            raise path_missing_or(path.text, "not a string")
        return done[-1]
    return out


@command("JSON.STRLEN", -1, "readonly", "json slow", keys=(1, 1, 1))
def json_strlen(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.STRLEN key [path]: string lengths in bytes."""
    if len(args) < 2:
        raise arity("json.strlen")
    path = path_arg(args[2]) if len(args) > 2 else ROOT
    doc = doc_for_read(ctx, args[1])
    if path.legacy:
        if doc is None:
            return None
        value = first_value(doc.root, path)
        if not isinstance(value, str):
            raise expected("string", codec.type_name(value))
        return len(value.encode("utf-8", "surrogatepass"))
    if doc is None:
        raise JsonError(NO_KEY)
    return [
        len(v.encode("utf-8", "surrogatepass")) if isinstance(v, str) else None
        for v, _ in locate(doc.root, path)
    ]


# -- arrays -------------------------------------------------------------------------------


def json_values(args: list[bytes], name: str) -> list[Any]:
    if not args:
        raise arity(name)
    return [parse_json(a) for a in args]


def array_op(
    ctx: ExecContext,
    args: list[bytes],
    path: Path,
    op: Callable[[list[Any]], tuple[Any, bool]],
    missing: str,
    vanished: Any = ERROR,
) -> tuple[list[Any], list[Any]]:
    """Run ``op(array) -> (result, changed)`` on every array ``path`` selects (see
    :func:`run_each`). Returns ``(per-match results, results of arrays)``; a legacy path
    with no array is RedisJSON's ``not an array`` error naming ``missing``."""

    def each(live: Any) -> tuple[Any, Any, bool]:
        if not isinstance(live, list):
            raise expected("array", codec.type_name(live))
        result, did = op(live)
        return KEEP, result, did

    wanted: list[bool] = []

    def want(v: Any) -> bool:
        wanted.append(isinstance(v, list))
        return wanted[-1]

    if path.legacy:
        doc = existing_doc(ctx, args[1], write=True)
        if not any(isinstance(v, list) for v, _ in locate(doc.root, path)):
            raise path_missing_or(missing, "not an array")
    out = run_each(ctx, args, path, want, each, vanished=vanished)
    done = [r for r, w in zip(out, wanted, strict=True) if w]
    return out, done


@command("JSON.ARRAPPEND", -1, "write denyoom", "json slow", keys=(1, 1, 1))
def json_arrappend(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.ARRAPPEND key path value [value ...]."""
    if len(args) < 4:
        raise arity("json.arrappend")
    path = path_arg(args[2])
    values = json_values(args[3:], "json.arrappend")
    doc = existing_doc(ctx, args[1], write=True)
    arrays = [loc for v, loc in locate(doc.root, path) if isinstance(v, list)]
    if arrays:
        check_nesting(max(len(loc) for loc in arrays) + 1, values)

    def op(arr: list[Any]) -> tuple[int, bool]:
        arr.extend(clone(v) for v in values)
        return len(arr), True

    out, done = array_op(ctx, args, path, op, path.original)
    return done[-1] if path.legacy else out


@command("JSON.ARRINSERT", -1, "write denyoom", "json slow", keys=(1, 1, 1))
def json_arrinsert(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.ARRINSERT key path index value [value ...]."""
    if len(args) < 5:
        raise arity("json.arrinsert")
    path = path_arg(args[2])
    index = int_arg(args[3])
    values = json_values(args[4:], "json.arrinsert")
    doc = existing_doc(ctx, args[1], write=True)
    arrays = [loc for v, loc in locate(doc.root, path) if isinstance(v, list)]
    if arrays:
        check_nesting(max(len(loc) for loc in arrays) + 1, values)

    def op(arr: list[Any]) -> tuple[int, bool]:
        at = len(arr) + index if index < 0 else index
        if not 0 <= at <= len(arr):
            raise JsonError("ERR index out of bounds")
        arr[at:at] = [clone(v) for v in values]
        return len(arr), True

    out, done = array_op(ctx, args, path, op, path.text)
    return done[-1] if path.legacy else out


def start_index(i: int, n: int) -> int:
    """RedisJSON's ``normalize_arr_start_index``."""
    return max(0, n + i) if i < 0 else min(i, n - 1)


@command("JSON.ARRPOP", -1, "write", "json slow", keys=(1, 1, 1))
def json_arrpop(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.ARRPOP key [path [index]]: remove and return an element (JSON text)."""
    if len(args) < 2:
        raise arity("json.arrpop")
    rest = args[2:]
    reply = "STRINGS"
    if rest and text(rest[0]).upper() == "FORMAT" and len(rest) > 1:
        reply = parse_reply_format(text(rest[1]))
        if reply == "STRING":
            raise JsonError("ERR wrong reply format")
        if ctx.protocol < 3:
            raise JsonError("ERR FORMAT argument is not supported on RESP2")
        rest = rest[2:]
    if rest:
        path = path_arg(rest[0])
        parsed = parse_int64(rest[1]) if len(rest) > 1 else None
        index = -1 if parsed is None else parsed
    else:
        path, index = ROOT, INT64_MAX
    if path.legacy and reply != "STRINGS":
        existing_doc(ctx, args[1], write=True)
        raise JsonError("Legacy paths are supported only with FORMAT STRINGS")
    fmt = Format(reply)

    def op(arr: list[Any]) -> tuple[Any, bool]:
        if not arr:
            return None, False
        value = arr.pop(start_index(index, len(arr)))
        if fmt.native(True):
            return to_resp3(value, fmt), True
        return codec.dumps(value).encode(), True

    out, done = array_op(ctx, args, path, op, path.text, vanished=None)
    return done[-1] if path.legacy else out


@command("JSON.ARRTRIM", -1, "write", "json slow", keys=(1, 1, 1))
def json_arrtrim(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.ARRTRIM key path start stop: keep [start, stop] (inclusive)."""
    if len(args) < 5:
        raise arity("json.arrtrim")
    path = path_arg(args[2])
    start, stop = int_arg(args[3]), int_arg(args[4])

    def norm(i: int, n: int) -> int:
        if i < 0:
            return n - min(n, -i)
        return min(n - 1, i) if n > 0 else 0

    def op(arr: list[Any]) -> tuple[int, bool]:
        n = len(arr)
        hi = norm(stop, n)
        lo = norm(start, n) if start < 0 or start < n else hi + 1
        arr[:] = [] if lo > hi or n == 0 else arr[lo : hi + 1]
        return len(arr), True

    out, done = array_op(ctx, args, path, op, path.text)
    return done[-1] if path.legacy else out


def same_json(a: Any, b: Any) -> bool:
    """RedisJSON's ``is_equal``: types must match (``1`` is not ``1.0``)."""

    def kind(v: Any) -> str:
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "bool"
        if is_long(v):
            return "long"
        if isinstance(v, (int, float)):
            return "double"
        return type(v).__name__

    ka = kind(a)
    if ka != kind(b):
        return False
    if ka == "double":
        return float(a) == float(b)
    if ka == "list":
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if ka == "dict":
        return len(a) == len(b) and all(k in b and same_json(v, b[k]) for k, v in a.items())
    return bool(a == b)


@command("JSON.ARRINDEX", -1, "readonly", "json slow", keys=(1, 1, 1))
def json_arrindex(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.ARRINDEX key path value [start [stop]]: first index of value, -1 if none."""
    if not 4 <= len(args) <= 6:
        raise arity("json.arrindex")
    path = path_arg(args[2])
    start = int_arg(args[4]) if len(args) > 4 else 0
    end = int_arg(args[5]) if len(args) > 5 else 0
    doc = doc_for_read(ctx, args[1])
    try:
        needle = codec.loads(text(args[3]))
    except codec.JsonParseError as err:
        raise JsonError(f"ERR {err}") from None
    if doc is None:
        raise path_missing(path.original)

    def index_in(arr: Any) -> int | None:
        if not isinstance(arr, list):
            return None
        n = len(arr)
        if n == 0:
            return -1
        lo = start_index(start, n)
        hi = n if end == 0 else (max(0, n + end) if end < 0 else min(end, n))
        for i in range(lo, hi):
            if same_json(arr[i], needle):
                return i
        return -1

    if path.legacy:
        value = first_value(doc.root, path)
        found = index_in(value)
        if found is None:
            raise expected("array", codec.type_name(value))
        return found
    return [index_in(v) for v, _ in locate(doc.root, path)]


@command("JSON.ARRLEN", -1, "readonly", "json slow", keys=(1, 1, 1))
def json_arrlen(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.ARRLEN key [path]."""
    if len(args) < 2:
        raise arity("json.arrlen")
    path = path_arg(args[2]) if len(args) > 2 else ROOT
    doc = doc_for_read(ctx, args[1])
    if doc is None:
        if path.legacy:
            return None
        raise JsonError(NO_KEY)
    found = locate(doc.root, path)
    if path.legacy:
        if not found:
            raise path_missing(path.original)
        if not isinstance(found[0][0], list):
            raise path_missing_or(path.original, "not an array")
        return len(found[0][0])
    return [len(v) if isinstance(v, list) else None for v, _ in found]


# -- objects ------------------------------------------------------------------------------


def locate_or_none(root: Any, path: Path) -> list[tuple[Any, Location]]:
    """The matches; none for a path that does not compile (RedisJSON's legacy OBJKEYS and
    OBJLEN answer nil then)."""
    try:
        return locate(root, path)
    except JsonError:
        return []


@command("JSON.OBJKEYS", -1, "readonly", "json slow", keys=(1, 1, 1))
def json_objkeys(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.OBJKEYS key [path]."""
    if len(args) < 2:
        raise arity("json.objkeys")
    path = path_arg(args[2]) if len(args) > 2 else ROOT
    doc = doc_for_read(ctx, args[1])
    if path.legacy:
        if doc is None:
            return None
        found = locate_or_none(doc.root, path)
        if not found:
            return None
        if not isinstance(found[0][0], dict):
            raise path_missing_or(path.text, "not an object")
        return [k.encode() for k in found[0][0]]
    if doc is None:
        raise JsonError(NO_KEY)
    return [
        [k.encode() for k in v] if isinstance(v, dict) else None for v, _ in locate(doc.root, path)
    ]


@command("JSON.OBJLEN", -1, "readonly", "json slow", keys=(1, 1, 1))
def json_objlen(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.OBJLEN key [path]."""
    if len(args) < 2:
        raise arity("json.objlen")
    path = path_arg(args[2]) if len(args) > 2 else ROOT
    doc = doc_for_read(ctx, args[1])
    if path.legacy:
        if doc is None:
            return None
        found = locate_or_none(doc.root, path)
        if not found:
            return None
        if not isinstance(found[0][0], dict):
            raise expected("object", codec.type_name(found[0][0]))
        return len(found[0][0])
    if doc is None:
        raise path_missing_or(path.text, "not an object")
    return [len(v) if isinstance(v, dict) else None for v, _ in locate(doc.root, path)]


# -- JSON.CLEAR ---------------------------------------------------------------------------


def clearable(v: Any) -> bool:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return False
    if isinstance(v, (list, dict)):
        return len(v) > 0
    return bool(v != 0)


@command("JSON.CLEAR", -1, "write", "json slow", keys=(1, 1, 1))
def json_clear(ctx: ExecContext, args: list[bytes]) -> int:
    """JSON.CLEAR key [path]: empty containers, zero numbers; the count cleared."""
    if len(args) < 2:
        raise arity("json.clear")
    path = path_arg(args[2]) if len(args) > 2 else ROOT
    doc = existing_doc(ctx, args[1], write=True)
    cleared = 0
    for loc in [loc for value, loc in locate(doc.root, path) if clearable(value)]:
        # RedisJSON clears what is at the location now (an earlier match may have changed
        # it) and counts every container and number it finds there
        target = doc.root if not loc else get_at(doc.root, loc)
        if isinstance(target, (list, dict)):
            target.clear()
        elif is_number(target):
            doc.root = replace(doc.root, loc, 0)
        else:
            continue
        cleared += 1
    finish(ctx, args[1], cleared > 0)
    return cleared
