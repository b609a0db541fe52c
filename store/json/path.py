"""RedisJSON's path languages: JSONPath (``$...``) and the legacy ``.path`` syntax.

RedisJSON 2.x compiles both with one grammar (its ``json_path`` crate, a pest grammar):
a path that does not start with ``$`` followed by ``.``/``[``/end is *legacy* and is
rewritten (``.`` -> ``$``, ``.a`` -> ``$.a``, ``a`` -> ``$.a``) before compiling; legacy
only changes reply shapes (first match, error when none), never what is selected.

The grammar and its compiler are in :mod:`store.json.path_grammar`.

Evaluation follows RedisJSON's ``PathCalculator`` exactly, quirks included (they show
in replies): ``..`` visits a node, then each child followed by its descendants (pre-order);
an index below ``-len`` selects element 0; a filter over an object's values reports the
value's *position* as its path element (so writing through it addresses key ``"0"``, ...);
a sub-path term in a filter is a value only if it selects exactly one node; ``!=``
between incomparable values is true, ``<``/``>`` false; ``=~`` is a regex search and
only takes a pattern written without escapes or a string value.

Why not jsonpath-ng (installed): measured against the peer on 46 paths over one
document it selects the same values for 43; it differs on an index below ``-len``, on
filters applied to scalars and on recursive descent into filters, and it has neither
RedisJSON's grammar (its literal character set, where spaces may go, ``$foo``), its
parse-error messages (which clients see), nor the static-path rule JSON.SET relies on.
Wrapping it would mean pre-parsing paths anyway; docs/json.md has the measurement.

:func:`find` (values only) is what FT indexes ON JSON use; commands use :func:`compile`
and :func:`select` (values with their locations).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .path_grammar import (
    INT64_MAX,
    INT64_MIN,
    JsonPathError,
    Location,
    Query,
    Step,
    compile,
)

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "JsonPathError",
    "Location",
    "Path",
    "Query",
    "Step",
    "compile",
    "find",
    "is_legacy",
    "legacy_fixed",
    "select",
]


# ---------------------------------------------------------------------------- paths
def is_legacy(path: str) -> bool:
    """Whether RedisJSON treats ``path`` as a legacy path (see the module docstring)."""
    return not (path.startswith("$") and (len(path) < 2 or path[1] in ".["))


def legacy_fixed(path: str) -> str:
    """The JSONPath RedisJSON compiles for ``path``."""
    if not is_legacy(path):
        return path
    if path == ".":
        return "$"
    if path.startswith("."):
        return "$" + path
    return "$." + path


@dataclass(frozen=True)
class Path:
    """A path argument as given (``original``) and as compiled (``text``)."""

    original: str
    text: str
    legacy: bool

    @classmethod
    def of(cls, raw: str) -> Path:
        return cls(raw, legacy_fixed(raw), is_legacy(raw))

    @property
    def is_root(self) -> bool:
        """RedisJSON's ``path == "$"`` test (``.`` and ``$``)."""
        return self.text == "$"


# ------------------------------------------------------------------------ evaluation
def _children(node: Any) -> list[tuple[str | int, Any]]:
    if isinstance(node, dict):
        return list(node.items())
    if isinstance(node, list):
        return list(enumerate(node))
    return []


def _abs_index(i: int, n: int) -> int:
    return min(i, n) if i >= 0 else max(i + n, 0)


