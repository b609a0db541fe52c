"""GROUPBY reducers (RediSearch 2.10's ``src/aggregate/reducers``).

``make_reducer(name, args)`` checks a ``REDUCE name nargs args...`` clause and returns a
:class:`ReducerSpec`: the properties it reads and a factory of per-group accumulators.
Each accumulator takes rows (``add``) and gives one value (``result``). Numbers that are
not numbers are skipped by SUM/AVG/MIN/MAX/STDDEV/QUANTILE as RediSearch skips them.

Documented differences: ``COUNT_DISTINCTISH`` counts exactly (RediSearch uses a
HyperLogLog, which is exact at the small cardinalities tests use); ``QUANTILE`` is exact
(RediSearch's stream estimate agrees on small groups); ``TOLIST`` and ``RANDOM_SAMPLE``
keep first-seen order where RediSearch's order follows its hash table.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import QuerySyntaxError
from .argerrors import CONVERT, EXPECTED, bad_args
from .values import Value, compare, format_number, to_bytes, to_number

__all__ = ["Accumulator", "ReducerSpec", "make_reducer"]

Row = Mapping[bytes, Value]


class Accumulator:
    def add(self, row: Row) -> None:
        raise NotImplementedError

    def result(self) -> Value:
        raise NotImplementedError


@dataclass(frozen=True)
class ReducerSpec:
    name: str  # upper case
    properties: tuple[bytes, ...]  # without '@'
    factory: Callable[[], Accumulator]


def _prop(raw: bytes) -> bytes:
    """A reducer's property argument; RediSearch accepts it with or without ``@``."""
    return raw[1:] if raw.startswith(b"@") else raw


def _missing(name: str) -> QuerySyntaxError:
    return QuerySyntaxError(f"Missing arguments for {name}")


def _unknown(name: str, args: list[bytes], pos: int) -> QuerySyntaxError:
    text = args[pos].decode("utf-8", "replace")
    return QuerySyntaxError(f"Unknown argument `{text}` at position {pos} for {name}")


class _Count(Accumulator):
    def __init__(self) -> None:
        self.n = 0

    def add(self, row: Row) -> None:
        self.n += 1

    def result(self) -> Value:
        return float(self.n)


class _Numbers(Accumulator):
    """Collects the numeric values of one property; subclasses fold them."""

    def __init__(self, prop: bytes) -> None:
        self.prop = prop
        self.values: list[float] = []

    def add(self, row: Row) -> None:
        number = to_number(row.get(self.prop))
        if number is not None:
            self.values.append(number)


class _Sum(_Numbers):
    def result(self) -> Value:
        return math.fsum(self.values) if self.values else 0.0


class _Avg(_Numbers):
    def result(self) -> Value:
        return (sum(self.values) / len(self.values)) if self.values else 0.0


class _Min(_Numbers):
    def result(self) -> Value:
        return min(self.values) if self.values else 0.0


class _Max(_Numbers):
    def result(self) -> Value:
        return max(self.values) if self.values else 0.0


class _StdDev(_Numbers):
    def result(self) -> Value:
        n = len(self.values)
        if n < 2:
            return 0.0
        mean = sum(self.values) / n
        return math.sqrt(sum((v - mean) ** 2 for v in self.values) / (n - 1))


class _Quantile(_Numbers):
    def __init__(self, prop: bytes, q: float) -> None:
        super().__init__(prop)
        self.q = q

    def result(self) -> Value:
        if not self.values:
            return 0.0
        ordered = sorted(self.values)
        return ordered[max(0, math.ceil(self.q * len(ordered)) - 1)]


class _Distinct(Accumulator):
    def __init__(self, prop: bytes) -> None:
        self.prop = prop
        self.seen: set[bytes] = set()

    def add(self, row: Row) -> None:
        value = row.get(self.prop)
        text = to_bytes(value)
        if text is not None:
            self.seen.add(text)

    def result(self) -> Value:
        return float(len(self.seen))


class _ToList(Accumulator):
    def __init__(self, prop: bytes) -> None:
        self.prop = prop
        self.items: dict[bytes, Value] = {}

    def add(self, row: Row) -> None:
        value = row.get(self.prop)
        if value is None:
            return
        for item in value if isinstance(value, list) else [value]:
            key = (
                (b"n" + format_number(item))
                if isinstance(item, float)
                else b"s" + (to_bytes(item) or b"")
            )
            self.items.setdefault(key, item)

    def result(self) -> Value:
        return list(self.items.values())


