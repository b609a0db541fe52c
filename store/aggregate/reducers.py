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


def _prop(name: str, raw: bytes) -> bytes:
    if not raw.startswith(b"@"):
        raise QuerySyntaxError(
            f"Bad arguments for {name}: Unknown property `{raw.decode('utf-8', 'replace')}`. "
            f"Did you mean `@{raw.decode('utf-8', 'replace')}`?"
        )
    return raw[1:]


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
        return ordered[min(len(ordered) - 1, int(self.q * len(ordered)))]


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
            key = (b"n" + format_number(item)) if isinstance(item, float) else b"s" + (to_bytes(item) or b"")
            self.items.setdefault(key, item)

    def result(self) -> Value:
        return list(self.items.values())


class _FirstValue(Accumulator):
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
        key = row.get(self.by)
        if not self.has:
            self.value, self.best, self.has = row.get(self.prop), key, True
            return
        if key is None:
            return
        if self.best is None:
            better = True
        else:
            c = compare(key, self.best, strict=False)
            better = c < 0 if self.ascending else c > 0
        if better:
            self.value, self.best = row.get(self.prop), key

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


def _one_prop(name: str, args: list[bytes]) -> bytes:
    if len(args) != 1:
        raise QuerySyntaxError(f"Bad arguments for {name}: Expected exactly 1 argument(s)" if args
                               else f"Bad arguments for {name}: Expected an argument, but none provided")  # fmt: skip
    return _prop(name, args[0])


def make_reducer(name: bytes, args: list[bytes]) -> ReducerSpec:
    """Check one REDUCE clause and return its spec; RediSearch's errors otherwise."""
    upper = name.decode("utf-8", "replace").upper()
    if upper == "COUNT":
        if args:
            raise QuerySyntaxError("Bad arguments for COUNT: Count accepts 0 values only")
        return ReducerSpec(upper, (), _Count)
    simple: dict[str, type[_Numbers] | type[_Distinct] | type[_ToList]] = {
        "SUM": _Sum, "AVG": _Avg, "MIN": _Min, "MAX": _Max, "STDDEV": _StdDev,
        "COUNT_DISTINCT": _Distinct, "COUNT_DISTINCTISH": _Distinct, "TOLIST": _ToList,
    }  # fmt: skip
    if upper in simple:
        prop = _one_prop(upper, args)
        cls = simple[upper]
        return ReducerSpec(upper, (prop,), lambda: cls(prop))
    if upper == "QUANTILE":
        if len(args) != 2:
            raise QuerySyntaxError("Bad arguments for QUANTILE: Expected an argument, but none provided")
        prop = _prop(upper, args[0])
        q = to_number(args[1])
        if q is None or not 0 <= q <= 1:
            raise QuerySyntaxError("Quantile must be between 0 and 1")
        quantile = q
        return ReducerSpec(upper, (prop,), lambda: _Quantile(prop, quantile))
    if upper == "FIRST_VALUE":
        if not args:
            raise QuerySyntaxError("Bad arguments for FIRST_VALUE: Expected an argument, but none provided")
        prop = _prop(upper, args[0])
        by: bytes | None = None
        ascending = True
        rest = args[1:]
        if rest:
            if rest[0].upper() != b"BY" or len(rest) < 2:
                raise QuerySyntaxError(f"Bad arguments for FIRST_VALUE: Unknown argument `{rest[0].decode('utf-8', 'replace')}`")
            by = _prop(upper, rest[1])
            if len(rest) > 2:
                order = rest[2].upper()
                if order not in (b"ASC", b"DESC") or len(rest) > 3:
                    raise QuerySyntaxError(f"Bad arguments for FIRST_VALUE: Unknown argument `{rest[2].decode('utf-8', 'replace')}`")
                ascending = order == b"ASC"
        props = (prop,) if by is None else (prop, by)
        return ReducerSpec(upper, props, lambda: _FirstValue(prop, by, ascending))
    if upper == "RANDOM_SAMPLE":
        if len(args) != 2:
            raise QuerySyntaxError("Bad arguments for RANDOM_SAMPLE: Expected an argument, but none provided")
        prop = _prop(upper, args[0])
        size = to_number(args[1])
        if size is None or size != int(size) or not 0 < size <= 1000:
            raise QuerySyntaxError("Sample size must be between 1 and 1000")
        n = int(size)
        return ReducerSpec(upper, (prop,), lambda: _Sample(prop, n))
    raise QuerySyntaxError(f"No such reducer: {name.decode('utf-8', 'replace')}")
