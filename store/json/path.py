"""RedisJSON's path languages: JSONPath (``$...``) and the legacy ``.path`` syntax.

RedisJSON 2.x compiles both with one grammar (its ``json_path`` crate, a pest grammar):
a path that does not start with ``$`` followed by ``.``/``[``/end is *legacy* and is
rewritten (``.`` -> ``$``, ``.a`` -> ``$.a``, ``a`` -> ``$.a``) before compiling; legacy
only changes reply shapes (first match, error when none), never what is selected.

The grammar, as RedisJSON has it (``' '`` is skipped between tokens)::

    query   = "$" root? EOI
    root    = (element | literal | "*") element*
    element = "." literal | ".." (literal | "*" | "[" bracket "]") | "." "*"
            | "."? "[" bracket "]"
    bracket = range | number ("," number)* | string ("," string)* | "*" | "?" filter
    literal = [A-Za-z0-9-_`~+#%$^/:]+          (no other characters, no Unicode)
    filter  = inner (("&&" | "||") inner)*     (&& binds tighter than ||)
    inner   = term (op term)? | "(" filter ")"
    term    = "@" root? | "$" root? | decimal | string | true | false | null

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
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "JsonPathError",
    "Path",
    "Query",
    "compile",
    "find",
    "is_legacy",
    "legacy_fixed",
    "select",
]

Location = tuple[str | int, ...]

_LITERAL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_`~+#%$^/:"
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class JsonPathError(ValueError):
    """A path that does not compile; ``str()`` is RedisJSON's message."""


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


# ------------------------------------------------------------------------- compiled
@dataclass(frozen=True)
class Step:
    """One element of a compiled path. ``kind`` is one of ``key``, ``keys``, ``index``,
    ``range``, ``all``, ``scan``, ``filter``."""

    kind: str
    args: tuple[Any, ...] = ()


@dataclass
class Query:
    steps: list[Step] = field(default_factory=list)

    @property
    def is_static(self) -> bool:
        """At most one result whatever the document (RedisJSON's ``is_static``)."""
        for step in self.steps:
            if step.kind == "key":
                continue
            if step.kind in ("keys", "index") and len(step.args) == 1:
                continue
            return False
        return True


# The order pest lists what it expected in (by rule declaration in the grammar).
_EXPECTED_ORDER = {
    "EOI": 0,
    "'..'": 1,
    "<string>": 2,
    "'<string>[,<string>,...]'": 3,
    "'<number>'": 4,
    "['start:end:steps']": 5,
    "'*'": 6,
}


class _Fail(Exception):
    pass


