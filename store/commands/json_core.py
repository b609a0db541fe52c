"""JSON documents as whole values: JSON.SET, JSON.GET, JSON.MGET, JSON.MSET, JSON.MERGE,
JSON.DEL/FORGET, JSON.TYPE, JSON.RESP, JSON.DEBUG.

Behaviour is RedisJSON 2.8's (``redis_json/src/commands.rs``): a legacy path answers
with its first match (error or nil when none), a ``$`` path with every match; writes go
to every match. A document replaced at the root keeps the key's TTL (RedisJSON swaps the
value in place). Every handler is deterministic, so each write is logged as sent.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ..datatypes.json_doc import JsonDoc, memory_of
from ..json import codec
from ..json.edit import delete_at, get_at, remove_key, set_at, update_at
from ..json.errors import JsonError, path_missing
from ..json.path import Location, Path, select
from ..replies import SimpleString
from .json_access import (
    arity,
    check_nesting,
    clone,
    compiled,
    doc_for_read,
    doc_for_write,
    first_value,
    locate,
    parse_json,
    path_arg,
    text,
)
from .table import command

if TYPE_CHECKING:
    from .context import ExecContext

OK = SimpleString("OK")
ROOT = Path.of(".")

# -- JSON.SET ---------------------------------------------------------------------------


def touched(ctx: ExecContext, key: bytes) -> None:
    """After an in-place change of the document at ``key``: its size is re-measured and
    the keyspace (indexes) told."""
    doc = ctx.keyspace.data.get(key)
    if isinstance(doc, JsonDoc):
        doc.changed()
    ctx.keyspace.touched(key)


def find_updates(root: Any, path: Path, mode: str) -> list[tuple[str, Location, str]]:
    """RedisJSON's ``find_paths``: ``("set", loc, "")`` for each existing match (unless
    NX), else ``("add", parent_loc, key)`` where a static path names a missing key.
    Empty when nothing is to be written; errors as RedisJSON raises them."""
    query = compiled(path)
    if mode != "NX":
        found = select(root, query)
        if found:
            return [("set", loc, "") for _, loc in found]
    if mode == "XX":
        return []
    if not query.is_static:
        raise JsonError("Err wrong static path")
    if not query.steps:
        raise JsonError("Err path must end with object key to set")
    last = query.steps[-1]
    if last.kind in ("key", "keys"):
        name = last.args[0]
        if len(query.steps) == 1:
            return [("add", (), name)]
        parent = type(query)(query.steps[:-1])
        return [("add", loc, name) for _, loc in select(root, parent)]
    if not select(root, query):
        raise JsonError("ERR array index out of range")
    return []


def check_updates(updates: list[tuple[str, Location, str]], value: Any) -> None:
    """The nesting limit for ``value`` written at each update."""
    if updates:
        base = max(len(loc) + (kind == "add") for kind, loc, _ in updates)
        check_nesting(base, [value])


def apply_updates(doc: JsonDoc, updates: list[tuple[str, Location, str]], value: Any) -> bool:
    """Write ``value`` at each update; True if any location took it."""
    check_updates(updates, value)
    changed = False
    for n, (kind, loc, name) in enumerate(updates):
        # a fresh copy for all but the last: an earlier copy may contain a later location
        item = value if n == len(updates) - 1 else clone(value)
        if kind == "set":
            if not loc:
                doc.root = item
                changed = True
            elif set_at(doc.root, loc, item):
                changed = True
        else:
            parent = get_at(doc.root, loc)
            if isinstance(parent, dict) and name not in parent:
                parent[name] = item
                changed = True
    return changed


@command("JSON.SET", -1, "write denyoom", "json slow", keys=(1, 1, 1))
def json_set(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.SET key path value [NX|XX]."""
    if len(args) < 4:
        raise arity("json.set")
    key, path = args[1], path_arg(args[2])
    mode = ""
    i = 4
    while i < len(args):
        opt = text(args[i]).upper()
        if opt in ("NX", "XX") and not mode:
            mode = opt
        elif opt == "FORMAT":
            if i + 1 >= len(args):
                raise arity("json.set")
            i += 1
            fmt = text(args[i])
            if fmt not in ("STRING", "JSON", "BSON"):
                raise JsonError("ERR wrong format")
            if fmt == "BSON":
                raise JsonError("ERR FORMAT BSON is not supported")
        else:
            raise JsonError("ERR syntax error")
        i += 1
    doc = doc_for_write(ctx, key)
    value = parse_json(args[3])
    if doc is None:
        if mode == "XX":
            return None
        if not path.is_root:
            raise JsonError("ERR new objects must be created at the root")
        ctx.keyspace.set_value(key, JsonDoc(value))
        ctx.dirty = True
        return OK
    if path.is_root:
        if mode == "NX":
            return None
        doc.root = value
        changed = True
    else:
        updates = find_updates(doc.root, path, mode)
        changed = bool(updates) and apply_updates(doc, updates, value)
    if not changed:
        return None
    touched(ctx, key)
    ctx.dirty = True
    return OK


