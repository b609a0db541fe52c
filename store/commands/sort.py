"""SORT and SORT_RO: sort a list, set or sorted set, optionally by (and getting) other
keys' values (Redis 7.2's ``sort.c``).

Order of checks, as Redis: the options are parsed first (a syntax error or a bad LIMIT
number wins), then the key's type (WRONGTYPE), then the weights ("One or more scores
can't be converted into double"). SORT_RO refuses STORE as a syntax error.

* ``BY pattern``: ``*`` is replaced by the element (first ``*`` only); ``key->field``
  reads a hash field; a pattern without ``*`` (``nosort``) skips sorting: lists and
  sorted sets keep their own order (reversed by DESC, LIMIT cut from that order), sets
  their iteration order. With STORE, a set is sorted ALPHA instead (Redis does so for
  replication's sake).
* A missing weight counts as 0 (numeric) or sorts first (ALPHA BY). Equal numeric
  weights are ordered by the elements' bytes; equal ALPHA BY weights keep the order the
  elements were loaded in (Redis's qsort leaves it undefined).
* ``GET pattern`` (several allowed): ``#`` is the element itself; a missing key or field
  is a null (an empty string in a STORE'd list).
* STORE writes a list (deletes the destination if the result is empty) and answers its
  length. It is logged as its effect (``DEL dest`` then ``RPUSH dest ...``), never as the
  SORT itself, so replay and replicas need not re-read the weight keys.

A sorted set is converted to its skiplist encoding by any SORT (Redis's ``zsetConvert``);
the conversion is not logged (a replica keeps its listpack until it converts for its
own reasons).
"""

from __future__ import annotations

import math
import re
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any

from ..datatypes.lists import ListValue
from ..datatypes.sets import SetValue
from ..datatypes.zsets import ZSet
from ..errors import CommandError, SyntaxErr, WrongTypeError
from ..replies import SimpleString
from .table import KEY_SPECS, command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext

NOT_DOUBLE = "One or more scores can't be converted into double"
# what the peer's ``fast_float_strtod`` reads as a whole weight: decimal, inf/infinity,
# nan (then refused as NaN); no white space, no hex, not the empty string
_DOUBLE = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.I)


class SortOptions:
    """A parsed SORT call."""

    __slots__ = ("alpha", "by", "count", "desc", "dontsort", "gets", "offset", "store")

    def __init__(self) -> None:
        self.desc = False
        self.alpha = False
        self.offset = 0
        self.count = -1
        self.by: bytes | None = None
        self.dontsort = False
        self.gets: list[bytes] = []
        self.store: bytes | None = None


def parse_options(args: list[bytes], *, readonly: bool) -> SortOptions:
    """The options after the key (``args`` includes the command name); Redis's errors."""
    opts = SortOptions()
    j = 2
    argc = len(args)
    while j < argc:
        word = args[j].lower()
        left = argc - j - 1
        if word == b"asc":
            opts.desc = False
        elif word == b"desc":
            opts.desc = True
        elif word == b"alpha":
            opts.alpha = True
        elif word == b"limit" and left >= 2:
            opts.offset = parse_int(args[j + 1])
            opts.count = parse_int(args[j + 2])
            j += 2
        elif not readonly and word == b"store" and left >= 1:
            opts.store = args[j + 1]
            j += 1
        elif word == b"by" and left >= 1:
            opts.by = args[j + 1]
            opts.dontsort = b"*" not in opts.by
            j += 1
        elif word == b"get" and left >= 1:
            opts.gets.append(args[j + 1])
            j += 1
        else:
            raise SyntaxErr()
        j += 1
    return opts


def sort_keys(args: list[bytes]) -> list[bytes]:
    """The sorted key and the last STORE destination (Redis's ``sortGetKeys``): a
    ``find_keys`` for the command table."""
    keys = [args[1]] if len(args) > 1 else []
    store: bytes | None = None
    i = 2
    while i < len(args):
        word = args[i].lower()
        if word == b"limit":
            i += 2
        elif word in (b"get", b"by"):
            i += 1
        elif word == b"store" and i + 1 < len(args):
            store = args[i + 1]
        i += 1
    if store is not None:
        keys.append(store)
    return keys


def lookup(ctx: ExecContext, pattern: bytes, element: bytes) -> bytes | None:
    """Redis's ``lookupKeyByPattern``: ``#`` is the element; the first ``*`` is replaced
    by it; ``->field`` after the ``*`` reads a hash field. None: no such key or field, a
    key of another type, or a pattern without ``*``."""
    if pattern == b"#":
        return element
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field: bytes | None = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2 :]
        key = pattern[:star] + element + pattern[star + 1 : arrow]
    else:
        key = pattern[:star] + element + pattern[star + 1 :]
    value = ctx.keyspace.get(key, ctx.read_now)
    if field is None:
        return value if isinstance(value, bytes) else None
    if isinstance(value, dict):
        return value.get(field)
    return None


def weight_score(raw: bytes) -> float | None:
    """``raw`` as the peer reads a weight (``fast_float_strtod`` of the whole string):
    None where it refuses it (trailing bytes, NaN, ERANGE overflow or underflow)."""
    if not _DOUBLE.fullmatch(raw):
        return None
    value = float(raw)
    lowered = raw.lower()
    if math.isnan(value) or (math.isinf(value) and b"inf" not in lowered):
        return None
    if value == 0 and any(c in b"123456789" for c in lowered.split(b"e")[0]):
        return None  # ERANGE: underflow
    return value


