"""RedisJSON's JSONPath grammar: :func:`compile` turns a ``$``-rooted path into a
:class:`Query` (a list of :class:`Step`), or raises :class:`JsonPathError` with the
message RedisJSON's pest parser gives (``Error occurred on position N, ...``).

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

A quoted string skips spaces after its opening quote (pest's implicit whitespace) and
takes ``\\`` and an escaped quote of its own kind. Error positions count bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["INT64_MAX", "INT64_MIN", "JsonPathError", "Location", "Query", "Step", "compile"]

Location = tuple[str | int, ...]

_LITERAL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_`~+#%$^/:"
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class JsonPathError(ValueError):
    """A path that does not compile; ``str()`` is RedisJSON's message."""


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


# What pest names when a filter's right-hand term is missing (strings are silent rules).
_TERM_RULES = ("decimal", "from_current", "from_root", "boolean_true", "boolean_false", "null")


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
        at = len(path[:pos].encode("utf-8", "surrogatepass"))  # pest counts bytes
        return JsonPathError(f"Error occurred on position {at}, {shown}")

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
            at = self.pos
            filt = self.filter()
            if filt is not None:
                self.expect_after_filter(filt)
                return Step("filter", (filt,))
            if self.far <= at:
                # nothing after "?" parses: pest names the filter rule, at its start
                self.far, self.expected = at, ["single_filter"]
        self.pos = start
        if self.far <= start:
            # an alternative that parsed but does not end the bracket: pest then names
            # only the alternatives tried before it (measured on the peer)
            if rng is not None:  # "[:1.5"
                self.far, self.expected = start, ["'<number>'"]
            elif nums is not None:  # "[01]"
                self.far, self.expected = start, ["['start:end:steps']"]
            elif strs is not None:  # "['a'-1"
                self.far, self.expected = start, ["'<number>'", "['start:end:steps']"]
        return None

    def expect_after_filter(self, filt: list[Any]) -> None:
        """What pest would take after a filter that the bracket's ``]`` does not follow:
        an operator after a lone term, then a relation."""
        save = self.pos
        self.ws()
        if not self.peek("]"):
            last = filt[-1]
            names = ["and", "or"]
            if last[0] == "single" and len(last[1]) == 1:
                names = ["ge", "gt", "le", "lt", "eq", "ne", "re", *names]
            for name in names:
                self.expect(name)
        self.pos = save

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
                for name in _TERM_RULES:
                    self.expect(name)
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
