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
from collections.abc import Mapping

from .expr import Call, Expr, Literal, Negation, Operation, Predicate, Property
from .functions import FUNCTIONS, EvalError, RowInfo
from .values import ConversionError, Value, bool_test, compare, equal, to_number

__all__ = ["MissingValue", "evaluate"]


class MissingValue(EvalError):
    """A property without a value in this row."""


def evaluate(tree: Expr, row: Mapping[bytes, Value], info: RowInfo) -> Value:
    if isinstance(tree, Literal):
        return tree.value
    if isinstance(tree, Property):
        if tree.name not in row:
            raise MissingValue(
                f"{tree.name.decode('utf-8', 'replace')}: has no value, consider using EXISTS "
                "if applicable"
            )
        return row[tree.name]
    if isinstance(tree, Operation):
        left = to_number(evaluate(tree.left, row, info))
        right = to_number(evaluate(tree.right, row, info))
        if left is None or right is None:
            raise EvalError("Could not convert value to a number")
        return _arith(tree.op, left, right)
    if isinstance(tree, Predicate):
        return 1.0 if _predicate(tree, row, info) else 0.0
    if isinstance(tree, Negation):
        return 0.0 if bool_test(evaluate(tree.child, row, info)) else 1.0
    assert isinstance(tree, Call)
    args: list[Value] = []
    for arg in tree.args:
        if tree.name == "exists":
            try:
                args.append(evaluate(arg, row, info))
            except MissingValue:
                args.append(None)
        else:
            args.append(evaluate(arg, row, info))
    return FUNCTIONS[tree.name](info, args)


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


def _predicate(tree: Predicate, row: Mapping[bytes, Value], info: RowInfo) -> bool:
    left = evaluate(tree.left, row, info)
    if tree.op == "||" and bool_test(left):
        return True
    if tree.op == "&&" and not bool_test(left):
        return False
    right = evaluate(tree.right, row, info)
    op = tree.op
    if op in ("&&", "||"):
        return bool_test(right)
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    try:
        c = compare(left, right)
    except ConversionError as exc:
        raise EvalError(str(exc)) from exc
    return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
