"""Evaluating an expression against one row, as RediSearch's ``expression.c`` does.

``evaluate(tree, row, info)`` returns the value or raises
:class:`~store.aggregate.functions.EvalError`. A property the row has no value for raises
:class:`MissingValue` ("x: has no value, consider using EXISTS if applicable") except as
the argument of ``exists``. Arithmetic converts strings to numbers ("Could not convert
value to a number" otherwise); division or modulo by zero gives NaN; ``x % -1`` is 0 and
``%`` works on the integer parts, as in C. ``&&`` and ``||`` short-circuit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from .expr import Call, Expr, Literal, Negation, Operation, Predicate, Property
from .functions import FUNCTIONS, EvalError, RowInfo
from .values import ConversionError, Value, bool_test, compare, equal, to_number

__all__ = ["Compiled", "MissingValue", "compile_expr", "evaluate"]


class MissingValue(EvalError):
    """A property without a value in this row."""


Compiled = Callable[[Mapping[bytes, Value], RowInfo], Value]


def evaluate(tree: Expr, row: Mapping[bytes, Value], info: RowInfo) -> Value:
    """Evaluate once (tests, one-off use); pipelines compile with :func:`compile_expr`."""
    return compile_expr(tree)(row, info)


def compile_expr(tree: Expr) -> Compiled:
    """The expression as a function of (row, info): evaluated per row without re-walking
    the tree."""
    if isinstance(tree, Literal):
        value = tree.value
        return lambda row, info: value
    if isinstance(tree, Property):
        name = tree.name
        message = (
            f"{name.decode('utf-8', 'replace')}: has no value, consider using EXISTS if applicable"
        )

        def prop(row: Mapping[bytes, Value], info: RowInfo) -> Value:
            try:
                return row[name]
            except KeyError:
                raise MissingValue(message) from None

        return prop
    if isinstance(tree, Operation):
        left, right, op = compile_expr(tree.left), compile_expr(tree.right), tree.op

        def arith(row: Mapping[bytes, Value], info: RowInfo) -> Value:
            a, b = left(row, info), right(row, info)
            na = a if isinstance(a, float) else to_number(a)
            nb = b if isinstance(b, float) else to_number(b)
            if na is None or nb is None:
                raise EvalError("Could not convert value to a number")
            return _arith(op, na, nb)

        return arith
    if isinstance(tree, Predicate):
        return _compile_predicate(tree)
    if isinstance(tree, Negation):
        child = compile_expr(tree.child)
        return lambda row, info: 0.0 if bool_test(child(row, info)) else 1.0
    assert isinstance(tree, Call)
    fn = FUNCTIONS[tree.name]
    args = [compile_expr(arg) for arg in tree.args]
    if tree.name == "exists":

        def exists(row: Mapping[bytes, Value], info: RowInfo) -> Value:
            values: list[Value] = []
            for arg in args:
                try:
                    values.append(arg(row, info))
                except MissingValue:
                    values.append(None)
            return fn(info, values)

        return exists
    return lambda row, info: fn(info, [arg(row, info) for arg in args])


def _arith(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b if b != 0 else math.nan
        if op == "^":
            return _pow(a, b)
        # "%": C's (long long)a % (long long)b, truncating toward zero
        if b == -1:
            return 0.0
        ia, ib = _ll(a), _ll(b)
        if ib == 0:
            return math.nan
        rem = abs(ia) % abs(ib)
        return float(-rem if ia < 0 else rem)
    except OverflowError:
        return math.inf


def _ll(d: float) -> int:
    return int(d) if math.isfinite(d) else -(2**63)


def _pow(a: float, b: float) -> float:
    try:
        result = a**b
    except ZeroDivisionError:
        return math.inf
    except OverflowError:
        return math.inf if a > 0 or (float(b).is_integer() and b % 2 == 0) else -math.inf
    return math.nan if isinstance(result, complex) else float(result)


_ORDER: dict[str, Callable[[int], bool]] = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def _compile_predicate(tree: Predicate) -> Compiled:
    left, right, op = compile_expr(tree.left), compile_expr(tree.right), tree.op

    def predicate(row: Mapping[bytes, Value], info: RowInfo) -> Value:
        a = left(row, info)
        if op == "||" and bool_test(a):
            return 1.0
        if op == "&&" and not bool_test(a):
            return 0.0
        b = right(row, info)
        if op in ("&&", "||"):
            result = bool_test(b)
        elif op == "==":
            result = equal(a, b)
        elif op == "!=":
            result = not equal(a, b)
        else:
            try:
                c = compare(a, b)
            except ConversionError as exc:
                raise EvalError(str(exc)) from exc
            result = (
                c < 0 if op == "<" else c <= 0 if op == "<=" else c > 0 if op == ">" else c >= 0
            )
        return 1.0 if result else 0.0

    return predicate