class _FirstValue(Accumulator):
    """RediSearch's ``first_value.c``, quirks included: with BY, rows without the value are
    skipped, a missing sort value counts as null, and a null best is replaced only when
    sorting ascending."""

    def __init__(self, prop: bytes, by: bytes | None, ascending: bool) -> None:
        self.prop, self.by, self.ascending = prop, by, ascending
        self.value: Value = None
        self.best: Value = None
        self.has = False

    def add(self, row: Row) -> None:
        if self.by is None:
            if not self.has:
                self.value, self.has = row.get(self.prop), True
            return
        if self.prop not in row:
            return
        value = row[self.prop]
        key = row.get(self.by)
        if not self.has:
            self.value, self.best, self.has = value, key, True
            return
        rc = (-1 if self.ascending else 1) * compare(key, self.best, strict=False)
        if (self.best is not None and rc > 0) or (self.best is None and rc < 0):
            self.value, self.best = value, key

    def result(self) -> Value:
        return self.value


class _Sample(Accumulator):
    def __init__(self, prop: bytes, size: int) -> None:
        self.prop, self.size = prop, size
        self.items: list[Value] = []
        self.seen = 0
        self.rng = random.Random()

    def add(self, row: Row) -> None:
        value = row.get(self.prop)
        if value is None:
            return
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(value)
        else:
            i = self.rng.randrange(self.seen)
            if i < self.size:
                self.items[i] = value

    def result(self) -> Value:
        return list(self.items)


def make_reducer(name: bytes, args: list[bytes]) -> ReducerSpec:
    """Check one REDUCE clause and return its spec; RediSearch's errors otherwise."""
    typed = name.decode("utf-8", "replace")
    upper = typed.upper()
    if upper == "COUNT":
        if args:
            raise QuerySyntaxError("Count accepts 0 values only")
        return ReducerSpec(upper, (), _Count)
    simple: dict[str, type[_Numbers] | type[_Distinct] | type[_ToList]] = {
        "SUM": _Sum, "AVG": _Avg, "MIN": _Min, "MAX": _Max, "STDDEV": _StdDev,
        "COUNT_DISTINCT": _Distinct, "COUNT_DISTINCTISH": _Distinct, "TOLIST": _ToList,
    }  # fmt: skip
    known = set(simple) | {"QUANTILE", "FIRST_VALUE", "RANDOM_SAMPLE"}
    if upper not in known:
        raise QuerySyntaxError(f"No such reducer: {typed}")
    if not args:
        raise _missing(typed)
    prop = _prop(args[0])
    if upper in simple:  # RediSearch ignores extra arguments of these
        cls = simple[upper]
        return ReducerSpec(upper, (prop,), lambda: cls(prop))
    if upper == "QUANTILE":
        if len(args) < 2:
            raise bad_args("QUANTILE", EXPECTED)
        q = to_number(args[1])
        if q is None or math.isinf(q):
            raise bad_args("QUANTILE", CONVERT)
        if not 0 <= q <= 1:  # NaN too
            raise QuerySyntaxError("Percentage must be between 0.0 and 1.0")
        if len(args) > 3:
            raise _unknown(typed, args, 3)
        quantile = q
        return ReducerSpec(upper, (prop,), lambda: _Quantile(prop, quantile))
    if upper == "FIRST_VALUE":
        by: bytes | None = None
        ascending = True
        pos = 1
        if pos < len(args) and args[pos].upper() == b"BY":
            if pos + 1 >= len(args):
                raise _missing(typed)
            by = _prop(args[pos + 1])
            pos += 2
            if pos < len(args) and args[pos].upper() in (b"ASC", b"DESC"):
                ascending = args[pos].upper() == b"ASC"
                pos += 1
        if pos < len(args):
            raise _unknown(typed, args, pos)
        props = (prop,) if by is None else (prop, by)
        return ReducerSpec(upper, props, lambda: _FirstValue(prop, by, ascending))
    # RANDOM_SAMPLE
    if len(args) < 2:
        raise bad_args("<sample size>", EXPECTED)
    size = args[1]
    digits = size[1:] if size[:1] == b"-" else size
    # RediSearch reads it with strtoll: 2^63-1 and beyond count as unreadable
    if not digits.isdigit() or not -(2**63) <= int(size) < 2**63 - 1:
        raise bad_args("<sample size>", CONVERT)
    if not 0 <= int(size) <= 2**32 - 1:
        raise bad_args("<sample size>", "Value is outside acceptable bounds")
    if int(size) > 1000:
        raise QuerySyntaxError("Sample size too large")
    if len(args) > 2:
        raise _unknown(typed, args, 2)
    n = int(size)
    return ReducerSpec(upper, (prop,), lambda: _Sample(prop, n))