class _Calc:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.out: list[tuple[Any, Location]] = []

    def run(self, steps: list[Step], i: int, node: Any, loc: Location) -> None:
        if i == len(steps):
            self.out.append((node, loc))
            return
        step = steps[i]
        kind = step.kind
        if kind == "key":
            if isinstance(node, dict) and step.args[0] in node:
                self.run(steps, i + 1, node[step.args[0]], (*loc, step.args[0]))
        elif kind == "keys":
            if isinstance(node, dict):
                for key in step.args:
                    if key in node:
                        self.run(steps, i + 1, node[key], (*loc, key))
        elif kind == "index":
            if isinstance(node, list):
                n = len(node)
                for raw in step.args:
                    j = _abs_index(raw, n)
                    if j < n:
                        self.run(steps, i + 1, node[j], (*loc, j))
        elif kind == "range":
            if isinstance(node, list):
                n = len(node)
                form, a, b, stride = step.args
                if form == "full":
                    lo, hi = _abs_index(a, n), _abs_index(b, n)
                elif form == "left":
                    lo, hi = _abs_index(a, n), n
                elif form == "right":
                    lo, hi = 0, _abs_index(b, n)
                else:
                    lo, hi = 0, n
                for j in range(lo, hi, stride):
                    if j < n:
                        self.run(steps, i + 1, node[j], (*loc, j))
        elif kind == "all":
            for key, child in _children(node):
                self.run(steps, i + 1, child, (*loc, key))
        elif kind == "scan":
            self.run(steps, i + 1, node, loc)
            self.scan(steps, i + 1, node, loc)
        elif kind == "filter":
            parts = step.args[0]
            if isinstance(node, (dict, list)):
                values = node.values() if isinstance(node, dict) else node
                for j, child in enumerate(list(values)):
                    if self.filter(parts, child):
                        self.run(steps, i + 1, child, (*loc, j))
            elif self.filter(parts, node):
                self.run(steps, i + 1, node, loc)

    def scan(self, steps: list[Step], i: int, node: Any, loc: Location) -> None:
        for key, child in _children(node):
            self.run(steps, i, child, (*loc, key))
            self.scan(steps, i, child, (*loc, key))

    # -- filters
    def filter(self, parts: list[Any], node: Any) -> bool:
        result = self.operand(parts[0], node)
        k = 1
        while k < len(parts):
            rel, operand = parts[k], parts[k + 1]
            k += 2
            if rel == "and":
                if not result:
                    continue
                result = self.operand(operand, node)
            else:
                if result:
                    return True
                return self.filter(parts[k - 1 :], node)
        return result

    def operand(self, part: Any, node: Any) -> bool:
        if part[0] == "group":
            return self.filter(part[1], node)
        single = part[1]
        left = self.term(single[0], node)
        if len(single) == 1:
            return left is not _INVALID
        right = self.term(single[2], node)
        return _compare(left, single[1], right)

    def term(self, term: tuple[Any, ...], node: Any) -> Any:
        kind = term[0]
        if kind in ("current", "root"):
            base = node if kind == "current" else self.root
            if term[1] is None:
                return _Value(base)
            sub = _Calc(self.root)
            sub.run(term[1], 0, base, ())
            return _Value(sub.out[0][0]) if len(sub.out) == 1 else _INVALID
        if kind == "num":
            return term[1]
        if kind == "str":
            return _Str(term[1], term[2])
        if kind == "bool":
            return term[1]
        return None


class _Value:
    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v


class _Str(str):
    escaped: bool

    def __new__(cls, s: str, escaped: bool) -> _Str:
        obj = super().__new__(cls, s)
        obj.escaped = escaped
        return obj


_INVALID = object()
_UNCOMPARABLE = object()


def _scalar(t: Any) -> Any:
    """A term as a comparable Python value, or ``_UNCOMPARABLE``."""
    if isinstance(t, _Value):
        v = t.v
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v if INT64_MIN <= v <= INT64_MAX else float(v)
        if isinstance(v, float):
            return v
        return _UNCOMPARABLE
    if t is _INVALID:
        return _UNCOMPARABLE
    return t


def _cmp(a: Any, b: Any) -> int | None:
    x, y = _scalar(a), _scalar(b)
    if x is _UNCOMPARABLE or y is _UNCOMPARABLE:
        return None
    if x is None or y is None:
        return 0 if x is None and y is None else None
    if isinstance(x, bool) or isinstance(y, bool):
        if isinstance(x, bool) and isinstance(y, bool):
            return (x > y) - (x < y)
        return None
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        if isinstance(x, int) and isinstance(y, int):
            return (x > y) - (x < y)
        fx, fy = float(x), float(y)
        return 1 if fx > fy else (-1 if fx < fy else 0)
    if isinstance(x, str) and isinstance(y, str):
        bx, by = x.encode("utf-8", "surrogatepass"), y.encode("utf-8", "surrogatepass")
        return (bx > by) - (bx < by)
    return None


def _deep_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and _deep_equal(v, b[k]) for k, v in a.items())
    return bool(a == b)


def _regex(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except (re.error, RecursionError):
        return False


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "==" or op == "!=":
        if isinstance(left, _Value) and isinstance(right, _Value):
            eq = _deep_equal(left.v, right.v)
        else:
            eq = _cmp(left, right) == 0
        return eq if op == "==" else not eq
    if op == "=~":
        if not isinstance(left, _Value) or not isinstance(left.v, str):
            return False
        if isinstance(right, _Str) and not right.escaped:
            return _regex(str(right), left.v)
        if isinstance(right, _Value) and isinstance(right.v, str):
            return _regex(right.v, left.v)
        return False
    c = _cmp(left, right)
    if c is None:
        return False
    return {">": c > 0, ">=": c >= 0, "<": c < 0, "<=": c <= 0}[op]


def select(root: Any, query: Query | str) -> list[tuple[Any, Location]]:
    """Every ``(value, location)`` the query selects, in RedisJSON's order. A location is
    the keys and indexes from the root."""
    q = compile(query) if isinstance(query, str) else query
    calc = _Calc(root)
    calc.run(q.steps, 0, root, ())
    return calc.out


def find(root: Any, path: str) -> list[Any]:
    """Every value ``path`` selects in ``root`` (``$``-rooted JSONPath or a legacy path;
    leading/trailing spaces ignored). ``ValueError`` if it does not compile."""
    return [v for v, _ in select(root, legacy_fixed(path.strip()))]