def load(value: Any, opts: SortOptions) -> tuple[list[bytes], int, int]:
    """The elements to sort and the ``[start, end]`` window of the output over them."""
    if isinstance(value, ListValue):
        elements = list(value.items)
    elif isinstance(value, SetValue):
        elements = list(value)
    elif isinstance(value, ZSet):
        value.skiplist = True  # zsetConvert(sortval, OBJ_ENCODING_SKIPLIST)
        if opts.dontsort:
            elements = [m for _, m in value.items()]
        else:
            elements = list(value.scores)
    else:
        elements = []
    n = len(elements)
    start = min(max(opts.offset, 0), n)
    count = min(max(opts.count, -1), n)
    end = n - 1 if count < 0 else start + count - 1
    if start >= n:
        start, end = n - 1, n - 2
    end = min(end, n - 1)
    if opts.dontsort and isinstance(value, (ListValue, ZSet)):
        # the native order, reversed by DESC, windowed before the output
        ordered = elements[::-1] if opts.desc else elements
        return ordered[start : end + 1] if end >= start else [], 0, end - start
    return elements, start, end


def sort_elements(ctx: ExecContext, elements: list[bytes], opts: SortOptions) -> list[bytes]:
    """``elements`` in SORT's order; CommandError if a weight is not a double."""
    by = opts.by
    if opts.alpha:
        if by is None:
            ordered = sorted(elements)
        else:
            weights = [lookup(ctx, by, e) for e in elements]

            def alpha_cmp(a: tuple[bytes | None, bytes], b: tuple[bytes | None, bytes]) -> int:
                x, y = a[0], b[0]
                if x is None or y is None:
                    return 0 if x is y else (-1 if x is None else 1)
                return (x > y) - (x < y)

            pairs = sorted(zip(weights, elements, strict=True), key=cmp_to_key(alpha_cmp))
            ordered = [e for _, e in pairs]
        return ordered[::-1] if opts.desc else ordered
    scores: list[float] = []
    bad = False
    for e in elements:
        raw = e if by is None else lookup(ctx, by, e)
        if raw is None:
            scores.append(0.0)
            continue
        score = weight_score(raw)
        if score is None:
            bad = True
            score = 0.0
        scores.append(score)
    if bad:
        raise CommandError(NOT_DOUBLE)
    pairs_n = sorted(zip(scores, elements, strict=True), reverse=opts.desc)
    return [e for _, e in pairs_n]


def run_sort(ctx: ExecContext, args: list[bytes], *, readonly: bool) -> Any:
    opts = parse_options(args, readonly=readonly)
    now = ctx.expire_now if opts.store is not None else ctx.read_now
    value = ctx.keyspace.get(args[1], now)
    if value is not None and not isinstance(value, (ListValue, SetValue, ZSet)):
        raise WrongTypeError()
    if opts.dontsort and isinstance(value, SetValue) and opts.store is not None:
        opts.dontsort, opts.alpha, opts.by = False, True, None
    elements, start, end = load(value, opts)
    if not opts.dontsort:
        elements = sort_elements(ctx, elements, opts)
    window = elements[start : end + 1] if end >= start else []
    out: list[bytes | None] = []
    for element in window:
        if not opts.gets:
            out.append(element)
        for pattern in opts.gets:
            out.append(lookup(ctx, pattern, element))
    if opts.store is None:
        return out
    return store_result(ctx, opts.store, [b"" if v is None else v for v in out])


def store_result(ctx: ExecContext, dest: bytes, items: list[bytes]) -> int:
    """Replace ``dest`` with the list ``items`` (delete it if empty); logged as its
    effect."""
    if items:
        ctx.keyspace.set_value(dest, ListValue(items))
        ctx.log_commands = [[b"DEL", dest], [b"RPUSH", dest, *items]]
        ctx.dirty = True
    elif ctx.keyspace.delete(dest):
        ctx.log_commands = [[b"DEL", dest]]
        ctx.dirty = True
    return len(items)


@command("SORT", -2, "write denyoom movablekeys", "set sortedset list slow dangerous",
         keys=(1, 1, 1), find_keys=sort_keys)  # fmt: skip
def sort(ctx: ExecContext, args: list[bytes]) -> Any:
    """Sort the elements of a list, set or sorted set (optionally STORE them)."""
    return run_sort(ctx, args, readonly=False)


@command("SORT_RO", -2, "readonly movablekeys", "set sortedset list slow dangerous", keys=(1, 1, 1))
def sort_ro(ctx: ExecContext, args: list[bytes]) -> Any:
    """Sort the elements of a list, set or sorted set (read-only variant)."""
    return run_sort(ctx, args, readonly=True)


def _unknown_spec(notes: str, flags: tuple[str, str]) -> dict[bytes, Any]:
    return {
        b"notes": notes.encode(),
        b"flags": [SimpleString(f) for f in flags],
        b"begin_search": {b"type": b"unknown", b"spec": {}},
        b"find_keys": {b"type": b"unknown", b"spec": {}},
    }


_SORTED_KEY = {
    b"flags": [SimpleString("RO"), SimpleString("access")],
    b"begin_search": {b"type": b"index", b"spec": {b"index": 1}},
    b"find_keys": {b"type": b"range", b"spec": {b"lastkey": 0, b"keystep": 1, b"limit": 0}},
}
_BY_GET = _unknown_spec(
    "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive "
    "from the content of the key we sort",
    ("RO", "access"),
)
_STORE = _unknown_spec(
    "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear "
    "anywhere in the argument array",
    ("OW", "update"),
)
KEY_SPECS["SORT"] = [_SORTED_KEY, _BY_GET, _STORE]
KEY_SPECS["SORT_RO"] = [_SORTED_KEY, _BY_GET]