class _Parser:
    """Recursive descent over RedisJSON's grammar; errors use its message format."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.far = -1
        self.expected: list[str] = []

    # -- error tracking (pest reports the furthest position and what it expected there)
    def expect(self, what: str, pos: int | None = None) -> _Fail:
        at = self.pos if pos is None else pos
        if at > self.far:
            self.far = at
            self.expected = [what]
        elif at == self.far and what not in self.expected:
            self.expected.append(what)
        return _Fail()

    def error(self) -> JsonPathError:
        pos = max(self.far, 0)
        expected = sorted(self.expected, key=lambda e: _EXPECTED_ORDER.get(e, 99))
        msg = (
            "expected one of the following: " + ", ".join(expected)
            if self.expected
            else "parsing error"
        )
        path = self.text
        if pos >= len(path):
            shown = f'"{path} <<<<----", {msg}.'
        else:
            shown = f'"{path[:pos]} ---->>>> {path[pos:]}", {msg}.'
        return JsonPathError(f"Error occurred on position {pos}, {shown}")

    # -- lexical helpers
    def ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def eat(self, s: str) -> bool:
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            return True
        return False

    # -- rules
    def query(self) -> Query:
        if not self.eat("$"):
            raise self.expect("'$'")
        self.ws()
        steps: list[Step] = []
        if self.pos < len(self.text):
            steps = self.root(first=True)
        self.ws()
        if self.pos < len(self.text):
            self.expect("EOI")
            if steps:
                self.expect("'..'")
            raise self.error()
        return Query(steps)

    def root(self, first: bool) -> list[Step]:
        """``(element | first_element) element*``; stops before what it cannot parse."""
        steps: list[Step] = []
        start = self.pos
        step = self.element()
        if step is None and first:
            self.pos = start
            step = self.first_element()
        if step is None:
            self.pos = start
            return steps
        steps.append(step)
        while True:
            save = self.pos
            self.ws()
            step = self.element()
            if step is None:
                self.pos = save
                return steps
            steps.append(step)

    def first_element(self) -> Step | None:
        lit = self.literal()
        if lit is not None:
            return Step("key", (lit,))
        if self.eat("*"):
            return Step("all")
        self.expect("'*'")
        return None

    def literal(self) -> str | None:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _LITERAL_CHARS:
            self.pos += 1
        if self.pos == start:
            self.expect("<string>")
            return None
        return self.text[start : self.pos]

    def element(self) -> Step | None:
        start = self.pos
        if self.peek(".."):
            self.pos += 2
            after = self.pos
            self.ws()
            lit = self.literal()
            if lit is not None:
                return Step("scan"), Step("key", (lit,))  # type: ignore[return-value]
            if self.eat("*"):
                return Step("scan"), Step("all")  # type: ignore[return-value]
            self.expect("'*'")
            if self.eat("["):
                self.ws()
                inner = self.bracket()
                if inner is not None:
                    self.ws()
                    if self.eat("]"):
                        return Step("scan"), inner  # type: ignore[return-value]
            self.pos = after
            self.pos = start
        if self.eat("."):
            self.ws()
            lit = self.literal()
            if lit is not None:
                return Step("key", (lit,))
            if self.eat("*"):
                return Step("all")
            self.expect("'*'")
            self.pos = start
        # "."? "[" bracket "]"
        self.eat(".")
        self.ws()
        if self.eat("["):
            self.ws()
            inner = self.bracket()
            if inner is not None:
                self.ws()
                if self.eat("]"):
                    return inner
        self.pos = start
        return None

    def number(self) -> int | None:
        m = re.compile(r"-?(?:[1-9][0-9]*|[0-9])").match(self.text, self.pos)
        if m is None:
            self.expect("'<number>'")
            return None
        self.pos = m.end()
        return int(m.group())

    def pos_number(self) -> int | None:
        m = re.compile(r"[1-9][0-9]*").match(self.text, self.pos)
        if m is None:
            self.expect("pos_number")
            return None
        self.pos = m.end()
        return int(m.group())

    def range_step(self) -> int:
        """``((":" pos_number) | ":")?`` after a range's end; 1 if absent."""
        save = self.pos
        self.ws()
        if self.eat(":"):
            after = self.pos
            self.ws()
            step = self.pos_number()
            if step is not None:
                return step
            self.pos = after
            return 1
        self.pos = save
        return 1

    def numbers_range(self) -> Step | None:
        start = self.pos
        # full_range: number ":" number step?
        a = self.number()
        if a is not None:
            self.ws()
            if self.eat(":"):
                mid = self.pos
                self.ws()
                b = self.number()
                if b is not None:
                    return Step("range", ("full", a, b, self.range_step()))
                self.pos = mid
                # left_range: number ":" step?
                return Step("range", ("left", a, None, self.range_step()))
            self.expect("['start:end:steps']", start)
        self.pos = start
        if self.eat(":"):
            mid = self.pos
            self.ws()
            b = self.number()
            if b is not None:
                return Step("range", ("right", None, b, self.range_step()))
            self.pos = mid
            return Step("range", ("all", None, None, self.range_step()))
        self.expect("['start:end:steps']", start)
        self.pos = start
        return None

    def bracket(self) -> Step | None:
        start = self.pos
        rng = self.numbers_range()
        if rng is not None and self._bracket_end():
            return rng
        self.pos = start
        nums = self.listed(self.number)
        if nums is not None and self._bracket_end():
            return Step("index", tuple(nums))
        self.pos = start
        strs = self.listed(self.string)
        if strs is not None and self._bracket_end():
            return Step("keys", tuple(s for s, _ in strs))
        self.pos = start
        if strs is None:
            self.expect("'<string>[,<string>,...]'", start)
        if self.eat("*"):
            return Step("all")
        self.expect("'*'", start)
        if self.eat("?"):
            self.ws()
            filt = self.filter()
            if filt is not None:
                return Step("filter", (filt,))
        self.pos = start
        if nums is not None and self.far <= start:
            # numbers that do not end the bracket ("[01]"): pest names the range only
            self.far, self.expected = start, ["['start:end:steps']"]
        return None

    def _bracket_end(self) -> bool:
        save = self.pos
        self.ws()
        ok = self.peek("]")
        self.pos = save
        return ok

    def listed(self, item: Any) -> list[Any] | None:
        first = item()
        if first is None:
            return None
        out = [first]
        while True:
            save = self.pos
            self.ws()
            if not self.eat(","):
                self.pos = save
                return out
            self.ws()
            nxt = item()
            if nxt is None:
                self.pos = save
                return out
            out.append(nxt)

    def string(self) -> tuple[str, bool] | None:
        """A quoted string: ``(value, escaped)``; leading spaces inside the quotes are
        skipped, as pest's implicit whitespace does."""
        quote = self.text[self.pos : self.pos + 1]
        if quote not in ("'", '"'):
            return None
        start = self.pos
        self.pos += 1
        self.ws()
        out: list[str] = []
        escaped = False
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == quote:
                self.pos += 1
                return "".join(out), escaped
            if ch == "\\":
                nxt = self.text[self.pos + 1 : self.pos + 2]
                if nxt in (quote, "\\"):
                    out.append(nxt)
                    escaped = True
                    self.pos += 2
                    continue
                break
            out.append(ch)
            self.pos += 1
        self.pos = start
        return None

    # -- filters
    def filter(self) -> list[Any] | None:
        first = self.inner_filter()
        if first is None:
            return None
        parts: list[Any] = [first]
        while True:
            save = self.pos
            self.ws()
            if self.eat("&&"):
                rel = "and"
            elif self.eat("||"):
                rel = "or"
            else:
                self.pos = save
                return parts
            self.ws()
            nxt = self.inner_filter()
            if nxt is None:
                self.pos = save
                return parts
            parts += [rel, nxt]

    def inner_filter(self) -> Any:
        start = self.pos
        single = self.single_filter()
        if single is not None:
            return ("single", single)
        self.pos = start
        if self.eat("("):
            self.ws()
            inner = self.filter()
            if inner is not None:
                self.ws()
                if self.eat(")"):
                    return ("group", inner)
        self.pos = start
        return None

    _OPS = (">=", ">", "<=", "<", "==", "!=", "=~")

    def single_filter(self) -> tuple[Any, ...] | None:
        left = self.term()
        if left is None:
            return None
        save = self.pos
        self.ws()
        for op in self._OPS:
            if self.eat(op):
                self.ws()
                right = self.term()
                if right is not None:
                    return (left, op, right)
                break
        self.pos = save
        return (left,)

    def term(self) -> tuple[Any, ...] | None:
        start = self.pos
        for sigil, kind in (("@", "current"), ("$", "root")):
            if self.eat(sigil):
                save = self.pos
                self.ws()
                steps = self.root(first=True) if self.pos < len(self.text) else []
                if not steps:
                    self.pos = save
                return (kind, steps or None)
        m = re.compile(r"-?(?:[1-9][0-9]*|[0-9])(?:\.[0-9]+)?").match(self.text, self.pos)
        if m is not None:
            self.pos = m.end()
            text = m.group()
            try:
                num: int | float = int(text)
                if not INT64_MIN <= num <= INT64_MAX:
                    num = float(text)
            except ValueError:
                num = float(text)
            return ("num", num)
        s = self.string()
        if s is not None:
            return ("str", s[0], s[1])
        for word, value in (("true", True), ("false", False)):
            if self.eat(word):
                return ("bool", value)
        if self.eat("null"):
            return ("null",)
        self.pos = start
        return None