# -- JSON.GET ---------------------------------------------------------------------------

GET_OPTIONS_MAXLEN = 8  # len("NOESCAPE"): longer arguments are always paths


class Format:
    """JSON.GET's formatting options (``INDENT``/``NEWLINE``/``SPACE``, RESP3 ``FORMAT``)."""

    __slots__ = ("indent", "newline", "reply", "space")

    def __init__(self, reply: str = "STRING") -> None:
        self.indent: str | None = None
        self.newline: str | None = None
        self.space: str | None = None
        self.reply = reply

    def dumps(self, value: Any) -> str:
        return codec.dumps(value, self.indent, self.newline, self.space)

    def native(self, resp3: bool) -> bool:
        return resp3 and self.reply not in ("STRING", "STRINGS")


def parse_reply_format(raw: str) -> str:
    if raw not in ("STRING", "STRINGS", "EXPAND1", "EXPAND"):
        raise JsonError("ERR wrong reply format")
    return raw


def to_resp3(value: Any, fmt: Format) -> Any:
    """A value as RESP3 FORMAT EXPAND/EXPAND1 sends it."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value.encode()
    if fmt.reply == "EXPAND":
        if isinstance(value, list):
            return [to_resp3(v, fmt) for v in value]
        return {k.encode(): to_resp3(v, fmt) for k, v in value.items()}
    return fmt.dumps(value).encode()


@command("JSON.GET", -1, "readonly", "json slow", keys=(1, 1, 1))
def json_get(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.GET key [INDENT s] [NEWLINE s] [SPACE s] [path ...]."""
    if len(args) < 2:
        raise arity("json.get")
    resp3 = ctx.protocol >= 3
    fmt = Format()
    paths: list[Path] = []
    i = 2
    while i < len(args):
        raw = text(args[i])
        word = raw.upper() if len(raw) <= GET_OPTIONS_MAXLEN else ""
        if word in ("INDENT", "NEWLINE", "SPACE", "FORMAT"):
            if word == "FORMAT" and not resp3 and not paths:
                raise JsonError("ERR FORMAT argument is not supported on RESP2")
            if i + 1 >= len(args):
                raise arity("json.get")
            i += 1
            value = text(args[i])
            if word == "FORMAT":
                if value.upper() == "STRINGS":
                    raise JsonError("ERR wrong reply format")
                fmt.reply = parse_reply_format(value)
            else:
                setattr(fmt, word.lower(), value)
        elif word != "NOESCAPE":
            paths.append(Path.of(raw))
        i += 1
    if not paths:
        paths.append(ROOT)
    doc = doc_for_read(ctx, args[1])
    if doc is None:
        return None
    root = doc.root
    if fmt.native(resp3):
        out = []
        for path in paths:
            try:
                found = locate(root, path)
            except JsonError:
                found = []
            out.append([to_resp3(v, fmt) for v, _ in found])
        return out
    legacy = all(p.legacy for p in paths)
    if len(paths) == 1:
        path = paths[0]
        if legacy:
            return fmt.dumps(first_value(root, path)).encode()
        return fmt.dumps([v for v, _ in locate(root, path)]).encode()
    merged: dict[str, Any] = {}
    missing: str | None = None
    for path in paths:
        try:
            found = locate(root, path)
        except JsonError:
            continue  # RedisJSON leaves a path that does not compile out of the object
        if legacy:
            if not found:
                missing = missing or path.original
                merged[path.original] = None
            else:
                merged[path.original] = found[0][0]
        else:
            merged[path.original] = [v for v, _ in found]
    if missing is not None:
        raise path_missing(missing)
    return fmt.dumps(merged).encode()


