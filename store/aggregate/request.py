"""FT.AGGREGATE arguments parsed into an :class:`AggregateRequest`: query options and steps.

``parse_aggregate(args)`` takes the arguments after the index name (query first). Steps
keep their order: ``LOAD``, ``APPLY expr AS name``, ``FILTER expr``, ``GROUPBY n @f...
REDUCE ...``, ``SORTBY n @f [ASC|DESC]... [MAX m]`` and ``LIMIT offset num`` (a LIMIT
right after a SORTBY belongs to it, as RediSearch's arrange step). Query options:
``PARAMS``, ``DIALECT``, ``VERBATIM`` (no stemming), ``NOSTOPWORDS``, ``INFIELDS``,
``INKEYS``, ``LANGUAGE`` (the stemmer of query terms), ``TIMEOUT``, ``ADDSCORES``,
``SCORER``, ``WITHCURSOR [COUNT c] [MAXIDLE ms]``. ``SLOP``, ``INORDER``, ``EXPANDER`` and
``PAYLOAD`` are refused with a message saying so. Expressions
are parsed here, so a bad one is refused before anything runs. Error texts are
RediSearch 2.10's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import QuerySyntaxError
from ..index.schema import LANGUAGES
from ..index.search_args import SCORERS
from ..numbers import parse_int64
from .argerrors import CONVERT, EXPECTED, bad_args
from .expr import Expr, ExpressionSyntaxError, parse_expression
from .reducers import ReducerSpec, make_reducer

__all__ = [
    "AggregateRequest",
    "Apply",
    "Arrange",
    "Filter",
    "GroupBy",
    "Load",
    "Reduce",
    "Step",
    "parse_aggregate",
]

DEFAULT_CURSOR_COUNT = 1000
DEFAULT_MAXIDLE_MS = 300_000
MAX_IDLE_MS = 300_000  # RediSearch's CURSOR_MAX_IDLE default: a larger MAXIDLE is cut to it
MAX_OFFSET = 1_000_000  # RediSearch's MAXSEARCHRESULTS: the largest LIMIT offset
UINT32_MAX = 2**32 - 1
DEFAULT_SORT_LIMIT = 10


@dataclass(frozen=True)
class Load:
    """``LOAD``: ``fields`` are ``(name, path)`` pairs; ``everything`` for ``LOAD *``."""

    fields: tuple[tuple[bytes, bytes], ...]
    everything: bool = False


@dataclass(frozen=True)
class Apply:
    tree: Expr
    alias: bytes


@dataclass(frozen=True)
class Filter:
    tree: Expr


@dataclass(frozen=True)
class Reduce:
    spec: ReducerSpec
    alias: bytes


@dataclass(frozen=True)
class GroupBy:
    properties: tuple[bytes, ...]
    reducers: tuple[Reduce, ...]


@dataclass
class Arrange:
    """SORTBY and/or LIMIT. ``keys`` are ``(name, ascending)``; ``limit`` None = no LIMIT."""

    keys: tuple[tuple[bytes, bool], ...] = ()
    max: int | None = None
    offset: int = 0
    limit: int | None = None


Step = Load | Apply | Filter | GroupBy | Arrange


@dataclass
class AggregateRequest:
    query: bytes
    steps: list[Step] = field(default_factory=list)
    params: dict[bytes, bytes] = field(default_factory=dict)
    dialect: int | None = None
    verbatim: bool = False
    language: bytes | None = None
    nostopwords: bool = False
    infields: tuple[bytes, ...] | None = None
    inkeys: tuple[bytes, ...] | None = None
    timeout_ms: int | None = None
    addscores: bool = False
    scorer: bytes | None = None
    cursor: bool = False
    cursor_count: int = 0
    maxidle_ms: int = DEFAULT_MAXIDLE_MS


class _Cursor:
    def __init__(self, args: Sequence[bytes]) -> None:
        self.args = args
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.args)

    def take(self) -> bytes:
        value = self.args[self.pos]
        self.pos += 1
        return value

    def peek_upper(self) -> bytes:
        return self.args[self.pos].upper() if self.more() else b""

    def varargs(self, what: str) -> list[bytes]:
        if not self.more():
            raise bad_args(what, EXPECTED)
        count = _uint(self.take())
        if count is None:
            raise bad_args(what, CONVERT)
        if self.pos + count > len(self.args):
            raise bad_args(what, EXPECTED)
        items = list(self.args[self.pos : self.pos + count])
        self.pos += count
        return items

    def number(self, what: str) -> int:
        if not self.more():
            raise bad_args(what, EXPECTED)
        value = _uint(self.take())
        if value is None:
            raise bad_args(what, CONVERT)
        return value


def _bounded(cur: _Cursor, what: str, hi: int) -> int:
    if not cur.more():
        raise bad_args(what, EXPECTED)
    value = parse_int64(cur.take(), strict=False)
    if value is None:
        raise bad_args(what, CONVERT)
    if not 1 <= value <= hi:
        raise bad_args(what, "Value is outside acceptable bounds")
    return value


def _uint(raw: bytes) -> int | None:
    if not raw.isdigit():
        return None
    value = parse_int64(raw, strict=False)
    return None if value is None or value < 0 else value


def _expression(text: bytes) -> Expr:
    try:
        return parse_expression(text)
    except ExpressionSyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from exc


def _reducer_alias(name: bytes, args: list[bytes]) -> bytes:
    parts = [a.lstrip(b"@") for a in args]
    return (b"__generated_alias" + name + b",".join(parts)).lower()


def parse_aggregate(args: Sequence[bytes]) -> AggregateRequest:
    """Parse FT.AGGREGATE arguments after the index name."""
    if not args:
        raise QuerySyntaxError("No query string provided")
    cur = _Cursor(args)
    req = AggregateRequest(query=cur.take())
    while cur.more():
        position = cur.pos
        raw = cur.take()
        word = raw.upper()
        if word == b"LOAD":
            req.steps.append(_load(cur, req))
        elif word == b"APPLY":
            if not cur.more():
                raise bad_args("APPLY/FILTER", EXPECTED)
            text = cur.take()
            alias = text
            if cur.peek_upper() == b"AS":
                cur.take()
                if not cur.more():
                    raise QuerySyntaxError("AS needs argument")
                alias = cur.take()
            req.steps.append(Apply(_expression(text), alias))
        elif word == b"FILTER":
            if not cur.more():
                raise bad_args("APPLY/FILTER", EXPECTED)
            req.steps.append(Filter(_expression(cur.take())))
        elif word == b"GROUPBY":
            req.steps.append(_groupby(cur))
        elif word == b"SORTBY":
            _sortby(cur, req)
        elif word == b"LIMIT":
            if cur.pos + 2 > len(cur.args):
                raise QuerySyntaxError("LIMIT requires two arguments")
            offset, num = _uint(cur.take()), _uint(cur.take())
            if offset is None or num is None:
                raise QuerySyntaxError("LIMIT needs two numeric arguments")
            if offset > MAX_OFFSET:
                raise QuerySyntaxError(f"OFFSET exceeds maximum of {MAX_OFFSET}")
            arrange = _arrange_step(req)
            arrange.offset, arrange.limit = offset, num
        elif word == b"WITHCURSOR":
            req.cursor = True
            while cur.peek_upper() in (b"COUNT", b"MAXIDLE"):
                what = cur.take().upper().decode()
                value = _bounded(cur, what, UINT32_MAX)
                if what == "COUNT":
                    req.cursor_count = value
                else:
                    req.maxidle_ms = min(value, MAX_IDLE_MS)
        elif word == b"PARAMS":
            if req.params:
                raise QuerySyntaxError(
                    "Multiple PARAMS are not allowed. Parameters can be defined only once"
                )
            items = cur.varargs("PARAMS")
            if not items or len(items) % 2:
                raise QuerySyntaxError("Parameters must be specified in PARAM VALUE pairs")
            for pname, pvalue in zip(items[::2], items[1::2], strict=True):
                if pname in req.params:
                    raise QuerySyntaxError(
                        f"Duplicate parameter `{pname.decode('utf-8', 'replace')}`"
                    )
                req.params[pname] = pvalue
        elif word == b"DIALECT":
            if not cur.more():
                raise QuerySyntaxError("Need an argument for DIALECT")
            dialect = _uint(cur.take())
            if dialect is None or not 1 <= dialect <= 4:
                raise QuerySyntaxError("DIALECT requires a non negative integer >=1 and <= 4")
            req.dialect = dialect
        elif word == b"TIMEOUT":
            if not cur.more():
                raise QuerySyntaxError("Need argument for TIMEOUT")
            timeout = _uint(cur.take())
            if timeout is None:
                raise QuerySyntaxError("TIMEOUT requires a non negative integer")
            req.timeout_ms = timeout
        elif word == b"VERBATIM":
            req.verbatim = True
        elif word == b"NOSTOPWORDS":
            req.nostopwords = True
        elif word == b"ADDSCORES":
            req.addscores = True
        elif word == b"SCORER":
            if not cur.more():
                raise bad_args("SCORER", EXPECTED)
            scorer_name = cur.take()
            if scorer_name.upper() not in SCORERS:
                raise QuerySyntaxError(f"No such scorer {scorer_name.decode('utf-8', 'replace')}")
            req.scorer = scorer_name
        elif word == b"INFIELDS":
            req.infields = tuple(cur.varargs("INFIELDS"))
        elif word == b"INKEYS":
            req.inkeys = tuple(cur.varargs("INKEYS"))
        elif word == b"LANGUAGE":
            if not cur.more():
                raise bad_args("LANGUAGE", EXPECTED)
            req.language = cur.take()
            if req.language.lower() not in LANGUAGES:
                raise QuerySyntaxError("No such language")
        elif word in (b"SLOP", b"INORDER", b"EXPANDER", b"PAYLOAD"):
            raise QuerySyntaxError(
                f"{word.decode()} is not supported by memvec's FT.AGGREGATE: remove it"
            )
        elif word in (b"SUMMARIZE", b"HIGHLIGHT"):
            raise QuerySyntaxError(f"{word.decode()} is not supported on FT.AGGREGATE")
        elif word == b"RETURN":
            raise QuerySyntaxError("RETURN is not supported on FT.AGGREGATE")
        else:
            shown = raw.decode("utf-8", "replace")
            raise QuerySyntaxError(f"Unknown argument `{shown}` at position {position} for <main>")
    return req


def _load(cur: _Cursor, req: AggregateRequest) -> Load:
    if cur.more() and cur.args[cur.pos] == b"*":
        cur.take()
        return Load((), everything=True)
    try:
        items = cur.varargs("LOAD")
    except QuerySyntaxError:
        raise QuerySyntaxError("Bad arguments for LOAD: SUCCESS") from None  # sic, RediSearch 2.10
    fields: list[tuple[bytes, bytes]] = []
    i = 0
    while i < len(items):
        path = items[i][1:] if items[i].startswith(b"@") else items[i]
        name = path
        i += 1
        if i < len(items) and items[i].upper() == b"AS":
            if i + 1 >= len(items):
                raise QuerySyntaxError("LOAD path AS name - must be accompanied with NAME")
            name = items[i + 1]
            if name.upper() == b"AS":
                raise QuerySyntaxError("Alias for LOAD cannot be `AS`")
            i += 2
        fields.append((name, path))
    return Load(tuple(fields))


def _groupby(cur: _Cursor) -> GroupBy:
    props = cur.varargs("GROUPBY")
    for p in props:
        if not p.startswith(b"@"):
            text = p.decode("utf-8", "replace")
            raise QuerySyntaxError(
                f"Bad arguments for GROUPBY: Unknown property `{text}`. Did you mean `@{text}`?"
            )
    reducers: list[Reduce] = []
    while cur.peek_upper() == b"REDUCE":
        cur.take()
        if not cur.more():
            raise QuerySyntaxError("Bad arguments for REDUCE: SUCCESS")  # sic, RediSearch 2.10
        name = cur.take()
        args = cur.varargs(name.decode("utf-8", "replace"))
        alias = _reducer_alias(name, args)
        if cur.peek_upper() == b"AS":
            cur.take()
            if not cur.more():
                raise bad_args("AS", EXPECTED)
            alias = cur.take()
        reducers.append(Reduce(make_reducer(name, args), alias))
    return GroupBy(tuple(p[1:] for p in props), tuple(reducers))


def _sortby(cur: _Cursor, req: AggregateRequest) -> None:
    items = cur.varargs("SORTBY")
    keys: list[tuple[bytes, bool]] = []
    for item in items:
        if item.startswith(b"@"):
            keys.append((item[1:], True))
        elif item.upper() in (b"ASC", b"DESC") and keys:
            keys[-1] = (keys[-1][0], item.upper() == b"ASC")
        else:
            raise QuerySyntaxError(
                f"MISSING ASC or DESC after sort field ({item.decode('utf-8', 'replace')})"
            )
    step = _arrange_step(req)
    if step.keys:
        raise QuerySyntaxError(
            "Multiple SORTBY steps are not allowed. Sort multiple fields in a single step"
        )
    step.keys = tuple(keys)
    if cur.peek_upper() == b"MAX":
        cur.take()
        limit = cur.number("MAX")
        if limit > UINT32_MAX:
            raise bad_args("MAX", CONVERT)
        step.max = limit or None  # MAX 0: RediSearch's default limit


def _arrange_step(req: AggregateRequest) -> Arrange:
    """The SORTBY/LIMIT step of the current segment (since the last GROUPBY), created at
    this position if there is none: RediSearch merges them into one step."""
    for step in reversed(req.steps):
        if isinstance(step, GroupBy):
            break
        if isinstance(step, Arrange):
            return step
    arrange = Arrange()
    req.steps.append(arrange)
    return arrange