def _flatten(steps: list[Any]) -> list[Step]:
    out: list[Step] = []
    for s in steps:
        if isinstance(s, tuple):
            out.extend(s)
        else:
            out.append(s)
    return out


_CACHE: dict[str, Query] = {}


def compile(path: str) -> Query:
    """The compiled JSONPath (``$``-rooted; call :func:`legacy_fixed` first for legacy
    paths); :class:`JsonPathError` with RedisJSON's message if it does not parse."""
    cached = _CACHE.get(path)
    if cached is not None:
        return cached
    parser = _Parser(path)
    try:
        query = parser.query()
    except _Fail:
        raise parser.error() from None
    query.steps = _flatten(query.steps)
    for step in query.steps:
        if step.kind == "filter":
            _flatten_filter(step.args[0])
    if len(_CACHE) < 1024:
        _CACHE[path] = query
    return query


def _flatten_filter(parts: list[Any]) -> None:
    for part in parts:
        if isinstance(part, tuple) and part[0] == "single":
            for term in part[1]:
                if isinstance(term, tuple) and term[0] in ("current", "root") and term[1]:
                    steps = _flatten(term[1])
                    term[1][:] = steps
                    for s in steps:
                        if s.kind == "filter":
                            _flatten_filter(s.args[0])
        elif isinstance(part, tuple) and part[0] == "group":
            _flatten_filter(part[1])


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