@command("JSON.MGET", -1, "readonly", "json slow", keys=(1, -2, 1))
def json_mget(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.MGET key [key ...] path: one reply per key, nil where there is nothing."""
    if len(args) < 3:
        raise arity("json.mget")
    path = path_arg(args[-1])
    out: list[bytes | None] = []
    for key in args[1:-1]:
        value = ctx.keyspace.get(key, ctx.read_now)
        if not isinstance(value, JsonDoc):
            out.append(None)
            continue
        try:
            found = locate(value.root, path)
        except JsonError:
            out.append(None)
            continue
        if path.legacy:
            out.append(codec.dumps(found[0][0]).encode() if found else None)
        else:
            out.append(codec.dumps([v for v, _ in found]).encode())
    return out


# -- JSON.MSET / JSON.MERGE -----------------------------------------------------------


@command("JSON.MSET", -1, "write denyoom", "json slow", keys=(1, -1, 3))
def json_mset(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.MSET key path value [key path value ...]: all or nothing."""
    if len(args) < 4 or (len(args) - 1) % 3:
        raise arity("json.mset")
    actions: list[tuple[bytes, JsonDoc | None, list[tuple[str, Location, str]] | None, Any]] = []
    for i in range(1, len(args), 3):
        key = args[i]
        doc = doc_for_write(ctx, key)
        path = path_arg(args[i + 1])
        updates = None
        if not path.is_root:
            if doc is None:
                raise JsonError("ERR new objects must be created at the root")
            updates = find_updates(doc.root, path, "")
        value = parse_json(args[i + 2])
        if updates:
            check_updates(updates, value)
        actions.append((key, doc, updates, value))
    changed_any = False
    for key, _doc, updates, value in actions:
        doc = doc_for_write(ctx, key)  # an earlier triple may have created it
        if updates is None:
            if doc is None:
                ctx.keyspace.set_value(key, JsonDoc(value))
                changed_any = True
                continue
            doc.root = value
            changed = True
        else:
            assert doc is not None
            changed = bool(updates) and apply_updates(doc, updates, value)
        if changed:
            touched(ctx, key)
            changed_any = True
    ctx.dirty = changed_any
    return OK


def merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7396 merge as RedisJSON applies it; returns the merged value."""
    if not isinstance(patch, dict):
        return clone(patch)
    if not isinstance(doc, dict):
        doc = {}
    for key, value in patch.items():
        if value is None:
            if key in doc:
                remove_key(doc, key)
        else:
            doc[key] = merge_patch(doc.get(key), value)
    return doc


@command("JSON.MERGE", -1, "write denyoom", "json slow", keys=(1, 1, 1))
def json_merge(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.MERGE key path value: RFC 7396 merge patch at every match."""
    if len(args) < 4:
        raise arity("json.merge")
    key, path = args[1], path_arg(args[2])
    i = 4
    while i < len(args):
        if text(args[i]).upper() != "FORMAT":
            raise JsonError("ERR syntax error")
        if i + 1 >= len(args):
            raise arity("json.merge")
        if text(args[i + 1]) not in ("STRING", "JSON", "BSON"):
            raise JsonError("ERR wrong format")
        i += 2
    doc = doc_for_write(ctx, key)
    value = parse_json(args[3])
    if doc is None:
        if not path.is_root:
            raise JsonError("ERR new objects must be created at the root")
        ctx.keyspace.set_value(key, JsonDoc(value))
        ctx.dirty = True
        return OK
    if path.is_root:
        doc.root = merge_patch(doc.root, value)
        changed = True
    else:
        changed = False
        updates = find_updates(doc.root, path, "")
        check_updates(updates, value)
        for kind, loc, name in updates:
            if kind == "set":
                if not loc:
                    doc.root = merge_patch(doc.root, value)
                    changed = True
                elif update_at(doc.root, loc, lambda old: merge_patch(old, value)):
                    changed = True
            else:
                parent = get_at(doc.root, loc)
                if isinstance(parent, dict) and name not in parent:
                    parent[name] = clone(value)
                    changed = True
    if not changed:
        return None
    touched(ctx, key)
    ctx.dirty = True
    return OK


# -- JSON.DEL ---------------------------------------------------------------------------


def deletion_order(locs: list[Location]) -> list[Location]:
    """RedisJSON's ``prepare_paths_for_deletion``: deeper and later array elements
    first, and no location whose text (elements joined by ``,``) extends another's."""
    if len(locs) < 2:
        return locs
    texts = [[str(e) for e in loc] for loc in locs]

    def key(t: list[str]) -> tuple[Any, ...]:
        parts: list[Any] = []
        for e in t:
            if e.isdigit():
                parts.append((1, -int(e), ""))
            else:
                parts.append((0, 0, e))
        return tuple(parts)

    def cmp(a: list[str], b: list[str]) -> int:
        for x, y in zip(a, b, strict=False):
            kx, ky = key([x])[0], key([y])[0]
            if kx != ky:
                return -1 if kx < ky else 1
        if len(a) != len(b):
            return -1 if len(a) > len(b) else 1
        return 0

    ordered = sorted(texts, key=functools.cmp_to_key(cmp))
    joined = sorted(",".join(t) for t in ordered)
    keep = []
    for t in ordered:
        s = ",".join(t)
        found = rust_binary_search(joined, s)
        if not any(s.startswith(p) for p in joined[:found]):
            keep.append(t)
    by_text = {tuple(str(e) for e in loc): loc for loc in locs}
    return [by_text[tuple(t)] for t in keep]


def rust_binary_search(items: list[str], target: str) -> int:
    """Rust's ``slice::binary_search`` (the one RedisJSON 2.8 was built with): which of
    several equal items it lands on decides what JSON.DEL keeps."""
    left, right, size = 0, len(items), len(items)
    while left < right:
        mid = left + size // 2
        if items[mid] < target:
            left = mid + 1
        elif items[mid] > target:
            right = mid
        else:
            return mid
        size = right - left
    return left


def json_del(ctx: ExecContext, args: list[bytes]) -> int:
    if len(args) < 2:
        raise arity(text(args[0]).lower())
    key = args[1]
    path = path_arg(args[2]) if len(args) > 2 else ROOT
    doc = doc_for_write(ctx, key)
    if doc is None:
        return 0
    if path.is_root:
        ctx.keyspace.delete(key)
        ctx.dirty = True
        return 1
    found = locate(doc.root, path)
    deleted = 0
    for loc in deletion_order([loc for _, loc in found]):
        if loc and delete_at(doc.root, loc):
            deleted += 1
    if deleted:
        touched(ctx, key)
        ctx.dirty = True
    return deleted


command("JSON.DEL", -1, "write", "json slow", keys=(1, 1, 1), summary="JSON.DEL key [path]")(
    json_del
)
command("JSON.FORGET", -1, "write", "json slow", keys=(1, 1, 1), summary="JSON.FORGET key [path]")(
    json_del
)


# -- JSON.TYPE / JSON.RESP / JSON.DEBUG -----------------------------------------------


@command("JSON.TYPE", -1, "readonly", "json slow", keys=(1, 1, 1))
def json_type(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.TYPE key [path]: the JSON type name of what the path selects."""
    if len(args) < 2:
        raise arity("json.type")
    path = path_arg(args[2]) if len(args) > 2 else ROOT
    doc = doc_for_read(ctx, args[1])
    value: Any
    if doc is None:
        value = None
    elif path.legacy:
        try:
            value = codec.type_name(first_value(doc.root, path)).encode()
        except JsonError:
            value = None
    else:
        value = [codec.type_name(v).encode() for v, _ in locate(doc.root, path)]
    return [value] if ctx.protocol >= 3 else value


def resp_value(value: Any) -> Any:
    """JSON.RESP's encoding of a value."""
    if value is None:
        return None
    if value is True:
        return SimpleString("true")
    if value is False:
        return SimpleString("false")
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):
        return [SimpleString("["), *(resp_value(v) for v in value)]
    out: list[Any] = [SimpleString("{")]
    for k, v in value.items():
        out += [k.encode(), resp_value(v)]
    return out


@command("JSON.RESP", -1, "readonly", "json slow", keys=(1, 1, 1))
def json_resp(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.RESP key [path]: the value as RESP arrays (``[`` / ``{`` first)."""
    if len(args) < 2:
        raise arity("json.resp")
    path = path_arg(args[2]) if len(args) > 2 else ROOT
    doc = doc_for_read(ctx, args[1])
    if doc is None:
        return None
    if path.legacy:
        return resp_value(first_value(doc.root, path))
    return [resp_value(v) for v, _ in locate(doc.root, path)]


DEBUG_HELP = [
    b"MEMORY <key> [path] - reports memory usage",
    b"HELP                - this message",
]


@command("JSON.DEBUG", -1, "readonly", "json slow", keys=(2, 2, 1))
def json_debug(ctx: ExecContext, args: list[bytes]) -> object:
    """JSON.DEBUG MEMORY key [path] | HELP."""
    if len(args) < 2:
        raise arity("json.debug")
    sub = text(args[1]).upper()
    if sub == "HELP":
        return DEBUG_HELP
    if sub != "MEMORY":
        raise JsonError("ERR unknown subcommand - try `JSON.DEBUG HELP`")
    if len(args) < 3:
        raise arity("json.debug")
    path = path_arg(args[3]) if len(args) > 3 else ROOT
    doc = doc_for_read(ctx, args[2])
    if path.legacy:
        return 0 if doc is None else memory_of(first_value(doc.root, path))
    if doc is None:
        return []
    return [memory_of(v) for v, _ in locate(doc.root, path)]
